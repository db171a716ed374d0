// The clients of a running `straits serve` (client_command.cc,
// audit_command.cc): where the server is (--url, $STRAITS_URL), who calls
// (--token, $STRAITS_TOKEN), and one request at a time over HTTP, with every
// failure turned into a message a person can act on (Context::fail).
// cpp-httplib stays in the .cc.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace straits::cli {

struct Context;

inline constexpr const char* kDefaultUrl = "http://127.0.0.1:8080";

// What every client command takes: where the server is, who calls, how to print.
struct Connection {
  std::string url;    // "" -> $STRAITS_URL -> kDefaultUrl
  std::string token;  // "" -> $STRAITS_TOKEN
  bool json = false;
};

// Adds --url, --token and --json to `command`.
void add_connection(CLI::App* command, Connection& c);

// Percent-encodes one query value or path segment (RFC 3986 unreserved kept).
std::string encode(const std::string& text);

// The variable's value, or `fallback` when it is unset or empty.
std::string env_or(const char* name, const std::string& fallback);

class ApiClient {
 public:
  ApiClient(Context& context, const Connection& c);

  // The answer's JSON when the server said 2xx; otherwise prints why not,
  // sets the exit code and returns nullopt.
  std::optional<nlohmann::json> get(const std::string& path);
  std::optional<nlohmann::json> post(const std::string& path, const std::string& body);

  // Did-you-mean for ids: when a later request answers 404 (an id the server
  // does not know, or one this caller may not see), its message ends with
  // " (did you mean 'ID'?)" if the list at `list_path` ("/v1/jobs"), as the
  // server answers it to this caller, holds an id close to `id`. Only what
  // the server lists for the token is ever suggested: isolation stays the
  // server's.
  void suggest_on_not_found(std::string list_path, std::string id);

 private:
  std::optional<nlohmann::json> send(const char* method, const std::string& path,
                                     const std::string* body);

  Context& context_;
  std::string url_, token_, origin_, prefix_;
  std::string url_error_;  // why url_ is not a server URL, "" when it is
  std::string suggest_list_, suggest_id_;
};

}  // namespace straits::cli
