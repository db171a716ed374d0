// What a route handler sees and returns, and the strict reading of request
// bodies and query strings. A handler throws HttpError for a request it
// refuses; the dispatcher turns it into {"error": {code, message, field}}
// with its status. Nothing crosses the module: exceptions stop there.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/money.h"
#include "core/time.h"

namespace straits::api::internal {

using nlohmann::json;

struct HttpError {
  int status = 400;
  std::string code;  // "invalid_argument", "not_found", ...
  std::string message;
  std::string field;  // the request field at fault, "" when none
  json details;       // extra context (a decision), null when none
};

[[noreturn]] void fail(int status, std::string code, std::string message, std::string field = "");
// 400 invalid_argument naming the field.
[[noreturn]] void bad_field(const std::string& field, std::string message);
[[noreturn]] void not_found(const std::string& what);  // 404 "no such lease 'l-1'"
// Maps an Error of a library (store, catalog, policy) to a status.
[[noreturn]] void fail_with(const Error& error, std::string field = "");
int status_of(ErrorCode code);
std::string code_word(ErrorCode code);

std::string error_body(const HttpError& error);

// Who is calling: from the bearer token.
struct Principal {
  std::string user_id;
  std::string name;
  std::string role;  // admin, operator-admin, tenant-admin, engineer, auditor
  std::string org;
  std::string operator_id;
  std::string token_id;
  bool is(std::string_view r) const { return role == r; }
  bool tenant() const { return role == "tenant-admin" || role == "engineer"; }
};

struct Call {
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;  // from the path: {id}
  std::multimap<std::string, std::string> query;
  std::string body;
  Principal who;
  Instant now;
  // Long-polls: when the request arrived (its wait counts from there), and, set by a
  // handler that has nothing to say yet, when to run it again instead of blocking a thread:
  // the dispatcher parks the request until the world's change generation is not
  // `generation` or until `until`, then calls the handler again.
  std::chrono::steady_clock::time_point arrived{};
  struct Park {
    std::chrono::steady_clock::time_point until;
    std::uint64_t generation = 0;
  };
  std::optional<Park> park;
};

struct Reply {
  int status = 200;
  std::string body;  // JSON
};
Reply reply(int status, const json& body);

// What a text field may hold. Control characters (U+0000 to U+001F, U+007F)
// in a name or an id end up in logs, paths, tables and other systems'
// commands, where they cut or forge lines and truncate strings at NUL.
enum class TextKind {
  kName,   // names, ids, words: no control character at all (the default)
  kProse,  // free text (notes, a command): newlines and tabs, no other control character
  kOutput  // what a program printed (an agent's log report): taken as it is
};

// Instants the API takes lie from 1970-01-01T00:00Z up to 2200-01-01T00:00Z
// (both included): nothing straits dates lies outside, and a year 0000 or
// 9999 is a typo that would otherwise sit in leases, licences and decisions.
Instant earliest_instant();
Instant latest_instant();

// Refuses (400 naming `field`) a control character `kind` does not allow.
void check_characters(const std::string& field, std::string_view text, TextKind kind);

// A JSON object read field by field: every field must be known, of its
// type, and in range; what is wrong is named by its path ("spec.gpus").
// Texts are names unless said otherwise (TextKind); durations and money are
// never negative; instants lie in [earliest_instant(), latest_instant()].
class Fields {
 public:
  // Parses `text` as one JSON object (400 when it is not).
  static json parse_object(const std::string& text);
  Fields(const json& object, std::string prefix, std::set<std::string> known,
         std::size_t max_items);

  bool has(const std::string& key) const;
  std::optional<std::string> text(const std::string& key, bool required = false,
                                  std::size_t max_length = 4096,
                                  TextKind kind = TextKind::kName) const;
  std::optional<std::int64_t> integer(const std::string& key, bool required, std::int64_t min,
                                      std::int64_t max) const;
  std::optional<double> number(const std::string& key, bool required, double min, double max) const;
  std::optional<bool> boolean(const std::string& key) const;
  // A list of at most `max_items` texts (0: the Fields' own limit), each at
  // most `max_length` bytes.
  std::optional<std::vector<std::string>> texts(const std::string& key,
                                                std::size_t max_length = 4096,
                                                TextKind kind = TextKind::kName,
                                                std::size_t max_items = 0) const;
  std::optional<Instant> instant(const std::string& key, bool required = false) const;
  std::optional<Duration> duration(const std::string& key) const;
  std::optional<Money> money(const std::string& key) const;
  // A nested object, read with its own known fields.
  std::optional<Fields> object(const std::string& key, std::set<std::string> known) const;
  const json& raw() const { return object_; }
  std::string path(const std::string& key) const { return prefix_ + key; }

 private:
  const json& get(const std::string& key) const;
  const json& object_;
  std::string prefix_;
  std::size_t max_items_;
};

// Query parameters, equally strict.
std::optional<std::string> query_text(const Call& call, const std::string& key);
std::size_t query_limit(const Call& call, std::size_t max);
void check_query(const Call& call, const std::set<std::string>& known);
// A whole-number query parameter in [min, max], or nullopt when absent.
std::optional<std::int64_t> query_integer(const Call& call, const std::string& key,
                                          std::int64_t min, std::int64_t max);
// An ISO 8601 instant query parameter within the API's range, or nullopt
// when absent (400 naming it otherwise).
std::optional<Instant> query_instant(const Call& call, const std::string& key);
// For routes that take no body: nothing, or an empty JSON object.
void no_body(const Call& call);

}  // namespace straits::api::internal
