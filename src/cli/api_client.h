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

// The variable's value, or `fallback` when it is unset or empty.
std::string env_or(const char* name, const std::string& fallback);

class ApiClient {
 public:
  ApiClient(Context& context, const Connection& c);

  // The answer's JSON when the server said 2xx; otherwise prints why not,
  // sets the exit code and returns nullopt.
  std::optional<nlohmann::json> get(const std::string& path);
  std::optional<nlohmann::json> post(const std::string& path, const std::string& body);

 private:
  std::optional<nlohmann::json> send(const char* method, const std::string& path,
                                     const std::string* body);

  Context& context_;
  std::string url_, token_, origin_, prefix_;
};

}  // namespace straits::cli
