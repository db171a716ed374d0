// Jobs running for real at two sites: Singapore (sg-tuas-1, the local
// backend) and hanshan's own domestic cluster (cn-ulanqab-1, H800, on the
// real Slurm cluster of the `slurm` fixture). A rule taking effect, or a
// lease ending, moves a running job from Singapore to the domestic site
// through a checkpoint, and it finishes there with the same result as an
// uninterrupted run. Faults: an agent killed mid-job, a Slurm node that
// crashes, a command that fails.
#include <gtest/gtest.h>

#include "e2e/e2e_fixture.h"

namespace straits::e2e {
namespace {

class MoveTest : public MovingJobTest {
 protected:
  void SetUp() override {
    MovingJobTest::SetUp();
    start_agents();
  }
  Answer lease(const char* end) {
    return server_.lease("hanshan", "sg-tuas-1-h100", 8, "2026-12-01T00:00:00Z", end);
  }
};

TEST_F(MoveTest, ARuleTakingEffectMovesTheRunningJobHomeThroughACheckpoint) {
  ASSERT_EQ(lease("2027-06-01T00:00:00Z").status, 201);
  const std::string id = submit(60);
  ASSERT_TRUE(wait_until([&] { return !job(id)["placement"].is_null(); }, 30));
  // close-remote-access forbids hanshan's remote access from 2027-01-01.
  EXPECT_EQ(job(id)["placement"]["must_leave_by"], "2027-01-01T00:00:00Z");
  // 20 s (100 GB at 5 GB/s) before the rule: the checkpoint is asked for.
  moves_and_finishes(id, at("2026-12-31T23:59:41Z"), 60);
}

TEST_F(MoveTest, ALeaseEndingMovesTheRunningJobHomeThroughACheckpoint) {
  ASSERT_EQ(lease("2026-12-31T23:40:00Z").status, 201);
  const std::string id = submit(60);
  ASSERT_TRUE(wait_until([&] { return !job(id)["placement"].is_null(); }, 30));
  EXPECT_EQ(job(id)["placement"]["must_leave_by"], "2026-12-31T23:40:00Z");
  moves_and_finishes(id, at("2026-12-31T23:39:41Z"), 60);
}

TEST_F(MoveTest, AKilledAgentsJobIsRequeuedFromItsCheckpointAndNeverRunsTwice) {
  ASSERT_EQ(lease("2027-06-01T00:00:00Z").status, 201);
  const std::string id = submit(50);
  ASSERT_TRUE(wait_until([&] { return job(id)["state"] == "running" && last_step(id) >= 8; }, 60))
      << job(id).dump(2);
  sg_->kill(SIGKILL, true);
  // Its run died with it: nothing of straits-train is left holding the lock.
  EXPECT_TRUE(wait_until(
      [&] {
        // ("loc[k]": the pattern must not match pgrep's own shell.)
        return output_of("pgrep -f -- '--loc[k] " + (server_.dir() / "lock").string() + "'")
            .empty();
      },
      10));
  // Lost after 6 s: requeued from its checkpoint, placed again (Singapore
  // first: waits for an agent there, or at home).
  ASSERT_TRUE(wait_until([&] { return job(id)["run"]["attempt"] == 2; }, 30)) << job(id).dump(2);
  EXPECT_EQ(server_.get("/v1/agents/" + agent_id("sg"), admin_).body["state"], "lost");
  EXPECT_EQ(job(id)["run"]["requeues"], 1);
  // The agent comes back (same name, same state folder).
  sg_ = &agent("sg", "sg-tuas-1", "local");
  ASSERT_TRUE(wait_for_state(id, "succeeded", 120)) << job(id).dump(2) << log_text(id);
  const std::string text = log_text(id);
  EXPECT_NE(text.find("resumed from step"), std::string::npos) << text;
  EXPECT_NE(text.find(uninterrupted_result(50)), std::string::npos) << text;
  EXPECT_EQ(text.find("another run holds"), std::string::npos) << text;
}

TEST_F(MoveTest, ACrashedSlurmNodeRequeuesTheJobWhichFinishesOnAnotherNode) {
  // No lease: only the domestic pool is left.
  const std::string id = submit(60);
  ASSERT_TRUE(wait_until([&] { return job(id)["state"] == "running" && last_step(id) >= 8; }, 60))
      << job(id).dump(2);
  EXPECT_EQ(job(id)["placement"]["site"], "cn-ulanqab-1");
  const std::string slurm_id = job(id)["run"]["handle"];
  const std::string conf = std::string("SLURM_CONF=") + STRAITS_TEST_SLURM_DIR + "/etc/slurm.conf";
  std::string node = output_of(conf + " squeue -h -j " + slurm_id + " -o %N");
  node.erase(node.find_last_not_of(" \n") + 1);
  ASSERT_FALSE(node.empty());
  const std::string script =
      std::string(STRAITS_SOURCE_DIR) + "/scripts/slurm-test-cluster.sh " + STRAITS_TEST_SLURM_DIR;
  ASSERT_EQ(std::system((script + " kill-node " + node + " >/dev/null 2>&1").c_str()), 0);
  // Slurm finds the node down (NODE_FAIL), the agent says so, the server
  // requeues from the checkpoint; the job runs again on the other H800 node.
  ASSERT_TRUE(wait_until([&] { return job(id)["run"]["attempt"] == 2; }, 90)) << job(id).dump(2);
  auto kinds = event_kinds(id);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "requeued"), kinds.end());
  bool node_failure = false;
  const Answer events = server_.get("/v1/jobs/" + id + "/events", admin_);
  for (const json& e : events.body["items"]) {
    node_failure |= e["kind"] == "requeued" &&
                    e["message"].get<std::string>().find("node_failure") != std::string::npos;
  }
  EXPECT_TRUE(node_failure) << server_.get("/v1/jobs/" + id + "/events", admin_).text;
  ASSERT_TRUE(wait_for_state(id, "succeeded", 120)) << job(id).dump(2) << log_text(id);
  EXPECT_NE(log_text(id).find(uninterrupted_result(60)), std::string::npos);
  ASSERT_EQ(std::system((script + " start-node " + node + " >/dev/null 2>&1").c_str()), 0);
}

TEST_F(MoveTest, ACommandThatFailsEndsTheJobWithItsExitCodeAndLogTail) {
  ASSERT_EQ(lease("2027-06-01T00:00:00Z").status, 201);
  Answer missing = server_.post("/v1/jobs", admin_,
                                {{"org", "hanshan"},
                                 {"gpus", 8},
                                 {"work", 200},
                                 {"eligible_chips", {"h100-sxm"}},
                                 {"command", "no-such-straits-command --flag"}});
  ASSERT_EQ(missing.status, 201);
  Answer failing = server_.post(
      "/v1/jobs", admin_,
      {{"org", "hanshan"},
       {"gpus", 8},
       {"work", 200},
       {"eligible_chips", {"h800"}},
       {"command", train_binary() + " --steps 10 --step-ms 10 --fail-at-step 4 --exit-code 9"}});
  ASSERT_EQ(failing.status, 201);
  const std::string a = missing.body["id"], b = failing.body["id"];
  ASSERT_TRUE(wait_for_state(a, "failed", 60)) << job(a).dump(2);
  ASSERT_TRUE(wait_for_state(b, "failed", 60)) << job(b).dump(2);
  json ja = job(a), jb = job(b);
  EXPECT_EQ(ja["run"]["result"]["exit_code"], 127) << ja.dump(2);
  EXPECT_NE(ja["run"]["result"]["log_tail"].get<std::string>().find("not found"),
            std::string::npos);
  EXPECT_EQ(jb["placement"]["site"], "cn-ulanqab-1");
  EXPECT_EQ(jb["run"]["result"]["exit_code"], 9) << jb.dump(2);
  EXPECT_NE(jb["run"]["result"]["log_tail"].get<std::string>().find("failing at step 4"),
            std::string::npos)
      << jb.dump(2);
  EXPECT_NE(log_text(b).find("failing at step 4"), std::string::npos)
      << server_.get("/v1/jobs/" + b + "/logs", admin_).text;
}

}  // namespace
}  // namespace straits::e2e
