// The server's side of the agent protocol (docs/agents.md), spoken over real
// HTTP by the test as an agent would: registration, assignments derived from
// the jobs, reports moving jobs through their lifecycle, idempotency, lost
// agents. The real agent and backends run against it in tests/agent/.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <set>
#include <thread>

#include "api/internal/job_state.h"
#include "api/server_fixture.h"

namespace straits::api {
namespace {

using testing_util::Answer;
using testing_util::at;
using testing_util::json;
using testing_util::TestServer;

class AgentsTest : public ::testing::Test {
 protected:
  AgentsTest() : server_(at("2026-12-31T23:00:00Z")) {
    server_.options().rule_dirs.push_back(std::filesystem::path(STRAITS_SOURCE_DIR) /
                                          "rules/scenarios/close-remote-access");
    server_.options().agent_lost_after = Duration::seconds(3600);
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
  }

  json register_agent(const std::string& name, const std::string& site,
                      const std::string& token = "") {
    Answer a = server_.post("/v1/agents", token.empty() ? admin_ : token,
                            {{"name", name}, {"sites", {site}}, {"backend", "local"}});
    EXPECT_TRUE(a.status == 201 || a.status == 200) << a.text;
    return a.body;
  }
  std::string submit(const json& extra = json::object()) {
    json body = {{"gpus", 8},
                 {"work", 20000},
                 {"eligible_chips", {"h100-sxm"}},
                 {"checkpoint_gb", 10},
                 {"checkpoint_interval", "PT10M"},
                 {"command", "straits-train --steps 10"}};
    body.update(extra);
    Answer job = server_.post("/v1/jobs", engineer_, body);
    EXPECT_EQ(job.status, 201) << job.text;
    return job.body["id"];
  }
  json assignments(const std::string& agent, int wait = 0) {
    Answer a =
        server_.get("/v1/agents/" + agent + "/assignments?wait=" + std::to_string(wait), admin_);
    EXPECT_EQ(a.status, 200) << a.text;
    return a.body["assignments"];
  }
  json report(const std::string& agent, const json& reports) {
    Answer a = server_.post("/v1/agents/" + agent + "/reports", admin_, {{"reports", reports}});
    EXPECT_EQ(a.status, 200) << a.text;
    return a.body["results"];
  }
  // Attempt 1 of the job started at the agent (handle "1").
  json start(const std::string& agent, const std::string& id) {
    return report(agent, {{{"job", id}, {"attempt", 1}, {"event", "started"}, {"handle", "1"}}});
  }
  static json exited(const std::string& id, const char* outcome, int signal) {
    return {
        {"job", id}, {"attempt", 1}, {"event", "exited"}, {"outcome", outcome}, {"signal", signal}};
  }
  json job(const std::string& id) { return server_.get("/v1/jobs/" + id, engineer_).body; }
  std::vector<std::string> event_kinds(const std::string& id) {
    std::vector<std::string> kinds;
    Answer events = server_.get("/v1/jobs/" + id + "/events", engineer_);
    EXPECT_EQ(events.status, 200) << events.text;
    for (const json& e : events.body["items"]) {
      kinds.push_back(e["kind"]);
    }
    return kinds;
  }

  TestServer server_;
  std::string admin_, engineer_;
};

TEST_F(AgentsTest, AJobRunsAtItsSitesAgentAndSucceedsWithItsLogs) {
  json agent = register_agent("sg-a", "sg-tuas-1");
  const std::string aid = agent["id"];
  EXPECT_EQ(agent["state"], "active");
  EXPECT_EQ(agent["heartbeat_interval_seconds"], 5);
  // Another site's agent is handed nothing of it.
  const std::string other = register_agent("tokyo-a", "jp-tokyo-1")["id"];
  const std::string id = submit();
  ASSERT_TRUE(server_.server().schedule_now());
  ASSERT_EQ(job(id)["state"], "assigned");
  json list = assignments(aid);
  ASSERT_EQ(list.size(), 1u) << list.dump();
  const json start = list[0];
  EXPECT_EQ(start["id"], id + "/1/start");
  EXPECT_EQ(start["kind"], "start");
  EXPECT_EQ(start["command"], "straits-train --steps 10");
  EXPECT_EQ(start["gpus"], 8);
  EXPECT_EQ(start["nodes"], 1);
  EXPECT_EQ(start["gpus_per_node"], 8);
  EXPECT_EQ(start["chip"], "h100-sxm");
  EXPECT_TRUE(start["resume_from"].is_null());
  // The rule of 2027-01-01 closes its window: a hard end the agent keeps.
  EXPECT_EQ(start["must_leave_by"], "2027-01-01T00:00:00Z");
  EXPECT_EQ(start["must_leave_in_seconds"], 3600);
  EXPECT_TRUE(assignments(other).empty());

  json results = report(aid, {{{"job", id},
                               {"attempt", 1},
                               {"event", "started"},
                               {"assignment", id + "/1/start"},
                               {"handle", "4711"}}});
  EXPECT_EQ(results[0]["applied"], true) << results.dump();
  EXPECT_EQ(job(id)["state"], "running");
  EXPECT_EQ(job(id)["run"]["agent"], aid);
  EXPECT_EQ(job(id)["run"]["handle"], "4711");
  // Started: no longer handed out. A repeated report changes nothing.
  EXPECT_TRUE(assignments(aid).empty());
  results = report(aid, {{{"job", id}, {"attempt", 1}, {"event", "started"}, {"handle", "4711"}}});
  EXPECT_EQ(results[0]["applied"], false);

  report(aid, {{{"job", id}, {"attempt", 1}, {"event", "log"}, {"text", "step 1\nstep 2\n"}},
               {{"job", id},
                {"attempt", 1},
                {"event", "checkpoint"},
                {"path", "/c/step-2"},
                {"note", "step=2"}},
               {{"job", id}, {"attempt", 1}, {"event", "log"}, {"text", "final result=ab\n"}},
               {{"job", id},
                {"attempt", 1},
                {"event", "exited"},
                {"outcome", "succeeded"},
                {"exit_code", 0},
                {"log_tail", "final result=ab\n"}}});
  json done = job(id);
  EXPECT_EQ(done["state"], "succeeded") << done.dump();
  EXPECT_EQ(done["run"]["checkpoint"]["path"], "/c/step-2");
  EXPECT_EQ(done["run"]["result"]["exit_code"], 0);
  Answer logs = server_.get("/v1/jobs/" + id + "/logs", engineer_);
  EXPECT_EQ(logs.body["lines"], json({"step 1", "step 2", "final result=ab"})) << logs.text;
  EXPECT_EQ(event_kinds(id), (std::vector<std::string>{"submitted", "placed", "started", "log",
                                                       "checkpointed", "log", "succeeded"}));
  // After its end, a late report of the same attempt is not applied.
  results =
      report(aid, {{{"job", id}, {"attempt", 1}, {"event", "exited"}, {"outcome", "failed"}}});
  EXPECT_EQ(results[0]["applied"], false);
  EXPECT_EQ(job(id)["state"], "succeeded");
}

TEST_F(AgentsTest, AFailedRunEndsTheJobWithItsExitCodeAndLogTail) {
  const std::string aid = register_agent("sg-a", "sg-tuas-1")["id"];
  const std::string id = submit({{"command", "no-such-command"}});
  ASSERT_TRUE(server_.server().schedule_now());
  ASSERT_EQ(assignments(aid).size(), 1u);
  report(aid, {{{"job", id}, {"attempt", 1}, {"event", "started"}, {"handle", "1"}},
               {{"job", id},
                {"attempt", 1},
                {"event", "exited"},
                {"outcome", "failed"},
                {"exit_code", 127},
                {"log_tail", "sh: 1: no-such-command: not found\n"}}});
  json failed = job(id);
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_EQ(failed["run"]["result"]["exit_code"], 127);
  EXPECT_NE(failed["run"]["result"]["log_tail"].get<std::string>().find("not found"),
            std::string::npos);
}

TEST_F(AgentsTest, TheRuleCheckpointsTheRunAndTheNextAttemptResumesFromIt) {
  const std::string aid = register_agent("sg-a", "sg-tuas-1")["id"];
  const std::string id = submit({{"checkpoint_gb", 100}});
  ASSERT_TRUE(server_.server().schedule_now());
  ASSERT_EQ(assignments(aid).size(), 1u);
  start(aid, id);
  // A checkpoint's time before the rule takes effect.
  server_.clock().set(at("2026-12-31T23:59:50Z"));
  ASSERT_TRUE(server_.server().schedule_now());
  ASSERT_EQ(job(id)["state"], "checkpointing") << job(id).dump();
  json list = assignments(aid);
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["id"], id + "/1/checkpoint");
  EXPECT_EQ(list[0]["then"], "stop");
  EXPECT_EQ(list[0]["deadline_in_seconds"], 10);
  // Handed out already: a long-poll waits, then hands it again (not acked).
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(assignments(aid, 1).size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  report(aid,
         {{{"job", id}, {"attempt", 1}, {"event", "ack"}, {"assignment", id + "/1/checkpoint"}},
          {{"job", id}, {"attempt", 1}, {"event", "checkpoint"}, {"path", "/c/step-7"}},
          exited(id, "cancelled", 15)});
  EXPECT_TRUE(assignments(aid).empty());
  json moved = job(id);
  EXPECT_EQ(moved["state"], "queued") << moved.dump();
  auto kinds = event_kinds(id);
  EXPECT_EQ(kinds.back(), "moved");
  // The next attempt resumes from the checkpoint (no place is left for it
  // here once the rule is in force: tests/agent runs it on an own pool).
  EXPECT_EQ(moved["run"]["checkpoint"]["path"], "/c/step-7");
  EXPECT_EQ(moved["run"]["active"], false);
}

// A run whose window closed and whose agent never said it stopped is given
// up on after the stop grace: the job is queued again and its run ended,
// in the store as in memory (a restarted server shows the same job).
TEST_F(AgentsTest, ARunGivenUpOnAtItsWindowsEndIsEndedInTheStoreToo) {
  const std::string aid = register_agent("sg-a", "sg-tuas-1")["id"];
  const std::string id = submit({{"checkpoint_gb", 100}});
  ASSERT_TRUE(server_.server().schedule_now());
  ASSERT_EQ(assignments(aid).size(), 1u);
  start(aid, id);
  server_.clock().set(at("2026-12-31T23:59:50Z"));
  ASSERT_TRUE(server_.server().schedule_now());
  ASSERT_EQ(job(id)["state"], "checkpointing") << job(id).dump();
  // The window closes; the agent is silent: a stop is asked, then given up on.
  server_.clock().set(at("2027-01-01T00:00:05Z"));
  ASSERT_TRUE(server_.server().schedule_now());
  server_.clock().set(at("2027-01-01T00:01:00Z"));
  ASSERT_TRUE(server_.server().schedule_now());
  const json moved = job(id);
  ASSERT_EQ(moved["state"], "queued") << moved.dump();
  EXPECT_EQ(moved["run"]["active"], false) << moved.dump();
  const std::string before = server_.get("/v1/jobs/" + id, engineer_).text;
  server_.stop();
  server_.start();
  EXPECT_EQ(server_.get("/v1/jobs/" + id, engineer_).text, before);
}

TEST_F(AgentsTest, ACancelledRunningJobGetsACancelAssignment) {
  const std::string aid = register_agent("sg-a", "sg-tuas-1")["id"];
  const std::string id = submit();
  ASSERT_TRUE(server_.server().schedule_now());
  ASSERT_EQ(assignments(aid).size(), 1u);
  start(aid, id);
  ASSERT_EQ(server_.post("/v1/jobs/" + id + "/cancel", engineer_, nullptr).status, 200);
  json list = assignments(aid);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id + "/1/cancel");
  report(aid, {{{"job", id}, {"attempt", 1}, {"event", "ack"}, {"assignment", id + "/1/cancel"}},
               exited(id, "cancelled", 15)});
  EXPECT_TRUE(assignments(aid).empty());
  EXPECT_EQ(job(id)["state"], "cancelled");
  EXPECT_EQ(event_kinds(id).back(), "stopped");
}

TEST_F(AgentsTest, ARunTheServerDoesNotExpectIsStopped) {
  const std::string aid = register_agent("sg-a", "sg-tuas-1")["id"];
  const std::string id = submit();
  Answer hb = server_.post("/v1/agents/" + aid + "/heartbeat", admin_,
                           {{"runs", {{{"job", id}, {"attempt", 3}, {"state", "running"}}}}});
  ASSERT_EQ(hb.status, 200) << hb.text;
  json list = assignments(aid);
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["id"], id + "/3/stop");
  // Gone from the next heartbeat: no more stop.
  ASSERT_EQ(
      server_.post("/v1/agents/" + aid + "/heartbeat", admin_, {{"runs", json::array()}}).status,
      200);
  EXPECT_TRUE(assignments(aid).empty());
}

TEST_F(AgentsTest, ALostAgentsJobIsRequeuedFromItsCheckpoint) {
  server_.stop();
  server_.options().agent_lost_after = Duration::milliseconds(300);
  server_.start();
  const std::string aid = register_agent("sg-a", "sg-tuas-1")["id"];
  const std::string id = submit();
  ASSERT_TRUE(server_.server().schedule_now());
  ASSERT_EQ(assignments(aid).size(), 1u);
  report(aid, {{{"job", id}, {"attempt", 1}, {"event", "started"}, {"handle", "1"}},
               {{"job", id}, {"attempt", 1}, {"event", "checkpoint"}, {"path", "/c/step-4"}}});
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE(server_.server().schedule_now());
  Answer agent = server_.get("/v1/agents/" + aid, admin_);
  EXPECT_EQ(agent.body["state"], "lost") << agent.text;
  // Requeued, and placed again by the same pass's replan or the next one.
  ASSERT_TRUE(server_.server().schedule_now());
  json again = job(id);
  EXPECT_EQ(again["run"]["attempt"], 2) << again.dump();
  EXPECT_EQ(again["run"]["requeues"], 1);
  auto kinds = event_kinds(id);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "requeued"), kinds.end());
  // The agent comes back: active again, and attempt 2 starts from step 4.
  ASSERT_EQ(
      server_.post("/v1/agents/" + aid + "/heartbeat", admin_, {{"runs", json::array()}}).status,
      200);
  EXPECT_EQ(server_.get("/v1/agents/" + aid, admin_).body["state"], "active");
  json list = assignments(aid);
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["id"], id + "/2/start");
  EXPECT_EQ(list[0]["resume_from"], "/c/step-4");
  // A report about attempt 1 is no longer applied.
  json results = report(aid, {{{"job", id},
                               {"attempt", 1},
                               {"event", "exited"},
                               {"outcome", "succeeded"},
                               {"exit_code", 0}}});
  EXPECT_EQ(results[0]["applied"], false);
  EXPECT_NE(job(id)["state"], "succeeded");
}

// hanshan-sg may use the pools its parent hanshan owns, without a lease: the
// loop must not cut such a placement for want of one (it did, every pass).
TEST_F(AgentsTest, AJobOnItsGroupsOwnPoolKeepsItsPlace) {
  const std::string id = submit({{"eligible_chips", {"ascend-910b"}}});
  ASSERT_TRUE(server_.server().schedule_now());
  ASSERT_EQ(job(id)["state"], "assigned") << job(id).dump();
  EXPECT_EQ(job(id)["placement"]["pool"], "cn-ulanqab-1-910b");
  for (int i = 0; i < 3; ++i) {
    server_.clock().advance(Duration::seconds(10));
    ASSERT_TRUE(server_.server().schedule_now());
  }
  EXPECT_EQ(job(id)["state"], "assigned") << job(id).dump();
  EXPECT_EQ(job(id)["run"]["attempt"], 1);
}

TEST_F(AgentsTest, OnlyAdminsAndTheSitesOperatorAdminActAsAgents) {
  const std::string lionpoint = server_.make_user("op", "operator-admin", "", "lionpoint");
  const std::string tokyo_op = server_.make_user("op2", "operator-admin", "", "cascade-ridge");
  json own = register_agent("lp", "sg-tuas-1", lionpoint);
  EXPECT_EQ(own["state"], "active");
  Answer other = server_.post("/v1/agents", tokyo_op,
                              {{"name", "x"}, {"sites", {"sg-tuas-1"}}, {"backend", "local"}});
  EXPECT_EQ(other.status, 403) << other.text;
  EXPECT_EQ(other.body["error"]["field"], "sites[0]");
  // Another operator's agent does not exist for it.
  EXPECT_EQ(
      server_.get("/v1/agents/" + own["id"].get<std::string>() + "/assignments", tokyo_op).status,
      404);
  EXPECT_EQ(server_
                .post("/v1/agents", engineer_,
                      {{"name", "y"}, {"sites", {"sg-tuas-1"}}, {"backend", "local"}})
                .status,
            403);
  Answer bad = server_.post("/v1/agents", admin_,
                            {{"name", "z"}, {"sites", {"sg-nowhere"}}, {"backend", "local"}});
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.body["error"]["field"], "sites[0]");
  bad = server_.post("/v1/agents", admin_,
                     {{"name", "z"}, {"sites", {"sg-tuas-1"}}, {"backend", "kubernetes"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["field"], "backend");
  Answer bad_report =
      server_.post("/v1/agents/" + own["id"].get<std::string>() + "/reports", lionpoint,
                   {{"reports", {{{"job", "j-1"}, {"attempt", 1}, {"event", "x"}}}}});
  EXPECT_EQ(bad_report.status, 400);
  EXPECT_EQ(bad_report.body["error"]["field"], "reports[0].event");
  // The same name registers the same agent again.
  EXPECT_EQ(register_agent("lp", "sg-tuas-1", lionpoint)["id"], own["id"]);
}

// Issue 16: a job's run is typed in memory and JSON in the store. Every
// shape the server writes (placed, started, checkpointed, ended, requeued,
// placed again, cancelled) reads back into the struct and prints the same
// bytes; the API shows the stored run as it is.
TEST_F(AgentsTest, EveryRunShapeTheServerWritesReadsBackToTheSameBytes) {
  using api::internal::parse_run;
  using api::internal::run_json;
  const std::string aid = register_agent("sg-a", "sg-tuas-1")["id"];
  const std::string id = submit();
  std::vector<std::string> shapes;
  auto keep = [&] {
    json run = job(id)["run"];
    ASSERT_TRUE(run.is_object()) << run.dump();
    shapes.push_back(run.dump());
  };
  EXPECT_TRUE(job(id)["run"].is_null());  // none before the first placement
  ASSERT_TRUE(server_.server().schedule_now());
  keep();
  start(aid, id);
  keep();
  report(aid, {{{"job", id},
                {"attempt", 1},
                {"event", "checkpoint"},
                {"path", "/ckpt/1"},
                {"note", "step 5"}}});
  keep();
  report(aid, json::array({exited(id, "node_failure", 9)}));  // requeued, with a result
  keep();
  ASSERT_TRUE(server_.server().schedule_now());  // attempt 2
  keep();
  report(aid, {{{"job", id}, {"attempt", 2}, {"event", "started"}, {"handle", "2"}}});
  ASSERT_EQ(server_.request("POST", "/v1/jobs/" + id + "/cancel", engineer_).status, 200);
  keep();
  report(aid, {{{"job", id},
                {"attempt", 2},
                {"event", "exited"},
                {"outcome", "cancelled"},
                {"exit_code", 143}}});
  keep();
  EXPECT_EQ(json::parse(shapes.back())["result"]["exit_code"], 143);
  EXPECT_EQ(json::parse(shapes.back())["checkpoint"]["path"], "/ckpt/1");
  for (const std::string& shape : shapes) {
    auto parsed = parse_run(shape);
    ASSERT_TRUE(parsed) << parsed.error().message();
    ASSERT_TRUE(parsed->has_value());
    EXPECT_EQ(run_json(*parsed), shape);
  }
  EXPECT_EQ(shapes.size(), std::set<std::string>(shapes.begin(), shapes.end()).size());
}

// A run the server cannot read whole is an error naming what is wrong, not
// half-read (and written back without what it did not know).
TEST(RunState, RunJsonTheServerDidNotWriteIsRejectedWithWhy) {
  using api::internal::parse_run;
  EXPECT_FALSE(parse_run("")->has_value());
  EXPECT_FALSE(parse_run("null")->has_value());
  json good =
      json::parse(R"({"active":false,"agent":null,"attempt":1,"checkpoint":null,"handle":null,)"
                  R"("requeues":0,"result":null,"started_at":null,"stop":"","stop_reason":""})");
  ASSERT_TRUE(parse_run(good.dump()));
  auto why = [&](const std::string& text) {
    auto parsed = parse_run(text);
    return parsed ? std::string("accepted") : parsed.error().message();
  };
  EXPECT_EQ(why("{not json"), "its run is not JSON");
  EXPECT_EQ(why("[1]"), "its run is not an object");
  json missing = good;
  missing.erase("stop");
  EXPECT_EQ(why(missing.dump()), "its run has no 'stop'");
  json unknown = good;
  unknown["colour"] = "red";
  EXPECT_EQ(why(unknown.dump()), "its run has 'colour', which this server does not know");
  json wrong = good;
  wrong["attempt"] = "1";
  EXPECT_EQ(why(wrong.dump()), "its run has 'attempt' that is not an integer");
  json bad_checkpoint = good;
  bad_checkpoint["checkpoint"] = {{"path", "/x"}, {"note", ""}, {"attempt", 1}};
  EXPECT_EQ(why(bad_checkpoint.dump()), "its checkpoint has no 'at'");
}

TEST(RunState, JobStatesHaveTheirNamesOnTheWire) {
  using api::internal::JobState;
  std::vector<std::string> names;
  for (JobState s : api::internal::kJobStates) {
    names.push_back(to_string(s));
    EXPECT_EQ(api::internal::parse_job_state(names.back()), s);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"queued", "assigned", "running", "checkpointing",
                                             "succeeded", "failed", "cancelled"}));
  EXPECT_FALSE(api::internal::parse_job_state("Queued"));
}

// On a started server: a lease of 16 H100 GPUs for hanshan-sg, an engineer
// of it (the token returned), and `jobs` jobs of 8 GPUs it submitted (ids).
std::string lease_and_submit(TestServer& server, int jobs, std::vector<std::string>& ids) {
  EXPECT_EQ(
      server
          .lease("hanshan-sg", "sg-tuas-1-h100", 16, "2026-12-01T00:00:00Z", "2027-06-01T00:00:00Z")
          .status,
      201);
  std::string engineer = server.make_user("li", "engineer", "hanshan-sg");
  for (int i = 0; i < jobs; ++i) {
    Answer job = server.post("/v1/jobs", engineer,
                             {{"gpus", 8}, {"work", 20000}, {"eligible_chips", {"h100-sxm"}}});
    EXPECT_EQ(job.status, 201) << job.text;
    ids.push_back(job.body.value("id", ""));
  }
  return engineer;
}

// A mutation that throws part-way (here: saving the second of two jobs a
// pass places) leaves memory as the store holds it, and the server serves
// on: what it shows equals what a server started afresh on the store shows.
TEST(Rollback, AMutationThatFailsPartWayLeavesMemoryAsTheStoreHoldsIt) {
  TestServer server(at("2026-12-31T23:00:00Z"));
  auto fail_on = std::make_shared<std::string>();
  server.options().on_save_job = [fail_on](const std::string& job) {
    if (job == *fail_on) throw std::runtime_error("injected failure saving " + job);
  };
  server.start();
  std::vector<std::string> ids;
  const std::string engineer = lease_and_submit(server, 2, ids);
  auto states = [&] {
    std::vector<std::string> out;
    for (const auto& id : ids) out.push_back(server.get("/v1/jobs/" + id, engineer).body["state"]);
    return out;
  };
  auto restarted_shows_the_same = [&] {
    const std::string before = server.get("/v1/jobs", engineer).text;
    server.stop();
    server.start();
    EXPECT_EQ(server.get("/v1/jobs", engineer).text, before);
  };
  *fail_on = ids[1];
  ASSERT_TRUE(server.server().schedule_now());
  // Without the reload the first job would be "assigned" in memory only.
  EXPECT_EQ(states(), (std::vector<std::string>{"queued", "queued"}));
  restarted_shows_the_same();
  fail_on->clear();
  ASSERT_TRUE(server.server().schedule_now());
  EXPECT_EQ(states(), (std::vector<std::string>{"assigned", "assigned"}));
  restarted_shows_the_same();
}

// A store holding a run this server cannot read is refused at start, naming
// the job and what is wrong, rather than served with the run half-read.
TEST(RunState, AStoreWithARunTheServerCannotReadIsRefusedAtStart) {
  TestServer server(at("2026-12-31T23:00:00Z"));
  server.start();
  std::vector<std::string> ids;
  const std::string engineer = lease_and_submit(server, 1, ids);
  const std::string id = ids.at(0);
  ASSERT_TRUE(server.server().schedule_now());
  json run = server.get("/v1/jobs/" + id, engineer).body["run"];
  ASSERT_TRUE(run.is_object());
  server.stop();
  run["colour"] = "red";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((server.dir() / "straits.db").c_str(), &db), SQLITE_OK);
  const std::string update =
      "UPDATE jobs SET run_json = '" + run.dump() + "' WHERE id = '" + id + "'";
  EXPECT_EQ(sqlite3_exec(db, update.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);
  auto created = Server::create(server.options(), server.clock());
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().message().find(
                "store: job " + id + ": its run has 'colour', which this server does not know"),
            std::string::npos)
      << created.error().message();
}

}  // namespace
}  // namespace straits::api
