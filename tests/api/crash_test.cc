// A server killed with SIGKILL in the middle of a burst of lease and job
// submissions, then started again on the same store: every acknowledged
// submission is there, nothing half-written is visible, no pool is
// over-committed, and the audit chain verifies.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/time.h"
#include "policy/temp_dir.h"

namespace straits::api {
namespace {

using nlohmann::json;

// `straits serve` as a child process; its first lines say where and how.
class ServerProcess {
 public:
  explicit ServerProcess(const std::filesystem::path& dir) : dir_(dir) {}
  ~ServerProcess() { kill(SIGKILL); }

  void start() {
    const std::string out = (dir_ / "out.txt").string();
    std::filesystem::remove(out);
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(out.c_str(), "w", stdout);
      (void)f;
      const std::string store = "sqlite:" + (dir_ / "straits.db").string();
      execl(STRAITS_BINARY, STRAITS_BINARY, "serve", "--listen", "127.0.0.1:0", "--store",
            store.c_str(), "--schedule-interval", "0", "--quiet", nullptr);
      _exit(127);
    }
    for (int i = 0; i < 300 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::ifstream in(out);
      std::string line;
      while (std::getline(in, line)) {
        const std::string serving = "straits serving on http://127.0.0.1:";
        if (line.rfind(serving, 0) == 0) port_ = std::stoi(line.substr(serving.size()));
        const std::string token = "  export STRAITS_TOKEN=";
        if (line.rfind(token, 0) == 0) token_ = line.substr(token.size());
      }
    }
    ASSERT_NE(port_, 0) << "the server did not start";
  }
  void kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    port_ = 0;
  }
  int port() const { return port_; }
  const std::string& token() const { return token_; }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string token_;
};

struct Answer {
  int status = 0;
  json body;
};

Answer call(int port, const std::string& token, const std::string& method, const std::string& path,
            const json& body = nullptr) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  client.set_connection_timeout(1, 0);
  httplib::Headers headers = {{"Authorization", "Bearer " + token}};
  auto r = method == "GET" ? client.Get(path, headers)
                           : client.Post(path, headers, body.dump(), "application/json");
  if (!r) return {};
  return {r->status, json::parse(r->body, nullptr, false)};
}

TEST(Crash, AcknowledgedSubmissionsSurviveSigkillAndNothingIsHalfWritten) {
  testing_util::TempDir dir("crash");
  ServerProcess server(dir.path());
  server.start();
  const std::string token = server.token();
  ASSERT_FALSE(token.empty());
  const int port = server.port();
  const Answer pool = call(port, token, "GET", "/v1/pools/sg-tuas-1-h100");
  ASSERT_EQ(pool.status, 200);
  const int gpus = pool.body["nodes"].get<int>() * pool.body["gpus_per_node"].get<int>();

  std::mutex mutex;
  std::set<std::string> acknowledged_jobs, acknowledged_leases;
  std::atomic<int> answered{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        Answer a;
        if (i % 4 == 0) {
          // Leases of 8 GPUs on one pool, months at a time: they soon fill it.
          const int month = 1 + (c + i) % 12;
          char start[32], end[32];
          std::snprintf(start, sizeof start, "2027-%02d-01T00:00:00Z", month);
          if (month == 12) {
            std::snprintf(end, sizeof end, "2028-01-01T00:00:00Z");
          } else {
            std::snprintf(end, sizeof end, "2027-%02d-01T00:00:00Z", month + 1);
          }
          a = call(port, token, "POST", "/v1/leases",
                   {{"org", c % 2 ? "bellhollow" : "tsukimi"},
                    {"pool", "sg-tuas-1-h100"},
                    {"gpus", 8},
                    {"start", start},
                    {"end", end}});
          if (a.status == 201) {
            std::lock_guard lock(mutex);
            acknowledged_leases.insert(a.body["id"].get<std::string>());
          }
        } else {
          a = call(port, token, "POST", "/v1/jobs",
                   {{"org", "bellhollow"},
                    {"team", "t" + std::to_string(c)},
                    {"gpus", 8},
                    {"work", 100}});
          if (a.status == 201) {
            std::lock_guard lock(mutex);
            acknowledged_jobs.insert(a.body["id"].get<std::string>());
          }
        }
        if (a.status != 0) ++answered;
      }
    });
  }
  // Kill it in full flight.
  while (answered < 400) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server.kill(SIGKILL);
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_GT(acknowledged_jobs.size(), 100u);

  server.start();
  const int again = server.port();
  // Every acknowledged submission is there.
  std::set<std::string> jobs, leases;
  for (const char* what : {"jobs", "leases"}) {
    std::string after;
    for (;;) {
      Answer page = call(
          again, token, "GET",
          std::string("/v1/") + what + "?limit=1000" + (after.empty() ? "" : "&after=" + after));
      ASSERT_EQ(page.status, 200);
      for (const json& item : page.body["items"]) {
        (std::string(what) == "jobs" ? jobs : leases).insert(item["id"].get<std::string>());
      }
      if (page.body["next"].is_null()) break;
      after = page.body["next"].get<std::string>();
    }
  }
  for (const std::string& id : acknowledged_jobs) EXPECT_TRUE(jobs.count(id)) << id << " lost";
  for (const std::string& id : acknowledged_leases) EXPECT_TRUE(leases.count(id)) << id << " lost";
  // Nothing half-written: each job has its submission event and audit event.
  std::size_t submits = 0, lease_events = 0;
  std::string after = "0";
  for (;;) {
    Answer page = call(again, token, "GET", "/v1/audit?limit=1000&after=" + after);
    ASSERT_EQ(page.status, 200);
    for (const json& e : page.body["items"]) {
      submits += e["action"] == "job.submit";
      lease_events += e["action"] == "lease.create";
    }
    if (page.body["next"].is_null()) break;
    after = page.body["next"].get<std::string>();
  }
  EXPECT_EQ(submits, jobs.size());
  EXPECT_EQ(lease_events, leases.size());
  for (const std::string& id : jobs) {
    Answer events = call(again, token, "GET", "/v1/jobs/" + id + "/events");
    ASSERT_EQ(events.status, 200);
    ASSERT_FALSE(events.body["items"].empty()) << id;
    EXPECT_EQ(events.body["items"][0]["kind"], "submitted") << id;
  }
  // No pool over-committed at any instant.
  std::map<std::string, int> by_month;
  for (const std::string& id : leases) {
    Answer l = call(again, token, "GET", "/v1/leases/" + id);
    ASSERT_EQ(l.status, 200);
    by_month[l.body["start"].get<std::string>()] += l.body["gpus"].get<int>();
  }
  for (const auto& [month, leased] : by_month) EXPECT_LE(leased, gpus) << month;
  // The audit chain verifies.
  Answer verified = call(again, token, "GET", "/v1/audit/verify");
  EXPECT_EQ(verified.body["ok"], true) << verified.body.dump();
  server.kill(SIGTERM);
}

}  // namespace
}  // namespace straits::api
