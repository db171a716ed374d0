#include "sim/workload.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <type_traits>

#include "core/strings.h"
#include "sim/internal/csv.h"
#include "sim/internal/output.h"
#include "sim/internal/text.h"

namespace straits::sim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// How a field is written: JSON values of the wrong type are refused before
// any text is parsed, so that 8.0 is not taken for the integer 8.
enum class Kind { kText, kInteger, kNumber, kList, kInstantOrSeconds };

struct Field {
  const char* name;
  Kind kind;
  bool required;
};

// The fields of a job, in the order of docs/scenarios.md: the CSV header and
// the JSONL key order. Written to disk; add at the end, never reorder.
// clang-format off
constexpr Field kFields[] = {
    {"id",                  Kind::kText,             true},
    {"submit",              Kind::kInstantOrSeconds, true},
    {"org",                 Kind::kText,             true},
    {"team",                Kind::kText,             false},
    {"gpus",                Kind::kInteger,          true},
    {"chips",               Kind::kList,             false},
    {"work",                Kind::kNumber,           true},
    {"model",               Kind::kText,             false},
    {"priority",            Kind::kInteger,          false},
    {"checkpoint_interval", Kind::kText,             false},
    {"checkpoint_gb",       Kind::kNumber,           false},
    {"datasets",            Kind::kList,             false},
    {"purpose",             Kind::kText,             false},
    {"deadline",            Kind::kText,             false},
    {"site_order",          Kind::kList,             false},
    {"allow_sites",         Kind::kList,             false},
    {"deny_sites",          Kind::kList,             false},
    {"max_price",           Kind::kText,             false},
};
// clang-format on

const std::vector<std::string>& field_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Field& f : kFields) out.emplace_back(f.name);
    return out;
  }();
  return names;
}

const Field* find_field(const std::string& name) {
  for (const Field& f : kFields) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

constexpr Duration kDefaultCheckpointInterval = Duration::hours(2);
const std::string kDefaultTeam = "default";
const std::string kDefaultPurpose = "training";
// Numeric submit times beyond this many seconds from the origin (about
// 3,000 years) cannot be real and would overflow the microsecond count.
constexpr double kMaxSubmitSeconds = 1e11;

using internal::csv_cell;
using internal::CsvRecord;
using internal::is_blank;
using internal::parse_number;
using internal::split_csv;
using internal::trim;

// The shortest text that reads back as exactly `value`.
std::string shortest(double value) {
  std::string out;
  internal::append_shortest(out, value);
  return out;
}

// A field's value as text (numbers in a form that reads back exactly) or,
// for a list, its items. Both formats become cells, so one parser checks
// the values of both.
struct Cell {
  std::string text;
  std::vector<std::string> items;
  bool bad = false;  // of the wrong JSON type: already reported
};
using Cells = std::map<std::string, Cell>;

// One input row: typed, checked access to its cells. A getter returns
// nothing when the field is absent or bad, and reports a bad value on the
// row's line.
class Row {
 public:
  Row(Cells cells, Diagnostics& diagnostics, SourceLocation where)
      : cells_(std::move(cells)), diagnostics_(diagnostics), where_(std::move(where)) {}

  bool has(const std::string& name) const { return cells_.count(name) != 0; }

  std::optional<std::string> text(const std::string& name) const {
    const Cell* c = find(name);
    return c ? std::optional(c->text) : std::nullopt;
  }
  // An integer (T = std::int64_t) or a finite number (T = double).
  template <typename T>
  std::optional<T> number(const std::string& name) {
    const Cell* c = find(name);
    if (!c) return std::nullopt;
    auto n = parse_number<T>(c->text);
    if (n && std::isfinite(static_cast<double>(*n))) return n;
    error("'" + name + "' must be " + (std::is_integral_v<T> ? "an integer" : "a number") +
          ", got '" + c->text + "'");
    return std::nullopt;
  }
  // Ids; an empty item is an error.
  template <typename IdT>
  std::vector<IdT> ids(const std::string& name) {
    const Cell* c = find(name);
    std::vector<IdT> out;
    for (const std::string& item : c ? c->items : std::vector<std::string>{}) {
      if (item.empty()) {
        error("'" + name + "' has an empty item");
        return {};
      }
      out.emplace_back(item);
    }
    return out;
  }
  // An ISO 8601 instant, or a number of seconds from `origin`.
  std::optional<Instant> instant_or_seconds(const std::string& name, Instant origin) {
    const Cell* c = find(name);
    if (!c) return std::nullopt;
    if (auto seconds = parse_number<double>(c->text)) {
      if (std::isfinite(*seconds) && std::fabs(*seconds) <= kMaxSubmitSeconds) {
        return origin + Duration::from_seconds(*seconds);
      }
      error("'" + name + "' is out of range");
      return std::nullopt;
    }
    return parsed(name, parse_instant(c->text));
  }
  // The value of a text field given to `parse` (parse_duration, ...).
  template <typename T>
  std::optional<T> parsed(const std::string& name, Result<T> value) {
    if (value) return *value;
    error("'" + name + "': " + value.error().message());
    return std::nullopt;
  }
  // A non-empty text field; absent gives `fallback`.
  std::optional<std::string> nonempty(const std::string& name, const std::string& fallback) {
    if (!has(name)) return fallback;
    auto value = text(name);
    if (value && value->empty()) {
      error("'" + name + "' must not be empty");
      return std::nullopt;
    }
    return value;
  }
  // Reports `message` unless `ok`; returns `ok`.
  bool check(bool ok, const std::string& message) {
    if (!ok) error(message);
    return ok;
  }
  void error(const std::string& message) {
    ok_ = false;
    diagnostics_.add(where_, message);
  }
  bool ok() const { return ok_; }

 private:
  const Cell* find(const std::string& name) const {
    auto it = cells_.find(name);
    return it == cells_.end() || it->second.bad ? nullptr : &it->second;
  }

  Cells cells_;
  Diagnostics& diagnostics_;
  SourceLocation where_;
  bool ok_ = true;
};

// Builds a job from a row, checking every field; nothing when any is bad
// (all its problems are reported).
std::optional<sched::Job> build_job(Row& row, Instant origin) {
  for (const Field& f : kFields) {
    if (f.required && !row.has(f.name)) {
      row.error("missing required field '" + std::string(f.name) + "'");
    }
  }
  sched::Job job;
  if (auto id = row.nonempty("id", "")) job.id = JobId(*id);
  if (auto submit = row.instant_or_seconds("submit", origin)) job.submit = *submit;
  if (auto org = row.nonempty("org", "")) job.org = OrgId(*org);
  if (auto team = row.nonempty("team", kDefaultTeam)) job.team = *team;
  if (auto n = row.number<std::int64_t>("gpus");
      n && row.check(*n > 0 && *n <= INT_MAX,
                     "'gpus' must be an integer > 0, got " + std::to_string(*n))) {
    job.gpus = static_cast<int>(*n);
  }
  job.eligible_chips = row.ids<ChipId>("chips");
  if (auto w = row.number<double>("work");
      w && row.check(*w > 0, "'work' must be > 0, got " + shortest(*w))) {
    job.work = *w;
  }
  job.model = row.text("model").value_or("");
  if (auto n = row.number<std::int64_t>("priority");
      n && row.check(*n >= INT_MIN && *n <= INT_MAX, "'priority' is out of range")) {
    job.priority = static_cast<int>(*n);
  }
  if (auto text = row.text("checkpoint_interval")) {
    auto d = row.parsed("checkpoint_interval", parse_duration(*text));
    if (d && row.check(*d >= Duration(),
                       "'checkpoint_interval' must not be negative, got '" + *text + "'")) {
      job.checkpoint_interval = *d;
    }
  }
  if (auto gb = row.number<double>("checkpoint_gb");
      gb && row.check(*gb >= 0, "'checkpoint_gb' must be >= 0, got " + shortest(*gb))) {
    job.checkpoint_gb = *gb;
  }
  job.datasets = row.ids<DatasetId>("datasets");
  if (auto purpose = row.nonempty("purpose", kDefaultPurpose)) job.purpose = *purpose;
  if (auto text = row.text("deadline")) job.deadline = row.parsed("deadline", parse_instant(*text));
  job.preferences.site_order = row.ids<SiteId>("site_order");
  job.preferences.allow_sites = row.ids<SiteId>("allow_sites");
  job.preferences.deny_sites = row.ids<SiteId>("deny_sites");
  if (auto text = row.text("max_price")) {
    auto price = row.parsed("max_price", parse_money(*text));
    if (price &&
        row.check(price->micros() >= 0, "'max_price' must not be negative, got '" + *text + "'")) {
      job.preferences.max_price_per_gpu_hour = *price;
    }
  }
  if (!row.ok()) return std::nullopt;
  return job;
}

bool fits(Kind kind, const json& v) {
  switch (kind) {
    case Kind::kText: return v.is_string();
    case Kind::kInteger: return v.is_number_integer();
    case Kind::kNumber: return v.is_number();
    case Kind::kInstantOrSeconds: return v.is_string() || v.is_number();
    case Kind::kList:
      return v.is_array() &&
             std::all_of(v.begin(), v.end(), [](const json& item) { return item.is_string(); });
  }
  return false;
}

std::string expected(Kind kind) {
  switch (kind) {
    case Kind::kText: return "a string";
    case Kind::kInteger: return "an integer";
    case Kind::kNumber: return "a number";
    case Kind::kInstantOrSeconds: return "an ISO 8601 string or a number of seconds";
    case Kind::kList: return "an array of strings";
  }
  return "";
}

// A JSONL object's fields as cells, refusing unknown fields and values of
// the wrong JSON type.
Cells json_cells(const json& object, Row& errors) {
  Cells cells;
  for (const auto& [name, v] : object.items()) {
    const Field* field = find_field(name);
    if (!field) {
      errors.error("unknown field '" + name + "'" + did_you_mean(name, field_names()));
      continue;
    }
    Cell& cell = cells[name];
    if (!fits(field->kind, v)) {
      std::string shown = v.dump();  // as written: "8" is a string
      if (shown.size() > 40) shown.replace(37, std::string::npos, "...");
      errors.error("'" + name + "' must be " + expected(field->kind) + ", got " + shown);
      cell.bad = true;
    } else if (v.is_array()) {
      for (const json& item : v) cell.items.push_back(item.get<std::string>());
    } else {
      cell.text = v.is_string()           ? v.get<std::string>()
                  : v.is_number_integer() ? v.dump()
                                          : shortest(v.get<double>());
    }
  }
  return cells;
}

// A CSV row's cells: an empty cell is an absent field; lists are split at ';'.
Cells csv_cells(const std::vector<std::string>& header, const std::vector<std::string>& fields) {
  Cells cells;
  for (std::size_t c = 0; c < header.size(); ++c) {
    if (fields[c].empty()) continue;
    Cell& cell = cells[header[c]];
    cell.text = fields[c];
    if (find_field(header[c])->kind != Kind::kList) continue;
    std::string_view rest = fields[c];
    while (true) {
      std::size_t semicolon = rest.find(';');
      cell.items.emplace_back(trim(rest.substr(0, semicolon)));
      if (semicolon == std::string_view::npos) break;
      rest.remove_prefix(semicolon + 1);
    }
  }
  return cells;
}

std::vector<std::optional<sched::Job>> read_csv(const std::string& text, const std::string& file,
                                                Instant origin, Diagnostics& diagnostics,
                                                std::vector<int>& lines) {
  std::vector<std::optional<sched::Job>> jobs;
  std::vector<CsvRecord> records = split_csv(text, file, diagnostics);
  if (records.empty()) {
    if (diagnostics.empty()) diagnostics.add({file, 1, 0}, "missing the header row");
    return jobs;
  }
  const CsvRecord& header = records.front();
  const SourceLocation header_at{file, header.line, 0};
  const std::size_t before = diagnostics.size();
  std::map<std::string, int> seen;
  for (const std::string& name : header.fields) {
    if (!find_field(name)) {
      diagnostics.add(header_at,
                      "unknown column '" + name + "'" + did_you_mean(name, field_names()));
    }
    if (++seen[name] == 2) diagnostics.add(header_at, "duplicate column '" + name + "'");
  }
  for (const Field& f : kFields) {
    if (f.required && !seen.count(f.name)) {
      diagnostics.add(header_at, "missing required column '" + std::string(f.name) + "'");
    }
  }
  // A bad header makes every row meaningless: report it alone.
  if (diagnostics.size() != before) return jobs;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& record = records[r];
    SourceLocation where{file, record.line, 0};
    if (record.fields.size() != header.fields.size()) {
      diagnostics.add(where, "expected " + std::to_string(header.fields.size()) +
                                 " fields as in the header, got " +
                                 std::to_string(record.fields.size()));
      continue;
    }
    Row row(csv_cells(header.fields, record.fields), diagnostics, where);
    jobs.push_back(build_job(row, origin));
    lines.push_back(record.line);
  }
  return jobs;
}

// --- JSONL -------------------------------------------------------------------

// nlohmann's message without its "[json.exception...] parse error at line
// 1, column N: " prefix; the column is reported as the diagnostic's.
std::string short_parse_message(const std::string& what) {
  std::size_t at = what.find("column ");
  if (at != std::string::npos) {
    std::size_t colon = what.find(": ", at);
    if (colon != std::string::npos) return what.substr(colon + 2);
  }
  return what;
}

std::vector<std::optional<sched::Job>> read_jsonl(const std::string& text, const std::string& file,
                                                  Instant origin, Diagnostics& diagnostics,
                                                  std::vector<int>& lines) {
  std::vector<std::optional<sched::Job>> jobs;
  std::istringstream in(text);
  std::string line_text;
  int line = 0;
  while (std::getline(in, line_text)) {
    ++line;
    if (!line_text.empty() && line_text.back() == '\r') line_text.pop_back();
    if (is_blank(line_text)) continue;
    json object;
    try {
      object = json::parse(line_text);
    } catch (const json::parse_error& e) {
      int column = static_cast<int>(std::min<std::size_t>(e.byte, line_text.size() + 1));
      diagnostics.add({file, line, column}, "invalid JSON: " + short_parse_message(e.what()));
      continue;
    }
    SourceLocation where{file, line, 0};
    if (!object.is_object()) {
      diagnostics.add(where, "expected a JSON object, one job per line");
      continue;
    }
    // Type errors go to a row of their own, then count against the job's.
    Row typed({}, diagnostics, where);
    Row row(json_cells(object, typed), diagnostics, where);
    std::optional<sched::Job> job = build_job(row, origin);
    jobs.push_back(typed.ok() ? std::move(job) : std::nullopt);
    lines.push_back(line);
  }
  return jobs;
}

Result<std::string> read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream buffer;
  if (in) buffer << in.rdbuf();
  if (!in) {
    std::error_code ec;
    return Error(fs::exists(file, ec) ? ErrorCode::kUnavailable : ErrorCode::kNotFound,
                 "cannot read workload " + file.string());
  }
  return buffer.str();
}

enum class Format { kJsonl, kCsv };

Result<Format> format_of(const fs::path& file) {
  if (file.extension() == ".jsonl") return Format::kJsonl;
  if (file.extension() == ".csv") return Format::kCsv;
  return Error(ErrorCode::kInvalidArgument,
               "workload " + file.string() + ": the file name must end in .jsonl or .csv");
}

// --- writing -----------------------------------------------------------------

template <typename IdT>
Cell list_cell(const std::vector<IdT>& ids) {
  Cell cell;
  for (const IdT& id : ids) cell.items.push_back(id.str());
  return cell;
}

Cell text_cell(std::string text) {
  return Cell{std::move(text), {}, false};
}

// A job's fields in the order of kFields, each with whether it holds its
// default (JSONL leaves those out).
std::vector<std::pair<Cell, bool>> job_cells(const sched::Job& job) {
  const sched::Preferences& p = job.preferences;
  const auto& price = p.max_price_per_gpu_hour;
  const Duration interval = job.checkpoint_interval;
  return {
      {text_cell(job.id.str()), false},
      {text_cell(to_iso8601(job.submit)), false},
      {text_cell(job.org.str()), false},
      {text_cell(job.team), job.team == kDefaultTeam},
      {text_cell(std::to_string(job.gpus)), false},
      {list_cell(job.eligible_chips), job.eligible_chips.empty()},
      {text_cell(shortest(job.work)), false},
      {text_cell(job.model), job.model.empty()},
      {text_cell(std::to_string(job.priority)), job.priority == 0},
      {text_cell(to_human(interval)), interval == kDefaultCheckpointInterval},
      {text_cell(shortest(job.checkpoint_gb)), job.checkpoint_gb == 0},
      {list_cell(job.datasets), job.datasets.empty()},
      {text_cell(job.purpose), job.purpose == kDefaultPurpose},
      {text_cell(job.deadline ? to_iso8601(*job.deadline) : ""), !job.deadline},
      {list_cell(p.site_order), p.site_order.empty()},
      {list_cell(p.allow_sites), p.allow_sites.empty()},
      {list_cell(p.deny_sites), p.deny_sites.empty()},
      {text_cell(price ? to_string(*price) : ""), !price},
  };
}

// A JSON string literal. By hand (as is the line): nlohmann's DOM costs more
// than the rest of a million-job simulation's output.
void append_json_string(std::string& out, const std::string& text) {
  out.push_back('"');
  // Runs of characters that need no escape are copied whole.
  auto plain = [](char c) {
    return c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  };
  std::size_t from = 0;
  while (true) {
    std::size_t to = from;
    while (to < text.size() && plain(text[to])) ++to;
    out.append(text, from, to - from);
    if (to == text.size()) break;
    const char c = text[to];
    from = to + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: {  // another control character
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
        out += buffer;
      }
    }
  }
  out.push_back('"');
}

// The place of a field in kFields (at compile time: an unknown name does
// not compile).
consteval std::size_t field(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kFields); ++i) {
    if (name == kFields[i].name) return i;
  }
  throw "no such field";
}

constexpr std::size_t kFieldCount = std::size(kFields);

// Each field's `"name":`, as a JSONL line spells it.
std::vector<std::string> json_keys() {
  std::vector<std::string> keys;
  keys.reserve(kFieldCount);
  for (const Field& f : kFields) keys.push_back(std::string("\"") + f.name + "\":");
  return keys;
}
const std::vector<std::string> kJsonKeys = json_keys();

// The fields of kFields that differ from their defaults, in its order, as
// one line appended to `out`. Written directly (not through job_cells): a
// million-job run writes a million of these.
void append_jsonl_line(std::string& out, const sched::Job& job) {
  const std::size_t start = out.size();
  out.push_back('{');
  auto key = [&out, start](std::size_t f) {
    if (out.size() > start + 1) out.push_back(',');
    out += kJsonKeys[f];
  };
  auto text = [&](std::size_t f, const std::string& value) {
    key(f);
    append_json_string(out, value);
  };
  auto integer = [&](std::size_t f, long long value) {
    key(f);
    internal::append_int(out, value);
  };
  auto number = [&](std::size_t f, double value) {
    key(f);
    internal::append_shortest(out, value);  // as to_chars writes it: valid JSON
  };
  auto list = [&](std::size_t f, const auto& ids) {
    if (ids.empty()) return;
    key(f);
    out.push_back('[');
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (k > 0) out.push_back(',');
      append_json_string(out, ids[k].str());
    }
    out.push_back(']');
  };
  const sched::Preferences& p = job.preferences;
  text(field("id"), job.id.str());
  key(field("submit"));
  out += '"';
  append_iso8601(out, job.submit);  // nothing in it to escape
  out += '"';
  text(field("org"), job.org.str());
  if (job.team != kDefaultTeam) text(field("team"), job.team);
  integer(field("gpus"), job.gpus);
  list(field("chips"), job.eligible_chips);
  number(field("work"), job.work);
  if (!job.model.empty()) text(field("model"), job.model);
  if (job.priority != 0) integer(field("priority"), job.priority);
  if (job.checkpoint_interval != kDefaultCheckpointInterval) {
    // Most jobs of a workload share a few intervals: the last text is kept.
    thread_local Duration last_interval = Duration::microseconds(-1);
    thread_local std::string last_interval_text;
    if (job.checkpoint_interval != last_interval) {
      last_interval = job.checkpoint_interval;
      last_interval_text = to_human(last_interval);
    }
    text(field("checkpoint_interval"), last_interval_text);
  }
  if (job.checkpoint_gb != 0) number(field("checkpoint_gb"), job.checkpoint_gb);
  list(field("datasets"), job.datasets);
  if (job.purpose != kDefaultPurpose) text(field("purpose"), job.purpose);
  if (job.deadline) text(field("deadline"), to_iso8601(*job.deadline));
  list(field("site_order"), p.site_order);
  list(field("allow_sites"), p.allow_sites);
  list(field("deny_sites"), p.deny_sites);
  if (p.max_price_per_gpu_hour) text(field("max_price"), to_string(*p.max_price_per_gpu_hour));
  out += "}\n";
}

// Every field, lists joined by ';': an item holding ';' or spaces at its
// ends (or empty) would read back differently, so it cannot be written.
Result<std::string> csv_line(const sched::Job& job) {
  const auto cells = job_cells(job);
  std::string out;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    std::string text = cells[i].first.text;
    for (const std::string& item : cells[i].first.items) {
      if (item.empty() || item.find(';') != std::string::npos || trim(item).size() != item.size()) {
        return Error(ErrorCode::kInvalidArgument, "job '" + job.id.str() + "': '" +
                                                      kFields[i].name + "' item '" + item +
                                                      "' cannot be written to CSV");
      }
      if (!text.empty()) text += ';';
      text += item;
    }
    if (i > 0) out += ',';
    out += csv_cell(text);
  }
  return out + "\n";
}

}  // namespace

Result<std::vector<sched::Job>> read_workload(const fs::path& file, Instant origin) {
  STRAITS_ASSIGN_OR_RETURN(Format format, format_of(file));
  STRAITS_ASSIGN_OR_RETURN(std::string text, read_text(file));
  const std::string name = file.string();
  Diagnostics diagnostics;
  std::vector<int> lines;  // the line of each parsed row, for duplicate ids
  std::vector<std::optional<sched::Job>> rows =
      format == Format::kJsonl ? read_jsonl(text, name, origin, diagnostics, lines)
                               : read_csv(text, name, origin, diagnostics, lines);

  std::map<std::string, int> first_line;
  std::vector<sched::Job> jobs;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i]) continue;
    auto [it, inserted] = first_line.emplace(rows[i]->id.str(), lines[i]);
    if (!inserted) {
      diagnostics.add({name, lines[i], 0}, "duplicate job id '" + rows[i]->id.str() +
                                               "' (first at line " + std::to_string(it->second) +
                                               ")");
      continue;
    }
    jobs.push_back(std::move(*rows[i]));
  }
  if (!diagnostics.empty()) {
    std::size_t n = diagnostics.sorted().size();
    return diagnostics.to_error("workload " + name + " has " + std::to_string(n) +
                                (n == 1 ? " error" : " errors"));
  }
  std::sort(jobs.begin(), jobs.end(), [](const sched::Job& a, const sched::Job& b) {
    if (a.submit != b.submit) return a.submit < b.submit;
    return a.id < b.id;
  });
  return jobs;
}

Status write_workload(const fs::path& file, const std::vector<sched::Job>& jobs) {
  STRAITS_ASSIGN_OR_RETURN(Format format, format_of(file));
  // CSV lines are checked before the file is touched: a job that cannot be
  // written leaves what was there.
  std::vector<std::string> csv_lines;
  if (format == Format::kCsv) {
    csv_lines.reserve(jobs.size());
    for (const sched::Job& job : jobs) {
      STRAITS_ASSIGN_OR_RETURN(std::string line, csv_line(job));
      csv_lines.push_back(std::move(line));
    }
  }
  internal::OutputFile out;
  STRAITS_TRY(out.open(file));
  if (format == Format::kJsonl) {
    for (const sched::Job& job : jobs) {
      append_jsonl_line(out.row(), job);
      out.end_row();
    }
  } else {
    std::string header;
    for (const Field& f : kFields) {
      if (!header.empty()) header += ',';
      header += f.name;
    }
    out.write(header + "\n");
    for (const std::string& line : csv_lines) out.write(line);
  }
  return out.close();
}

}  // namespace straits::sim
