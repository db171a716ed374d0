// Attacks on the web console and its what-if runs (issue 18), against a real server in the
// test process, over raw loopback sockets where the request line itself is the attack:
// - paths that try to leave web/ or reach hidden files (`..`, `%2e%2e`, encoded slashes and
//   backslashes, NUL, `//`) answer 404 with nothing of the file system;
// - the console needs no token and serves no data: the page holds nothing of the world, and
//   the data routes still want a token;
// - every console answer, 404 and 405 included, carries the Content-Security-Policy;
// - tenants, engineers, operators and auditors cannot start a what-if (403); tenants cannot
//   read runs nor their pages (403, and 404 with a wrong key);
// - a flood of runs meets the queue's bound (429); malformed bodies are 400 naming the field;
// - a stop while a long run goes does not wait for it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "api/server_fixture.h"
#include "support/wait_until.h"

namespace straits::api {
namespace {

namespace fs = std::filesystem;
using testing_util::Answer;
using testing_util::json;
using testing_util::TestServer;

const fs::path kSource = STRAITS_SOURCE_DIR;

struct Raw {
  int status = 0;
  std::string head, body;
};

// Sends `request_line` as it is (no client normalises it) and reads the answer to the end.
Raw send_raw(int port, const std::string& method, const std::string& target) {
  Raw out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return out;
  }
  const std::string request =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    ::close(fd);
    return out;
  }
  std::string text;
  char buffer[8192];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const std::size_t split = text.find("\r\n\r\n");
  if (text.rfind("HTTP/1.1 ", 0) != 0 || split == std::string::npos) return out;
  out.status = std::stoi(text.substr(9, 3));
  out.head = text.substr(0, split);
  out.body = text.substr(split + 4);
  return out;
}

bool has_csp(const Raw& r) {
  return r.head.find("Content-Security-Policy: default-src 'none'; script-src 'self';") !=
         std::string::npos;
}

TEST(ConsoleAttacks, NoPathLeavesTheConsole) {
  TestServer server;
  server.start();
  // Something worth stealing next to the tree, and the server's own files.
  for (const std::string& target : std::vector<std::string>{
           "/console/../catalog/orgs.yaml", "/console/%2e%2e/catalog/orgs.yaml",
           "/console/%2E%2E%2Fcatalog%2Forgs.yaml", "/console/js%2f..%2f..%2fstraits.db",
           "/console/..%5c..%5cstraits.db", "/console/index.html%00.js", "/console//etc/passwd",
           "/console/.hidden", "/console/./index.html", "/console/js/../index.html",
           "/console/%69ndex.html", "/console/index.html/",
           "/console/" + std::string(300, 'a') + ".js"}) {
    const Raw r = send_raw(server.port(), "GET", target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_TRUE(has_csp(r)) << target;
    EXPECT_EQ(r.body.find("hanshan"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("SQLite"), std::string::npos) << target;
    // Nothing of the request is echoed into the answer.
    EXPECT_EQ(r.body.find(".."), std::string::npos) << target;
  }
  // The plain path works, so the 404s above are the guard's, not a broken server's.
  EXPECT_EQ(send_raw(server.port(), "GET", "/console/index.html").status, 200);
}

TEST(ConsoleAttacks, EveryConsoleAnswerHasItsPolicyAndOnlyGetAndHeadAreAnswered) {
  TestServer server;
  server.start();
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    const Raw r = send_raw(server.port(), method, "/console/index.html");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_TRUE(has_csp(r)) << method;
  }
  for (const char* target : {"/", "/console", "/console/", "/console/nope.css"}) {
    EXPECT_TRUE(has_csp(send_raw(server.port(), "GET", target))) << target;
    EXPECT_TRUE(has_csp(send_raw(server.port(), "HEAD", target))) << target;
  }
}

TEST(ConsoleAttacks, ThePageNeedsNoTokenAndHoldsNoData) {
  TestServer server;
  server.start();
  ASSERT_EQ(
      server
          .lease("hanshan-sg", "sg-tuas-1-h100", 8, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
          .status,
      201);
  const Raw page = send_raw(server.port(), "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.head.find("Set-Cookie"), std::string::npos);
  for (const std::string& secret : {std::string("sg-tuas-1-h100"), server.admin_token()}) {
    EXPECT_EQ(page.body.find(secret), std::string::npos) << secret;
  }
  // The data is behind the token, as before.
  for (const char* target : {"/v1/leases", "/v1/whatif", "/v1/scenarios"}) {
    EXPECT_EQ(send_raw(server.port(), "GET", target).status, 401) << target;
  }
}

class WhatifAttacks : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.options().scenarios_dir = kSource / "examples" / "scenarios";
    server_.options().scenarios_root = kSource;
    server_.start();
    admin_ = server_.admin_token();
  }
  // The shipped pair: months of a real trace, minutes of simulation each.
  static json long_run() {
    return {{"baseline", {{"scenario", "hybrid-2025"}}},
            {"whatif", {{"scenario", "close-remote-access"}}}};
  }
  TestServer server_;
  std::string admin_;
};

TEST_F(WhatifAttacks, OnlyAdminAndComplianceStartRunsAndTenantsReadNone) {
  const std::string tenant = server_.make_user("ops", "tenant-admin", "hanshan-sg");
  const std::string engineer = server_.make_user("eng", "engineer", "bellhollow");
  const std::string operator_admin = server_.make_user("noc", "operator-admin", "", "lionpoint");
  const std::string auditor = server_.make_user("audit", "auditor");
  for (const std::string& token : {tenant, engineer, operator_admin, auditor}) {
    EXPECT_EQ(server_.post("/v1/whatif", token, long_run()).status, 403);
  }
  Answer run = server_.post("/v1/whatif", admin_, long_run());
  ASSERT_EQ(run.status, 202) << run.text;
  const std::string id = run.body["id"];
  for (const std::string& token : {tenant, engineer, operator_admin}) {
    EXPECT_EQ(server_.get("/v1/whatif", token).status, 403);
    EXPECT_EQ(server_.get("/v1/whatif/" + id, token).status, 403);
    EXPECT_EQ(server_.get("/v1/whatif/" + id + "/report", token).status, 403);
  }
  EXPECT_EQ(server_.get("/v1/whatif/" + id, auditor).status, 200);
  // Without a token the page wants the run's key; a wrong one is as if the run did not exist.
  EXPECT_EQ(send_raw(server_.port(), "GET", "/v1/whatif/" + id + "/report").status, 401);
  const Raw guessed = send_raw(server_.port(), "GET",
                               "/v1/whatif/" + id + "/report?key=00000000000000000000000000000000");
  EXPECT_EQ(guessed.status, 404);
  EXPECT_EQ(send_raw(server_.port(), "GET", "/v1/whatif/w-404/report?key=abc").status, 404);
}

TEST_F(WhatifAttacks, MalformedBodiesAreRefusedNamingTheField) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"[1]", ""},
      {"{\"whatif\":{\"scenario\":\"hybrid-2025\"}}", "baseline"},
      {"{\"baseline\":{\"scenario\":\"hybrid-2025\"}}", "whatif"},
      {"{\"baseline\":\"hybrid-2025\",\"whatif\":{\"scenario\":\"hybrid-2025\"}}", "baseline"},
      {"{\"baseline\":{},\"whatif\":{\"scenario\":\"hybrid-2025\"}}", "baseline"},
      {"{\"baseline\":{\"scenario\":\"hybrid-2025\",\"live\":{\"days\":3}},"
       "\"whatif\":{\"scenario\":\"hybrid-2025\"}}",
       "baseline"},
      {"{\"baseline\":{\"live\":{\"days\":0}},\"whatif\":{\"ruleset\":\"rs-1\"}}",
       "baseline.live.days"},
      {"{\"baseline\":{\"live\":{\"days\":\"7\"}},\"whatif\":{\"ruleset\":\"rs-1\"}}",
       "baseline.live.days"},
      {"{\"baseline\":{\"live\":{\"days\":3}},\"whatif\":{\"scenario\":\"hybrid-2025\"}}",
       "whatif.scenario"},
      {"{\"baseline\":{\"scenario\":\"hybrid-2025\"},\"whatif\":{\"ruleset\":\"rs-1\"}}",
       "whatif.ruleset"},
      {"{\"baseline\":{\"scenario\":\"hybrid-2025\"},\"whatif\":{\"scenario\":7}}",
       "whatif.scenario"},
      {"{\"baseline\":{\"scenario\":\"hybrid-2025\"},\"whatif\":{\"scenario\":\"x\"},\"more\":1}",
       "more"},
  };
  for (const auto& [body, field] : cases) {
    Answer a = server_.request("POST", "/v1/whatif", admin_, body);
    EXPECT_EQ(a.status, 400) << body << ": " << a.text;
    if (!field.empty()) {
      EXPECT_EQ(a.body["error"]["field"], field) << body << ": " << a.text;
    }
  }
  // A scenario is looked up among the listed ones, never as a path.
  for (const char* name : {"../../catalog/orgs", "/etc/passwd", "hybrid-2025.yaml", "nope"}) {
    Answer a = server_.post(
        "/v1/whatif", admin_,
        {{"baseline", {{"scenario", name}}}, {"whatif", {{"scenario", "hybrid-2025"}}}});
    EXPECT_EQ(a.status, 404) << name << ": " << a.text;
    EXPECT_EQ(a.body["error"]["field"], "baseline.scenario") << name;
  }
  EXPECT_EQ(server_.get("/v1/whatif", admin_).body["items"].size(), 0u);
}

TEST_F(WhatifAttacks, AFloodMeetsTheQueueBoundAndAStopDoesNotWaitForTheRun) {
  // One runs, four wait; the sixth is refused, and so is every one after.
  Answer first = server_.post("/v1/whatif", admin_, long_run());
  ASSERT_EQ(first.status, 202) << first.text;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        return server_.get("/v1/whatif/" + first.body["id"].get<std::string>(), admin_)
                   .body.value("state", "") == "running";
      },
      std::chrono::seconds(60)));
  for (int i = 1; i < 5; ++i) {
    Answer a = server_.post("/v1/whatif", admin_, long_run());
    ASSERT_EQ(a.status, 202) << i << ": " << a.text;
  }
  Answer refused = server_.post("/v1/whatif", admin_, long_run());
  EXPECT_EQ(refused.status, 429) << refused.text;
  EXPECT_EQ(refused.body["error"]["code"], "too_many_runs");
  EXPECT_EQ(server_.post("/v1/whatif", admin_, long_run()).status, 429);
  // The server still answers everything else meanwhile.
  EXPECT_EQ(server_.get("/v1/whatif", admin_).body["items"].size(), 5u);
  EXPECT_EQ(server_.get("/healthz", "").status, 200);
  // Stopped while the first run simulates months of a trace: the stop cancels it (the test
  // would otherwise wait for five long runs).
  server_.stop();
}

}  // namespace
}  // namespace straits::api
