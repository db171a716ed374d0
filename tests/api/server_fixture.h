// A real server for tests: an SQLite store in a temporary folder (or the
// test PostgreSQL), the shipped catalog and default rules, listening on a
// free loopback port, served on a thread; and an HTTP client for it.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/server.h"
#include "core/clock.h"
#include "policy/temp_dir.h"

namespace straits::api::testing_util {

using nlohmann::json;

inline Instant at(const char* text) {
  return *parse_instant(text);
}

struct Answer {
  int status = 0;
  json body;  // null when the body is not JSON
  std::string text;
};

class TestServer {
 public:
  // `clock` drives the server's time (rules are dated); schedule_interval 0:
  // no loop, tests call schedule().
  explicit TestServer(Instant start = Instant::from_unix_microseconds(1'767'225'600'000'000),
                      std::optional<std::filesystem::path> rules = std::nullopt)
      : clock_(start) {
    options_.port = 0;
    options_.store = {store::StoreUrl::Kind::kSqlite, (dir_.path() / "straits.db").string()};
    options_.catalog_dir = std::filesystem::path(STRAITS_SOURCE_DIR) / "catalog";
    options_.rule_dirs = {
        rules.value_or(std::filesystem::path(STRAITS_SOURCE_DIR) / "rules/default")};
    options_.schedule_interval = Duration::seconds(0);
    options_.threads = 4;
    // The audit log's key outside the store, kept across restarts (issue 15;
    // with PostgreSQL there is no default beside the store).
    options_.signing_key = dir_.path() / "signing-key";
  }
  ~TestServer() { stop(); }

  ServerOptions& options() { return options_; }
  ManualClock& clock() { return clock_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  // Creates and starts the server; the admin token is kept (first start).
  void start() {
    auto created = Server::create(options_, clock_);
    if (!created) throw std::runtime_error(created.error().to_string());
    server_ = std::move(created).value();
    if (server_->bootstrap_token()) admin_ = *server_->bootstrap_token();
    auto listening = server_->listen();
    if (!listening) throw std::runtime_error(listening.error().message());
    thread_ = std::thread([this] { server_->run(); });
    // Ready when it answers.
    for (int i = 0; i < 200; ++i) {
      if (request("GET", "/healthz", "", "").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("the test server did not come up");
  }
  void stop() {
    if (!server_) return;
    server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }
  Server& server() { return *server_; }
  int port() const { return server_->port(); }
  const std::string& admin_token() const { return admin_; }

  Answer request(const std::string& method, const std::string& path, const std::string& token,
                 const std::string& body = "") const {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(30, 0);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto send = [&]() -> httplib::Result {
      if (method == "POST") return client.Post(path, headers, body, "application/json");
      if (method == "PATCH") return client.Patch(path, headers, body, "application/json");
      if (method == "PUT") return client.Put(path, headers, body, "application/json");
      if (method == "DELETE") return client.Delete(path, headers);
      return client.Get(path, headers);
    };
    httplib::Result r = send();
    Answer a;
    if (!r) {
      a.text = "no answer: " + httplib::to_string(r.error());
      return a;
    }
    a.status = r->status;
    a.text = r->body;
    a.body = json::parse(r->body, nullptr, false);
    if (a.body.is_discarded()) a.body = nullptr;
    return a;
  }
  Answer get(const std::string& path, const std::string& token) const {
    return request("GET", path, token);
  }
  Answer post(const std::string& path, const std::string& token, const json& body) const {
    return request("POST", path, token, body.is_null() ? "" : body.dump());
  }

  // A lease made by the admin.
  Answer lease(const std::string& org, const std::string& pool, int gpus, const char* start,
               const char* end) const {
    return post("/v1/leases", admin_,
                {{"org", org}, {"pool", pool}, {"gpus", gpus}, {"start", start}, {"end", end}});
  }

  // A site agent's own credential (role agent) for `sites`, made by the
  // admin: a user and its token, the same for the same sites (an agent
  // restarted with it finds the agent it registered).
  std::string agent_token(const std::vector<std::string>& sites) {
    auto known = agent_tokens_.find(sites);
    if (known != agent_tokens_.end()) return known->second;
    const std::string name = "agent-" + std::to_string(agent_tokens_.size() + 1);
    Answer user = post("/v1/users", admin_, {{"name", name}, {"role", "agent"}, {"sites", sites}});
    if (user.status != 201) throw std::runtime_error("agent_token: " + user.text);
    Answer token =
        post("/v1/users/" + user.body["id"].get<std::string>() + "/tokens", admin_, json::object());
    if (token.status != 201) throw std::runtime_error("agent_token: " + token.text);
    return agent_tokens_[sites] = token.body["secret"].get<std::string>();
  }

  // A user of `role` (org/operator as the role needs) and a token for it.
  std::string make_user(const std::string& name, const std::string& role,
                        const std::string& org = "", const std::string& operator_id = "") {
    json body = {{"name", name}, {"role", role}};
    if (!org.empty()) body["org"] = org;
    if (!operator_id.empty()) body["operator"] = operator_id;
    Answer user = post("/v1/users", admin_, body);
    if (user.status != 201) throw std::runtime_error("make_user: " + user.text);
    Answer token =
        post("/v1/users/" + user.body["id"].get<std::string>() + "/tokens", admin_, json::object());
    if (token.status != 201) throw std::runtime_error("make_token: " + token.text);
    return token.body["secret"].get<std::string>();
  }

 private:
  ::straits::testing_util::TempDir dir_{"server"};
  ManualClock clock_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::string admin_;
  std::map<std::vector<std::string>, std::string> agent_tokens_;
};

}  // namespace straits::api::testing_util
