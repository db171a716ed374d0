#include "sim/internal/csv.h"

#include "sim/internal/text.h"

namespace straits::sim::internal {

std::vector<CsvRecord> split_csv(std::string_view text, const std::string& file,
                                 Diagnostics& diagnostics) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark
  std::vector<CsvRecord> records;
  CsvRecord record{1, {}};
  std::string field, bad;  // bad: why the record is unusable, if it is
  enum { kStart, kPlain, kQuoted, kClosed } state = kStart;  // in the current field
  int line = 1;
  auto end_field = [&] {
    record.fields.push_back(state == kPlain ? std::string(trim(field)) : field);
    field.clear();
    state = kStart;
  };
  auto end_record = [&] {
    end_field();
    if (!bad.empty()) {
      diagnostics.add({file, record.line, 0}, "bad CSV quoting: " + bad);
    } else if (!(record.fields.size() == 1 && is_blank(record.fields[0]))) {
      records.push_back(std::move(record));
    }
    record = CsvRecord{line + 1, {}};
    bad.clear();
  };
  auto fail = [&](const std::string& why, const std::string& hint) {
    if (bad.empty()) bad = why + std::to_string(record.fields.size() + 1) + hint;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (state == kQuoted) {
      if (c != '"') {
        if (c == '\n') ++line;
        field += c;
      } else if (i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        state = kClosed;
      }
    } else if (c == ',') {
      end_field();
    } else if (c == '\n') {
      end_record();
      ++line;
    } else if (c == '"' && state == kStart) {
      state = kQuoted;
    } else if (c == '\r') {
      continue;  // of a CRLF line end
    } else if (c == ' ' || c == '\t') {
      if (state == kPlain) field += c;
    } else if (state == kClosed) {
      fail("text after the closing quote of field ", "");
    } else {
      if (c == '"') fail("a quote inside unquoted field ", " (quote the field and double it)");
      field += c;
      state = kPlain;
    }
  }
  if (state == kQuoted) {
    diagnostics.add({file, record.line, 0}, "bad CSV quoting: a quoted field is not closed");
    return records;
  }
  if (!record.fields.empty() || !field.empty() || state != kStart) end_record();
  return records;
}

std::string csv_cell(const std::string& text) {
  std::string out;
  append_csv_cell(out, text);
  return out;
}

void append_csv_cell(std::string& out, const std::string& text) {
  bool quote =
      text.find_first_of(",\"\r\n") != std::string::npos || trim(text).size() != text.size();
  if (!quote) {
    out += text;
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace straits::sim::internal
