#include "sim/internal/csv.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <system_error>

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

Status CsvFileReader::open(const std::filesystem::path& path,
                           const std::vector<std::string>& columns) {
  file_ = path.string();
  in_.open(path, std::ios::binary);
  if (!in_) {
    return Error(
        ErrorCode::kNotFound,
        "cannot read " + file_ + ": " + std::error_code(errno, std::generic_category()).message());
  }
  const CsvRecord* header = next_record();
  if (header == nullptr) {
    problems_.add({file_, 1, 0}, "missing the header row");
    return finish();
  }
  header_ = header->fields;
  for (const std::string& c : columns) {
    auto at = std::find(header_.begin(), header_.end(), c);
    if (at == header_.end()) {
      problems_.add({file_, header->line, 0}, "missing column '" + c + "'");
    } else {
      index_[c] = static_cast<std::size_t>(at - header_.begin());
    }
  }
  return finish();
}

const CsvRecord* CsvFileReader::next() {
  for (;;) {
    const CsvRecord* r = next_record();
    if (r == nullptr || problems_.size() >= kMaxProblems) return nullptr;
    if (r->fields.size() == header_.size()) return r;
    bad(*r, "expected " + std::to_string(header_.size()) + " fields as in the header, got " +
                std::to_string(r->fields.size()));
  }
}

double CsvFileReader::number(const CsvRecord& row, const std::string& column) {
  auto v = parse_number<double>(cell(row, column));
  if (!v || !std::isfinite(*v)) {
    bad(row, "'" + column + "' must be a number, got '" + cell(row, column) + "'");
    return 0;
  }
  return *v;
}

std::optional<Instant> CsvFileReader::instant(const CsvRecord& row, const std::string& column,
                                              bool may_be_empty) {
  const std::string& text = cell(row, column);
  if (may_be_empty && text.empty()) return std::nullopt;
  auto t = parse_instant(text);
  if (!t) {
    bad(row, "'" + column + "': " + t.error().message());
    return std::nullopt;
  }
  return *t;
}

void CsvFileReader::bad(const CsvRecord& row, const std::string& message) {
  problems_.add({file_, row.line, 0}, message);
}

Status CsvFileReader::finish() const {
  if (problems_.empty()) return ok();
  return Error::invalid_input(file_ + ": " + std::to_string(problems_.size()) +
                                  (problems_.size() >= kMaxProblems ? " or more" : "") +
                                  " problems",
                              problems_.sorted());
}

const CsvRecord* CsvFileReader::next_record() {
  while (at_ >= records_.size()) {
    if (!refill()) return nullptr;
  }
  return &records_[at_++];
}

bool CsvFileReader::refill() {
  records_.clear();
  at_ = 0;
  if (done_) return false;
  static constexpr std::size_t kChunk = 1 << 20;
  std::size_t cut = 0;
  while (cut == 0) {
    const std::size_t old = pending_.size();
    pending_.resize(old + kChunk);
    in_.read(pending_.data() + old, static_cast<std::streamsize>(kChunk));
    pending_.resize(old + static_cast<std::size_t>(in_.gcount()));
    const bool end = !in_;
    // Quotes toggle (a doubled quote toggles twice); a line end outside
    // quotes ends a record. pending_ starts at a record boundary, so from the
    // last such line end on, quoted_ is also the state of what is left.
    for (std::size_t i = scanned_; i < pending_.size(); ++i) {
      if (pending_[i] == '"') {
        quoted_ = !quoted_;
      } else if (pending_[i] == '\n' && !quoted_) {
        cut = i + 1;
      }
    }
    scanned_ = pending_.size();
    if (end) {
      cut = pending_.size();  // (may be 0: the file ended at a record's end)
      done_ = true;
      break;
    }
  }
  std::string_view text(pending_.data(), cut);
  records_ = split_csv(text, file_, problems_);
  for (auto& r : records_) r.line += line_offset_;
  line_offset_ += static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  pending_.erase(0, cut);
  scanned_ = pending_.size();
  return true;
}

}  // namespace straits::sim::internal
