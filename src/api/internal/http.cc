#include "api/internal/http.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace straits::api::internal {

void fail(int status, std::string code, std::string message, std::string field) {
  throw HttpError{status, std::move(code), std::move(message), std::move(field), nullptr};
}

void bad_field(const std::string& field, std::string message) {
  fail(400, "invalid_argument", std::move(message), field);
}

void not_found(const std::string& what) {
  fail(404, "not_found", "no such " + what);
}

int status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kFailedPrecondition: return 422;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kResourceExhausted: return 429;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

std::string code_word(ErrorCode code) {
  return std::string(to_string(code));
}

void fail_with(const Error& error, std::string field) {
  std::string message = error.message();
  for (const Diagnostic& d : error.diagnostics()) message += "\n" + to_string(d);
  fail(status_of(error.code()), code_word(error.code()), std::move(message), std::move(field));
}

std::string error_body(const HttpError& error) {
  json e = {{"code", error.code}, {"message", error.message}};
  e["field"] = error.field.empty() ? json(nullptr) : json(error.field);
  if (!error.details.is_null()) e["details"] = error.details;
  // A message may quote what the client sent, invalid UTF-8 included: such
  // bytes are replaced, never a reason to fail the answer.
  return json{{"error", e}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

Reply reply(int status, const json& body) {
  return {status, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

Instant earliest_instant() {
  return Instant::from_date(1970, 1, 1);
}

Instant latest_instant() {
  return Instant::from_date(2200, 1, 1);
}

void check_characters(const std::string& field, std::string_view text, TextKind kind) {
  if (kind == TextKind::kOutput) return;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != 0x7f) continue;
    if (kind == TextKind::kProse && (c == '\n' || c == '\t')) continue;
    char code[8];
    std::snprintf(code, sizeof code, "U+%04X", c);
    bad_field(field, "'" + field + "' must not hold control characters" +
                         (kind == TextKind::kProse ? " other than newlines and tabs" : "") + " (" +
                         code + " at byte " + std::to_string(i) + ")");
  }
}

json Fields::parse_object(const std::string& text) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    // Say where: nlohmann's own exception carries the byte offset.
    try {
      json again = json::parse(text);
      again.clear();
    } catch (const json::exception& e) {  // a parse error, or a number out of range
      fail(400, "invalid_json", std::string("the body is not valid JSON: ") + e.what());
    }
    fail(400, "invalid_json", "the body is not valid JSON");
  }
  if (!parsed.is_object()) {
    fail(400, "invalid_json",
         std::string("the body must be a JSON object, got ") + parsed.type_name());
  }
  return parsed;
}

Fields::Fields(const json& object, std::string prefix, std::set<std::string> known,
               std::size_t max_items)
    : object_(object), prefix_(std::move(prefix)), max_items_(max_items) {
  for (const auto& [key, value] : object_.items()) {
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      bad_field(path(key), "unknown field '" + path(key) + "' (known: " + list + ")");
    }
  }
}

bool Fields::has(const std::string& key) const {
  auto it = object_.find(key);
  return it != object_.end() && !it->is_null();
}

const json& Fields::get(const std::string& key) const {
  return object_.at(key);
}

std::optional<std::string> Fields::text(const std::string& key, bool required,
                                        std::size_t max_length, TextKind kind) const {
  if (!has(key)) {
    if (required) bad_field(path(key), "'" + path(key) + "' is required");
    return std::nullopt;
  }
  const json& v = get(key);
  if (!v.is_string()) {
    bad_field(path(key), "'" + path(key) + "' must be a string, got " + v.type_name());
  }
  std::string s = v.get<std::string>();
  if (s.size() > max_length) {
    bad_field(path(key),
              "'" + path(key) + "' is longer than " + std::to_string(max_length) + " bytes");
  }
  if (required && s.empty()) bad_field(path(key), "'" + path(key) + "' must not be empty");
  check_characters(path(key), s, kind);
  return s;
}

std::optional<std::int64_t> Fields::integer(const std::string& key, bool required, std::int64_t min,
                                            std::int64_t max) const {
  if (!has(key)) {
    if (required) bad_field(path(key), "'" + path(key) + "' is required");
    return std::nullopt;
  }
  const json& v = get(key);
  if (!v.is_number_integer()) {
    bad_field(path(key), "'" + path(key) + "' must be an integer, got " +
                             (v.is_number() ? std::string("a fraction") : v.type_name()));
  }
  // A huge unsigned value does not fit int64: it is out of range too.
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    bad_field(path(key), "'" + path(key) + "' must be at most " + std::to_string(max));
  }
  const std::int64_t i = v.get<std::int64_t>();
  if (i < min || i > max) {
    bad_field(path(key), "'" + path(key) + "' must be between " + std::to_string(min) + " and " +
                             std::to_string(max) + ", got " + std::to_string(i));
  }
  return i;
}

std::optional<double> Fields::number(const std::string& key, bool required, double min,
                                     double max) const {
  if (!has(key)) {
    if (required) bad_field(path(key), "'" + path(key) + "' is required");
    return std::nullopt;
  }
  const json& v = get(key);
  if (!v.is_number()) {
    bad_field(path(key), "'" + path(key) + "' must be a number, got " + v.type_name());
  }
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < min || d > max) {
    bad_field(path(key), "'" + path(key) + "' must be between " + json(min).dump() + " and " +
                             json(max).dump() + ", got " + v.dump());
  }
  return d;
}

std::optional<bool> Fields::boolean(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  const json& v = get(key);
  if (!v.is_boolean()) {
    bad_field(path(key), "'" + path(key) + "' must be true or false, got " + v.type_name());
  }
  return v.get<bool>();
}

std::optional<std::vector<std::string>> Fields::texts(const std::string& key,
                                                      std::size_t max_length, TextKind kind,
                                                      std::size_t max_items) const {
  if (!has(key)) return std::nullopt;
  const json& v = get(key);
  if (!v.is_array()) {
    bad_field(path(key), "'" + path(key) + "' must be a list of strings, got " + v.type_name());
  }
  if (max_items == 0) max_items = max_items_;
  if (v.size() > max_items) {
    bad_field(path(key), "'" + path(key) + "' has " + std::to_string(v.size()) +
                             " items, more than the " + std::to_string(max_items) + " allowed");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string item = path(key) + "[" + std::to_string(i) + "]";
    if (!v[i].is_string()) {
      bad_field(item, "'" + item + "' must be a string, got " + v[i].type_name());
    }
    out.push_back(v[i].get<std::string>());
    if (out.back().size() > max_length) {
      bad_field(item, "'" + item + "' is longer than " + std::to_string(max_length) + " bytes");
    }
    check_characters(item, out.back(), kind);
  }
  return out;
}

std::optional<Instant> Fields::instant(const std::string& key, bool required) const {
  auto s = text(key, required, 64);
  if (!s) return std::nullopt;
  auto t = parse_instant(*s);
  if (!t) bad_field(path(key), "'" + path(key) + "': " + t.error().message());
  if (*t < earliest_instant() || *t > latest_instant()) {
    bad_field(path(key),
              "'" + path(key) + "' must lie between 1970-01-01 and 2200-01-01, got " + *s);
  }
  return *t;
}

std::optional<Duration> Fields::duration(const std::string& key) const {
  auto s = text(key, false, 64);
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) bad_field(path(key), "'" + path(key) + "': " + d.error().message());
  // Every duration the API takes is a length of time (an interval, a limit).
  if (*d < Duration::seconds(0)) {
    bad_field(path(key), "'" + path(key) + "' must not be negative, got " + *s);
  }
  return *d;
}

std::optional<Money> Fields::money(const std::string& key) const {
  auto s = text(key, false, 64);
  if (!s) return std::nullopt;
  auto m = parse_money(*s);
  if (!m) bad_field(path(key), "'" + path(key) + "': " + m.error().message());
  // Every amount the API takes is a price or a ceiling: never below zero.
  if (m->micros() < 0) bad_field(path(key), "'" + path(key) + "' must not be negative, got " + *s);
  return *m;
}

std::optional<Fields> Fields::object(const std::string& key, std::set<std::string> known) const {
  if (!has(key)) return std::nullopt;
  const json& v = get(key);
  if (!v.is_object()) {
    bad_field(path(key), "'" + path(key) + "' must be an object, got " + v.type_name());
  }
  return Fields(v, path(key) + ".", std::move(known), max_items_);
}

std::optional<std::string> query_text(const Call& call, const std::string& key) {
  auto it = call.query.find(key);
  if (it == call.query.end()) return std::nullopt;
  if (call.query.count(key) > 1) bad_field(key, "query parameter '" + key + "' given twice");
  check_characters(key, it->second, TextKind::kName);  // query values are ids and words
  return it->second;
}

std::size_t query_limit(const Call& call, std::size_t max) {
  auto limit = query_integer(call, "limit", 1, static_cast<std::int64_t>(max));
  return limit ? static_cast<std::size_t>(*limit) : std::min<std::size_t>(100, max);
}

std::optional<std::int64_t> query_integer(const Call& call, const std::string& key,
                                          std::int64_t min, std::int64_t max) {
  auto text = query_text(call, key);
  if (!text) return std::nullopt;
  std::int64_t value = 0;
  const char* end = text->data() + text->size();
  auto [at, ec] = std::from_chars(text->data(), end, value);
  if (text->empty() || ec != std::errc() || at != end || value < min || value > max) {
    bad_field(key, "'" + key + "' must be a whole number between " + std::to_string(min) + " and " +
                       std::to_string(max) + ", got '" + *text + "'");
  }
  return value;
}

std::optional<Instant> query_instant(const Call& call, const std::string& key) {
  auto text = query_text(call, key);
  if (!text) return std::nullopt;
  auto at = parse_instant(*text);
  if (!at || *at < earliest_instant() || *at > latest_instant()) {
    bad_field(key, "'" + key + "' must be an ISO 8601 instant between 1970 and 2200, got '" +
                       *text + "'");
  }
  return *at;
}

void no_body(const Call& call) {
  if (call.body.empty()) return;
  json body = Fields::parse_object(call.body);
  Fields(body, "", {}, 0);
}

void check_query(const Call& call, const std::set<std::string>& known) {
  for (const auto& [key, value] : call.query) {
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      bad_field(key, "unknown query parameter '" + key + "'" +
                         (list.empty() ? std::string(" (none taken)") : " (known: " + list + ")"));
    }
  }
}

}  // namespace straits::api::internal
