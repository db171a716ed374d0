// End to end: a real server (in this process, on a loopback port, with a
// clock that runs in real time and that the test can move forward) and real
// agents (`straits agent` child processes) on the local backend and on the
// real Slurm cluster that ctest starts (fixture `slurm`), running the
// example training program (examples/jobs/straits-train).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "api/server_fixture.h"
#include "support/wait_until.h"

namespace straits::e2e {

using api::testing_util::Answer;
using api::testing_util::json;
using api::testing_util::TestServer;

using api::testing_util::at;

// A `straits agent` child process; its stderr goes to a file kept for the
// failure message.
class AgentProcess {
 public:
  AgentProcess(std::vector<std::string> args, std::filesystem::path log,
               std::vector<std::pair<std::string, std::string>> env = {})
      : args_(std::move(args)), log_(std::move(log)), env_(std::move(env)) {}
  ~AgentProcess() { kill(SIGTERM, true); }

  void start() {
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      for (const auto& [k, v] : env_) ::setenv(k.c_str(), v.c_str(), 1);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
  }
  // Sends `signal`; with `wait`, waits for the exit (SIGKILL after 15 s).
  void kill(int signal, bool wait) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    if (!wait) return;
    for (int i = 0; i < 150; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::vector<std::string> args_;
  std::filesystem::path log_;
  std::vector<std::pair<std::string, std::string>> env_;
  pid_t pid_ = -1;
};

// Runs `command` and returns its stdout.
// The example job where the runs' user can reach it: the agents run as root
// here, so jobs run as the unprivileged straits-run, and the build tree may
// sit under a folder only its owner may enter (a home of mode 0700). Copied
// once per test process into a folder of its own under the temporary folder.
inline const std::string& train_binary() {
  static const std::string path = [] {
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::temp_directory_path() / ("straits-e2e-bin-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms(0755));
    const fs::path to = dir / "straits-train";
    fs::copy_file(STRAITS_TRAIN_BINARY, to, fs::copy_options::overwrite_existing);
    fs::permissions(to, fs::perms(0755));
    return to.string();
  }();
  return path;
}

inline std::string output_of(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

class EndToEndTest : public ::testing::Test {
 protected:
  // The server's clock starts at 2026-12-31T23:00:00Z, an hour before the
  // close-remote-access scenario's rule takes effect, and runs in real time.
  EndToEndTest() : server_(at("2026-12-31T23:00:00Z")) {
    server_.options().rule_dirs.push_back(std::filesystem::path(STRAITS_SOURCE_DIR) /
                                          "rules/scenarios/close-remote-access");
    server_.options().schedule_interval = Duration::seconds(1);
    // Each agent keeps two connections (its long-poll and the rest), each
    // holding a worker thread while it lives: room for them and the test.
    server_.options().threads = 16;
    server_.options().min_pass_gap = Duration::milliseconds(20);
    server_.options().agent_heartbeat_interval = Duration::seconds(1);
    server_.options().agent_lost_after = Duration::seconds(6);
    server_.options().agent_stop_grace = Duration::seconds(5);
  }
  void SetUp() override {
    server_.start();
    // Root agents run jobs as straits-run: the train jobs' lock file is made here.
    std::filesystem::permissions(server_.dir(), std::filesystem::perms(01777));
    admin_ = server_.admin_token();
    ticker_ = std::thread([this] {
      auto last = std::chrono::steady_clock::now();
      while (!stop_ticking_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const auto now = std::chrono::steady_clock::now();
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - last).count();
        server_.clock().advance(Duration::microseconds(us));
        last = now;
      }
    });
  }
  void TearDown() override {
    for (auto& a : agents_) a->kill(SIGTERM, true);
    stop_ticking_ = true;
    if (ticker_.joinable()) ticker_.join();
    server_.stop();
    if (HasFailure()) {
      for (auto& a : agents_) std::cerr << "---- agent log\n" << a->log();
    }
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

  // An agent for `site` on `backend`, its state under the test's folder.
  AgentProcess& agent(const std::string& name, const std::string& site,
                      const std::string& backend) {
    std::vector<std::string> args = {STRAITS_BINARY, "agent",
                                     "--server",     url(),
                                     "--token",      server_.agent_token({site}),
                                     "--site",       site,
                                     "--backend",    backend,
                                     "--name",       name,
                                     "--state-dir",  (server_.dir() / ("agent-" + name)).string(),
                                     "--kill-grace", "3s",
                                     "--poll-wait",  "5"};
    if (backend == "slurm") {
      args.insert(args.end(), {"--slurm-poll-interval", "1s"});
    } else {
      args.insert(args.end(), {"--local-poll-interval", "200ms"});
    }
    std::vector<std::pair<std::string, std::string>> env = {
        {"SLURM_CONF", std::string(STRAITS_TEST_SLURM_DIR) + "/etc/slurm.conf"}};
    agents_.push_back(
        std::make_unique<AgentProcess>(args, server_.dir() / ("agent-" + name + ".log"), env));
    agents_.back()->start();
    return *agents_.back();
  }

  std::string agent_id(const std::string& name) {
    const Answer agents = server_.get("/v1/agents", admin_);
    for (const json& a : agents.body["items"]) {
      if (a["name"] == name) return a["id"];
    }
    return "";
  }
  json job(const std::string& id) { return server_.get("/v1/jobs/" + id, admin_).body; }
  std::vector<std::string> logs(const std::string& id) {
    std::vector<std::string> lines;
    const Answer answer = server_.get("/v1/jobs/" + id + "/logs", admin_);
    for (const json& l : answer.body["lines"]) {
      lines.push_back(l);
    }
    return lines;
  }
  std::string log_text(const std::string& id) {
    std::string all;
    for (const auto& l : logs(id)) all += l + "\n";
    return all;
  }
  std::vector<std::string> event_kinds(const std::string& id) {
    std::vector<std::string> kinds;
    const Answer events = server_.get("/v1/jobs/" + id + "/events", admin_);
    for (const json& e : events.body["items"]) {
      kinds.push_back(e["kind"]);
    }
    return kinds;
  }
  // Waits until `done` holds (checked every 100 ms), at most `seconds`.
  bool wait_until(const std::function<bool()>& done, int seconds) {
    return straits::testing::wait_until(done, std::chrono::seconds(seconds),
                                        std::chrono::milliseconds(100));
  }
  bool wait_for_state(const std::string& id, const std::string& state, int seconds) {
    return wait_until([&] { return job(id)["state"] == state; }, seconds);
  }
  // The step the job's output last printed (0 when none).
  int last_step(const std::string& id) {
    int step = 0;
    for (const auto& line : logs(id)) {
      int s = 0, n = 0;
      if (std::sscanf(line.c_str(), "step %d/%d", &s, &n) == 2) step = s;
    }
    return step;
  }

  // The train command of a job, and what an uninterrupted run of it prints.
  static std::string train(int steps, const std::string& lock) {
    return train_binary() + " --steps " + std::to_string(steps) +
           " --step-ms 200 --checkpoint-every 5 --lock " + lock;
  }
  static std::string uninterrupted_result(int steps) {
    std::string out =
        output_of("env -u STRAITS_CHECKPOINT_DIR -u STRAITS_RESUME_FROM " + train_binary() +
                  " --steps " + std::to_string(steps) + " --step-ms 0");
    const auto at = out.find("final ");
    return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
  }

  TestServer server_;
  std::string admin_;
  std::atomic<bool> stop_ticking_{false};
  std::thread ticker_;
  std::vector<std::unique_ptr<AgentProcess>> agents_;
};

// Jobs of hanshan that start in Singapore (sg-tuas-1, the local backend) and
// may move home to its own cluster (cn-ulanqab-1, H800, on Slurm).
class MovingJobTest : public EndToEndTest {
 protected:
  // The two agents, both active.
  void start_agents() {
    sg_ = &agent("sg", "sg-tuas-1", "local");
    cn_ = &agent("cn", "cn-ulanqab-1", "slurm");
    ASSERT_TRUE(wait_until(
        [&] { return server_.get("/v1/agents?state=active", admin_).body["items"].size() == 2; },
        30))
        << server_.get("/v1/agents", admin_).text;
  }
  // A job of hanshan that may run on H100 (Singapore, leased) or H800 (its
  // own pool at home), Singapore first.
  std::string submit(int steps) {
    Answer job = server_.post("/v1/jobs", admin_,
                              {{"org", "hanshan"},
                               {"gpus", 8},
                               {"work", 200},
                               {"eligible_chips", {"h100-sxm", "h800"}},
                               {"checkpoint_gb", 100},
                               {"checkpoint_interval", "PT1M"},
                               {"preferences", {{"site_order", {"sg-tuas-1", "cn-ulanqab-1"}}}},
                               {"command", train(steps, (server_.dir() / "lock").string())}});
    EXPECT_EQ(job.status, 201) << job.text;
    return job.body["id"];
  }
  // Runs a job in Singapore until it has done some steps, then moves the
  // clock to `when` and checks it finishes on the domestic cluster.
  void moves_and_finishes(const std::string& id, Instant when, int steps) {
    ASSERT_TRUE(wait_until([&] { return job(id)["state"] == "running" && last_step(id) >= 8; }, 60))
        << job(id).dump(2);
    EXPECT_EQ(job(id)["placement"]["site"], "sg-tuas-1");
    EXPECT_EQ(job(id)["run"]["agent"], agent_id("sg"));
    server_.clock().set(when);
    ASSERT_TRUE(wait_until([&] { return job(id)["run"]["attempt"] == 2; }, 60)) << job(id).dump(2);
    EXPECT_EQ(job(id)["placement"]["site"], "cn-ulanqab-1") << job(id).dump(2);
    ASSERT_TRUE(wait_for_state(id, "succeeded", 120)) << job(id).dump(2) << log_text(id);
    const json done = job(id);
    EXPECT_EQ(done["run"]["agent"], agent_id("cn"));
    // It left Singapore with the checkpoint attempt 1 wrote there.
    const Answer events = server_.get("/v1/jobs/" + id + "/events", admin_);
    std::string left_with;
    for (const json& e : events.body["items"]) {
      if (e["kind"] == "moved") left_with = e["data"]["checkpoint"]["path"];
    }
    EXPECT_NE(left_with.find("agent-sg/checkpoints/" + id + "/attempt-1/"), std::string::npos)
        << events.text;
    const std::string text = log_text(id);
    // Resumed from the checkpoint, not from the start; the same result as
    // an uninterrupted run; and never two runs at once.
    EXPECT_NE(text.find("resumed from step"), std::string::npos) << text;
    EXPECT_NE(text.find(uninterrupted_result(steps)), std::string::npos) << text;
    EXPECT_EQ(text.find("another run holds"), std::string::npos) << text;
    auto kinds = event_kinds(id);
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), "checkpoint"), kinds.end());
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), "moved"), kinds.end());
  }

  AgentProcess* sg_ = nullptr;
  AgentProcess* cn_ = nullptr;
};

}  // namespace straits::e2e
