// The agent against the real server (src/api, in this process on a loopback
// port, SQLite store in a temporary folder, the shipped catalog and rules):
// registration, a job's command run on the local backend until it succeeds
// with its output visible as the job's logs, and a cancel that stops the run.
// The big end-to-end and fault tests with `straits agent` processes and Slurm
// are in tests/e2e/.
#include <gtest/gtest.h>

#include <thread>

#include "agent/agent.h"
#include "api/server_fixture.h"
#include "exec/local.h"
#include "support/wait_until.h"

namespace straits::agent {
namespace {

using api::testing_util::Answer;
using api::testing_util::json;
using api::testing_util::TestServer;
using straits::testing::wait_until;

class AgentWithServerTest : public ::testing::Test {
 protected:
  AgentWithServerTest() : server_(*parse_instant("2026-12-31T23:00:00Z")) {
    server_.options().schedule_interval = Duration::milliseconds(200);
    server_.options().min_pass_gap = Duration::milliseconds(10);
    server_.options().agent_heartbeat_interval = Duration::seconds(1);
    server_.options().agent_lost_after = Duration::seconds(10);
  }
  void SetUp() override {
    server_.start();
    admin_ = server_.admin_token();
    ASSERT_EQ(server_
                  .lease("hanshan-sg", "sg-tuas-1-h100", 16, "2026-12-01T00:00:00Z",
                         "2027-06-01T00:00:00Z")
                  .status,
              201);
    engineer_ = server_.make_user("li", "engineer", "hanshan-sg");

    AgentOptions o;
    o.server_url = "http://127.0.0.1:" + std::to_string(server_.port());
    o.token = admin_;
    o.allow_admin_token = true;  // until agents have a role of their own on this server
    o.name = "sg-a";
    o.sites = {"sg-tuas-1"};
    o.state_dir = server_.dir() / "agent";
    o.kill_grace = Duration::seconds(1);
    o.poll_wait_seconds = 5;
    o.backend_poll_interval = Duration::milliseconds(20);
    o.log = [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      said_ += line + "\n";
    };
    auto made = Agent::create(std::move(o), exec::make_local_backend({Duration::seconds(1)}));
    ASSERT_TRUE(made) << made.error().message();
    agent_ = std::move(made).value();
    thread_ = std::thread([this] { result_ = agent_->run(); });
  }
  void TearDown() override {
    if (agent_) agent_->stop();
    if (thread_.joinable()) thread_.join();
    EXPECT_TRUE(result_) << result_.error().message();
    agent_.reset();  // its kept-alive connection would hold the server's stop 5 s
    server_.stop();
  }

  std::string submit(const std::string& command) {
    Answer job = server_.post("/v1/jobs", engineer_,
                              {{"gpus", 8},
                               {"work", 20000},
                               {"eligible_chips", {"h100-sxm"}},
                               {"checkpoint_gb", 10},
                               {"checkpoint_interval", "PT10M"},
                               {"command", command}});
    EXPECT_EQ(job.status, 201) << job.text;
    return job.body["id"];
  }
  json job(const std::string& id) { return server_.get("/v1/jobs/" + id, engineer_).body; }
  std::string said() {
    std::lock_guard lock(mutex_);
    return said_;
  }

  TestServer server_;
  std::string admin_, engineer_;
  std::unique_ptr<Agent> agent_;
  std::thread thread_;
  Status result_;
  std::mutex mutex_;
  std::string said_;
};

TEST_F(AgentWithServerTest, RunsAJobsCommandToSuccessWithItsLogs) {
  ASSERT_TRUE(wait_until(
      [&] { return server_.get("/v1/agents?state=active", admin_).body["items"].size() == 1; },
      std::chrono::seconds(10)))
      << said();
  const json agent = server_.get("/v1/agents", admin_).body["items"][0];
  EXPECT_EQ(agent["name"], "sg-a");
  const std::string id = submit(
      "echo \"hello from $STRAITS_JOB_ID\"; echo \"attempt $STRAITS_ATTEMPT gpus $STRAITS_GPUS\"");
  ASSERT_TRUE(wait_until([&] { return job(id)["state"] == "succeeded"; }, std::chrono::seconds(15)))
      << job(id).dump(2) << said();
  const json done = job(id);
  EXPECT_EQ(done["run"]["agent"], agent["id"]);
  EXPECT_EQ(done["run"]["result"]["outcome"], "succeeded");
  EXPECT_EQ(done["run"]["result"]["exit_code"], 0);
  const Answer logs = server_.get("/v1/jobs/" + id + "/logs", engineer_);
  ASSERT_EQ(logs.status, 200) << logs.text;
  EXPECT_EQ(logs.body["lines"], json({"hello from " + id, "attempt 1 gpus 8"})) << logs.text;
  EXPECT_NE(said().find("start " + id + " attempt 1 on local: handle "), std::string::npos)
      << said();
}

TEST_F(AgentWithServerTest, ACancelStopsTheRunningCommand) {
  const std::string id = submit("echo started; exec sleep 60");
  ASSERT_TRUE(wait_until(
      [&] {
        const json j = job(id);
        return j["state"] == "running" &&
               server_.get("/v1/jobs/" + id + "/logs", engineer_).body["lines"].size() == 1;
      },
      std::chrono::seconds(15)))
      << job(id).dump(2) << said();
  ASSERT_EQ(server_.post("/v1/jobs/" + id + "/cancel", engineer_, nullptr).status, 200);
  ASSERT_TRUE(
      wait_until([&] { return job(id)["run"]["active"] == false; }, std::chrono::seconds(10)))
      << job(id).dump(2) << said();
  const json done = job(id);
  EXPECT_EQ(done["state"], "cancelled");
  EXPECT_EQ(done["run"]["result"]["outcome"], "cancelled");
  EXPECT_EQ(done["run"]["result"]["signal"], 15);
  EXPECT_NE(said().find("cancel " + id + " attempt 1"), std::string::npos) << said();
}

}  // namespace
}  // namespace straits::agent
