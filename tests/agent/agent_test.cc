// The site agent. Its decisions (internal::Core) run real processes through
// the real local backend: short sh commands, a script that checkpoints on
// SIGUSR1. Time past a placement's end is reached by moving the core's
// steady clock ahead of the real one. The agent over HTTP runs against a
// small fake server in the test (it answers the protocol of docs/agents.md
// and records what the agent sent), which can go away and come back.
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "agent/agent.h"
#include "agent/internal/core.h"
#include "agent/internal/protocol.h"
#include "agent/internal/state.h"
#include "cli/shell.h"
#include "exec/local.h"
#include "policy/temp_dir.h"
#include "support/wait_until.h"

namespace straits::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using internal::AgentState;
using internal::Assignment;
using internal::Core;
using internal::Report;
using internal::RunRecord;
using internal::SteadyTime;
using nlohmann::json;
using testing_util::TempDir;
using Steady = std::chrono::steady_clock;

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

using straits::testing::wait_until;

Assignment start_of(const std::string& job, std::int32_t attempt, const std::string& command) {
  Assignment a;
  a.id = job + "/" + std::to_string(attempt) + "/start";
  a.kind = "start";
  a.job = job;
  a.attempt = attempt;
  a.site = "sg-tuas-1";
  a.pool = "sg-tuas-1-h100";
  a.chip = "h100-sxm";
  a.command = command;
  return a;
}

Assignment other_of(const std::string& kind, const std::string& job, std::int32_t attempt) {
  Assignment a;
  a.id = job + "/" + std::to_string(attempt) + "/" + kind;
  a.kind = kind;
  a.job = job;
  a.attempt = attempt;
  return a;
}

// "started", "log", "checkpoint", "exited:succeeded", "ack:j-1/1/stop", ...;
// output read in several pieces is one "log".
std::vector<std::string> events(const std::deque<Report>& reports) {
  std::vector<std::string> out;
  for (const Report& r : reports) {
    if (r.event == "log" && !out.empty() && out.back() == "log") continue;
    if (r.event == "exited") {
      out.push_back("exited:" + r.outcome);
    } else if (r.event == "ack") {
      out.push_back("ack:" + r.assignment);
    } else {
      out.push_back(r.event);
    }
  }
  return out;
}

std::string all_logs(const std::deque<Report>& reports) {
  std::string text;
  for (const Report& r : reports) {
    if (r.event == "log") text += r.text;
  }
  return text;
}

// A report of `job` attempt `attempt`, `event`, with what `fill` sets.
Report report_of(const std::string& job, std::int32_t attempt, const std::string& event,
                 const std::function<void(Report&)>& fill = nullptr) {
  Report r;
  r.job = job;
  r.attempt = attempt;
  r.event = event;
  if (fill) fill(r);
  return r;
}

const Report* find_event(const std::deque<Report>& reports, const std::string& event) {
  for (const Report& r : reports) {
    if (r.event == event) return &r;
  }
  return nullptr;
}

// A core over a real local backend in a temporary folder, with a steady
// clock that runs `ahead` of the real one.
class AgentCoreTest : public ::testing::Test {
 protected:
  AgentCoreTest() : backend_(exec::make_local_backend({Duration::seconds(1)})) {}

  internal::CoreOptions options() const {
    internal::CoreOptions o;
    o.work_root = dir_.path() / "runs";
    o.checkpoint_root = dir_.path() / "checkpoints";
    o.kill_grace = Duration::seconds(1);
    o.poll_interval = Duration::milliseconds(10);
    o.log_interval = Duration::milliseconds(10);
    o.partial_line_wait = Duration::milliseconds(100);
    return o;
  }
  std::unique_ptr<Core> make_core(AgentState state = {}, exec::Backend* backend = nullptr) {
    return std::make_unique<Core>(
        options(), backend != nullptr ? *backend : *backend_, std::move(state),
        [this] { return now(); }, [this](const std::string& line) { lines_.push_back(line); });
  }
  SteadyTime now() const { return Steady::now() + ahead_; }

  // Ticks until `done` or 10 s.
  bool tick_until(Core& core, const std::function<bool()>& done) {
    return wait_until(
        [&] {
          core.tick();
          return done();
        },
        10s);
  }
  static bool ended(const Core& core) {
    for (const auto& [key, run] : core.state().runs) {
      if (!run.ended) return false;
    }
    return true;
  }
  std::string marker() const { return (dir_.path() / "marker").string(); }
  // What the core said and queued, for failure messages.
  std::string said(const Core& core) const {
    std::string text;
    for (const auto& l : lines_) text += l + "\n";
    for (const Report& r : core.pending_reports()) text += internal::report_json(r) + "\n";
    return text;
  }

  TempDir dir_{"agent-core"};
  std::unique_ptr<exec::Backend> backend_;
  Steady::duration ahead_{};
  std::vector<std::string> lines_;
};

TEST_F(AgentCoreTest, RunsACommandAndReportsItsOutputAndExit) {
  auto core = make_core();
  core->handle({start_of("j-00000001", 1, "echo hello; echo \"$STRAITS_JOB_ID $STRAITS_ATTEMPT\"")},
               now());
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); }));
  EXPECT_EQ(events(core->pending_reports()),
            (std::vector<std::string>{"started", "log", "exited:succeeded"}));
  const Report& started = core->pending_reports().front();
  EXPECT_EQ(started.assignment, "j-00000001/1/start");
  EXPECT_FALSE(started.handle.empty());
  EXPECT_EQ(all_logs(core->pending_reports()), "hello\nj-00000001 1\n");
  const Report& exited = core->pending_reports().back();
  EXPECT_EQ(exited.exit_code, 0);
  EXPECT_EQ(exited.log_tail, "hello\nj-00000001 1\n");
  // The run's folders are where the options say.
  EXPECT_TRUE(fs::exists(dir_.path() / "runs/j-00000001/attempt-1/output.log"));
  EXPECT_EQ(lines_.front(), "start j-00000001 attempt 1 on local: handle " + started.handle);
}

TEST_F(AgentCoreTest, TheSameStartTwiceLaunchesOnce) {
  auto core = make_core();
  const Assignment a = start_of("j-00000002", 1, "echo x >> " + marker() + "; sleep 0.2");
  core->handle({a, a}, now());  // twice in one answer
  core->handle({a}, now());     // and again in the next
  core->tick();
  core->handle({a}, now());
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); }));
  EXPECT_EQ(read_file(marker()), "x\n");
  EXPECT_EQ(events(core->pending_reports()),
            (std::vector<std::string>{"started", "exited:succeeded"}));
  EXPECT_TRUE(core->state().done.contains("j-00000002/1/start"));
}

TEST_F(AgentCoreTest, ARestartFromTheStateFileNeverStartsAnAttemptAgain) {
  const fs::path state_file = dir_.path() / "state/state.json";
  const Assignment a = start_of("j-00000003", 2, "echo x >> " + marker() + "; sleep 30");
  std::string handle;
  {
    auto core = make_core();
    core->handle({a}, now());
    ASSERT_TRUE(tick_until(*core, [&] { return fs::exists(marker()); }));
    handle = core->state().runs.at("j-00000003/2").handle;
    ASSERT_TRUE(internal::write_state_file(
        state_file,
        internal::state_to_text(core->state(), Steady::now(), Instant::from_unix_seconds(0))));
  }
  // The same backend (the run goes on, as on Slurm): the start again does nothing.
  auto loaded = internal::load_state(state_file, Steady::now(), Instant::from_unix_seconds(0));
  ASSERT_TRUE(loaded && *loaded) << (loaded ? "no file" : loaded.error().message());
  auto core = make_core(**loaded);
  const std::size_t before = core->pending_reports().size();
  core->handle({a}, now());
  core->tick(true);
  EXPECT_EQ(core->pending_reports().size(), before);
  EXPECT_EQ(core->state().runs.at("j-00000003/2").handle, handle);
  EXPECT_FALSE(core->state().runs.at("j-00000003/2").ended);

  // A fresh local backend (an agent process that restarted): the run is lost, not started again.
  auto fresh = exec::make_local_backend({Duration::seconds(1)});
  auto restarted = make_core(**loaded, fresh.get());
  restarted->handle({a}, now());
  ASSERT_TRUE(tick_until(*restarted, [&] { return ended(*restarted); }));
  const Report& exited = restarted->pending_reports().back();
  EXPECT_EQ(exited.event, "exited");
  EXPECT_EQ(exited.outcome, "lost");
  EXPECT_EQ(read_file(marker()), "x\n");

  // The first run is stopped by a stop assignment to the core that has it.
  core->handle({other_of("stop", "j-00000003", 2)}, now());
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); }));
  EXPECT_EQ(core->pending_reports().back().outcome, "cancelled");
}

// The example training job (examples/jobs/train.cc): a checkpoint at the
// next step after SIGUSR1, an exit (143) at the next step after SIGTERM. A
// shell cannot be the job here: the local backend starts commands with
// SIGUSR1 ignored, which a non-interactive shell may not trap.
const std::string kTrain = STRAITS_TRAIN_BINARY;

TEST_F(AgentCoreTest, ACheckpointThenStopWaitsForTheCheckpointThenStops) {
  auto core = make_core();
  core->handle({start_of("j-00000004", 1, "exec " + kTrain + " --steps 100000 --step-ms 20")},
               now());
  ASSERT_TRUE(tick_until(*core, [&] {
    return all_logs(core->pending_reports()).find("step 1/") != std::string::npos;
  })) << said(*core);
  Assignment c = other_of("checkpoint", "j-00000004", 1);
  c.then = "stop";
  c.deadline_in_seconds = 30;
  c.reason = "the lease ends";
  core->handle({c}, now());
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); })) << said(*core);
  const auto& reports = core->pending_reports();
  const std::vector<std::string> seen = events(reports);
  // The ack, then the checkpoint, then the exit, last; output all along.
  const auto at = [&seen](const std::string& event) {
    return std::find(seen.begin(), seen.end(), event) - seen.begin();
  };
  EXPECT_EQ(seen.front(), "started");
  EXPECT_LT(at("ack:j-00000004/1/checkpoint"), at("checkpoint"));
  EXPECT_EQ(at("exited:cancelled"), static_cast<long>(seen.size()) - 1) << said(*core);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "checkpoint"), 1);
  const Report* ck = find_event(reports, "checkpoint");
  ASSERT_NE(ck, nullptr);
  const fs::path dir = dir_.path() / "checkpoints/j-00000004/attempt-1";
  EXPECT_EQ(fs::path(ck->path).parent_path(), dir);
  EXPECT_EQ(ck->note.rfind("step=", 0), 0u);
  const std::string logs = all_logs(reports);
  EXPECT_NE(logs.find("checkpoint " + ck->note + " path=" + ck->path + "\n"), std::string::npos)
      << logs;
  EXPECT_NE(logs.find("stopped by SIGTERM at step"), std::string::npos) << logs;
  const Report& exited = reports.back();
  EXPECT_EQ(exited.detail.rfind("stopped after a checkpoint (the lease ends)", 0), 0u)
      << exited.detail;
  EXPECT_EQ(exited.exit_code, 143) << said(*core);
}

TEST_F(AgentCoreTest, ACheckpointThatNeverComesStopsAtTheDeadline) {
  auto core = make_core();
  core->handle({start_of("j-00000005", 1, "trap '' USR1; echo ready; sleep 30")}, now());
  ASSERT_TRUE(tick_until(*core, [&] { return all_logs(core->pending_reports()) == "ready\n"; }));
  Assignment c = other_of("checkpoint", "j-00000005", 1);
  c.then = "stop";
  c.deadline_in_seconds = 3600;
  core->handle({c}, now());
  core->tick();
  EXPECT_FALSE(ended(*core));
  ahead_ += 3600s;  // the deadline minus the kill grace has passed
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); }));
  const Report& exited = core->pending_reports().back();
  EXPECT_EQ(exited.outcome, "cancelled");
  EXPECT_EQ(exited.detail.rfind("stopped at the checkpoint deadline, none made", 0), 0u)
      << exited.detail;
  EXPECT_EQ(find_event(core->pending_reports(), "checkpoint"), nullptr);
}

TEST_F(AgentCoreTest, ARunIsStoppedAtItsPlacementsEndOnItsOwn) {
  auto core = make_core();
  Assignment a = start_of("j-00000006", 1, "echo ready; sleep 30");
  a.must_leave_in_seconds = 600;
  a.time_limit_seconds = 7200;
  core->handle({a}, now());
  ASSERT_TRUE(tick_until(*core, [&] { return all_logs(core->pending_reports()) == "ready\n"; }));
  ahead_ += 598s;  // not yet: SIGTERM goes a kill grace (1 s) before the end
  core->tick(true);
  EXPECT_FALSE(ended(*core));
  EXPECT_FALSE(core->state().runs.at("j-00000006/1").stop_sent);
  ahead_ += 1s;
  const auto stopping = Steady::now();
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); }));
  EXPECT_LT(Steady::now() - stopping, 3s);
  const Report& exited = core->pending_reports().back();
  EXPECT_EQ(exited.outcome, "cancelled");
  EXPECT_EQ(exited.detail.rfind("stopped at the end of its placement", 0), 0u) << exited.detail;

  // A placement that ends before the run could start: not started, said so.
  Assignment late = start_of("j-00000007", 1, "echo x >> " + marker());
  late.must_leave_in_seconds = 0;
  core->handle({late}, now());
  EXPECT_FALSE(fs::exists(marker()));
  EXPECT_EQ(events(core->pending_reports()).back(), "exited:cancelled");
}

TEST_F(AgentCoreTest, StopAndCancelAreAcknowledgedAndEndTheRun) {
  auto core = make_core();
  core->handle({start_of("j-00000008", 1, "sleep 30")}, now());
  core->tick();
  Assignment cancel = other_of("cancel", "j-00000008", 1);
  cancel.reason = "cancelled by u-00000002";
  core->handle({cancel}, now());
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); }));
  EXPECT_EQ(events(core->pending_reports()),
            (std::vector<std::string>{"started", "ack:j-00000008/1/cancel", "exited:cancelled"}));
  EXPECT_EQ(core->pending_reports().back().detail.rfind("cancelled: cancelled by u-00000002", 0),
            0u);
  EXPECT_EQ(core->pending_reports().back().signal, SIGTERM);

  // A stop of the run that ended: acknowledged, and its exit sent again.
  core->reports_accepted(3);
  core->handle({other_of("stop", "j-00000008", 1)}, now());
  EXPECT_EQ(events(core->pending_reports()),
            (std::vector<std::string>{"ack:j-00000008/1/stop", "exited:cancelled"}));
  // And one of a run it never had: acknowledged only.
  core->reports_accepted(2);
  core->handle({other_of("stop", "j-00000099", 3)}, now());
  EXPECT_EQ(events(core->pending_reports()), (std::vector<std::string>{"ack:j-00000099/3/stop"}));
}

TEST_F(AgentCoreTest, CheckpointAndOutputAreReportedBeforeTheExit) {
  auto core = make_core();
  core->handle({start_of("j-00000009", 1,
                         "mkdir -p \"$STRAITS_CHECKPOINT_DIR/c1\"; "
                         "echo \"c1 s=1\" > \"$STRAITS_CHECKPOINT_DIR/latest\"; "
                         "echo one; printf 'two'; exit 3")},
               now());
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); }));
  const auto& reports = core->pending_reports();
  EXPECT_EQ(events(reports),
            (std::vector<std::string>{"started", "checkpoint", "log", "exited:failed"}));
  EXPECT_EQ(all_logs(reports), "one\ntwo");  // the partial last line too, at the end
  EXPECT_EQ(reports.back().exit_code, 3);
  EXPECT_EQ(reports.back().log_tail, "one\ntwo");
}

TEST_F(AgentCoreTest, APartialLineWaitsForItsEndAWhile) {
  auto core = make_core();
  core->handle({start_of("j-00000010", 1, "printf 'abc'; sleep 0.5; echo def; sleep 30")}, now());
  ASSERT_TRUE(tick_until(*core, [&] { return all_logs(core->pending_reports()) == "abc"; }));
  ASSERT_TRUE(tick_until(*core, [&] { return all_logs(core->pending_reports()) == "abcdef\n"; }));
  core->handle({other_of("stop", "j-00000010", 1)}, now());
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); }));
}

TEST_F(AgentCoreTest, FencingStopsEveryRunAndReportsThemLost) {
  auto core = make_core();
  core->handle({start_of("j-00000011", 1, "sleep 30"), start_of("j-00000012", 1, "sleep 30")},
               now());
  core->tick();
  EXPECT_EQ(core->heartbeat_runs().size(), 2u);
  core->fence("no answer from the server for 20 s");
  ASSERT_TRUE(tick_until(*core, [&] { return ended(*core); }));
  EXPECT_TRUE(core->heartbeat_runs().empty());
  int lost = 0;
  for (const Report& r : core->pending_reports()) {
    if (r.event != "exited") continue;
    EXPECT_EQ(r.outcome, "lost");
    EXPECT_EQ(r.detail, "no answer from the server for 20 s");
    ++lost;
  }
  EXPECT_EQ(lost, 2);
}

TEST_F(AgentCoreTest, AStartThatCannotLaunchIsStartedThenExitedFailed) {
  // The run's folder cannot be made: a file is where its parent should be.
  std::ofstream(dir_.path() / "runs") << "not a folder";
  auto core = make_core();
  core->handle({start_of("j-00000013", 1, "echo x")}, now());
  EXPECT_EQ(events(core->pending_reports()),
            (std::vector<std::string>{"started", "exited:failed"}));
  EXPECT_EQ(core->pending_reports().back().detail.rfind("cannot start: ", 0), 0u);
  EXPECT_TRUE(core->heartbeat_runs().empty());
}

TEST_F(AgentCoreTest, TheAgentStoppingReportsItsRunsLost) {
  auto core = make_core();
  core->handle({start_of("j-00000014", 1, "sleep 30")}, now());
  core->tick();
  core->stop_all_and_wait("agent stopped", Duration::seconds(5));
  EXPECT_TRUE(ended(*core));
  const Report& exited = core->pending_reports().back();
  EXPECT_EQ(exited.outcome, "lost");
  EXPECT_EQ(exited.detail, "agent stopped");
}

TEST_F(AgentCoreTest, AnEndedRunIsForgottenOnceReportedButItsStartIsNot) {
  internal::CoreOptions o = options();
  o.forget_ended_after = Duration::seconds(3600);
  Core core(
      o, *backend_, {}, [this] { return now(); }, nullptr);
  const Assignment a = start_of("j-00000017", 1, "echo x >> " + marker());
  core.handle({a}, now());
  ASSERT_TRUE(tick_until(core, [&] { return ended(core); }));
  ahead_ += 3600s;
  core.tick();
  EXPECT_EQ(core.state().runs.size(), 1u);  // its reports are not taken yet
  core.reports_accepted(core.pending_reports().size());
  core.tick();
  EXPECT_TRUE(core.state().runs.empty());
  EXPECT_TRUE(core.state().done.contains(a.id));
  core.handle({a}, now());
  core.tick();
  EXPECT_TRUE(core.pending_reports().empty());
  EXPECT_EQ(read_file(marker()), "x\n");
}

// The local backend, except that `find` cannot answer its first `failures`
// calls (as Slurm's when slurmctld is down).
class UnsureBackend : public exec::Backend {
 public:
  UnsureBackend(exec::Backend& inner, int failures) : inner_(inner), failures_(failures) {}
  std::string_view name() const override { return "unsure"; }
  Result<std::string> launch(const exec::LaunchSpec& spec) override {
    ++launches;
    return inner_.launch(spec);
  }
  Result<std::optional<std::string>> find(const std::string& job_id, std::int32_t attempt,
                                          const fs::path& work_dir) override {
    if (failures_ > 0) {
      --failures_;
      return Error(ErrorCode::kUnavailable, "slurmctld did not answer");
    }
    return inner_.find(job_id, attempt, work_dir);
  }
  Result<std::map<std::string, exec::RunStatus>> poll(
      const std::vector<std::string>& handles) override {
    return inner_.poll(handles);
  }
  Status request_checkpoint(const std::string& handle) override {
    return inner_.request_checkpoint(handle);
  }
  Status stop(const std::string& handle, Duration grace) override {
    return inner_.stop(handle, grace);
  }
  int launches = 0;

 private:
  exec::Backend& inner_;
  int failures_;
};

TEST_F(AgentCoreTest, AStartWaitsUntilTheBackendCanSayWhetherTheRunExists) {
  UnsureBackend unsure(*backend_, 3);
  auto core = make_core({}, &unsure);
  const Assignment a = start_of("j-00000015", 1, "echo x >> " + marker());
  core->handle({a}, now());
  core->handle({a}, now());  // delivered again meanwhile: still one
  EXPECT_EQ(unsure.launches, 0);
  EXPECT_TRUE(core->pending_reports().empty());
  EXPECT_FALSE(core->state().done.contains(a.id));
  ASSERT_TRUE(tick_until(*core, [&] { return !core->state().runs.empty() && ended(*core); }));
  EXPECT_EQ(unsure.launches, 1);
  EXPECT_EQ(read_file(marker()), "x\n");
  EXPECT_EQ(events(core->pending_reports()),
            (std::vector<std::string>{"started", "exited:succeeded"}));
  EXPECT_EQ(std::count_if(lines_.begin(), lines_.end(),
                          [](const std::string& l) { return l.find("cannot ask") != l.npos; }),
            1);

  // A stop while it waits: never started, said so.
  UnsureBackend down(*backend_, 1000);
  auto other = make_core({}, &down);
  other->handle({start_of("j-00000016", 1, "echo x >> " + marker())}, now());
  other->tick();
  other->handle({other_of("stop", "j-00000016", 1)}, now());
  other->tick();
  EXPECT_EQ(down.launches, 0);
  EXPECT_EQ(events(other->pending_reports()),
            (std::vector<std::string>{"ack:j-00000016/1/stop", "started", "exited:cancelled"}));
}

// ---- protocol, chips, state ------------------------------------------------

TEST(AgentProtocolTest, ReadsTheAssignmentsOfTheDocs) {
  const std::string body = R"({"assignments": [
    {"id": "j-00000003/2/start", "kind": "start", "job": "j-00000003", "attempt": 2,
     "site": "sg-tuas-1", "pool": "sg-tuas-1-h100", "chip": "h100-sxm",
     "gpus": 8, "nodes": 1, "gpus_per_node": 8, "command": "examples/jobs/train --steps 40",
     "resume_from": "/var/straits/ckpt/j-00000003/attempt-1/step-20",
     "time_limit_seconds": 7200, "must_leave_by": "2027-01-01T00:00:00Z",
     "must_leave_in_seconds": 3590, "checkpoint_interval_seconds": 600},
    {"id": "j-00000003/2/checkpoint", "kind": "checkpoint", "job": "j-00000003", "attempt": 2,
     "then": "stop", "deadline": "2027-01-01T00:00:00Z", "deadline_in_seconds": 40,
     "reason": "rule takes effect"},
    {"id": "j-00000004/1/start", "kind": "start", "job": "j-00000004", "attempt": 1,
     "chip": "h800", "gpus": 1, "command": "true", "resume_from": null,
     "time_limit_seconds": null, "must_leave_in_seconds": null}]})";
  auto parsed = internal::parse_assignments(body);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 3u);
  const Assignment& s = (*parsed)[0];
  EXPECT_EQ(s.id, "j-00000003/2/start");
  EXPECT_EQ(s.attempt, 2);
  EXPECT_EQ(s.gpus, 8);
  EXPECT_EQ(s.gpus_per_node, 8);
  EXPECT_EQ(s.resume_from, "/var/straits/ckpt/j-00000003/attempt-1/step-20");
  EXPECT_EQ(s.time_limit_seconds, 7200);
  EXPECT_EQ(s.must_leave_in_seconds, 3590);
  const Assignment& c = (*parsed)[1];
  EXPECT_EQ(c.then, "stop");
  EXPECT_EQ(c.deadline_in_seconds, 40);
  const Assignment& n = (*parsed)[2];
  EXPECT_EQ(n.resume_from, "");
  EXPECT_FALSE(n.time_limit_seconds);
  EXPECT_FALSE(n.must_leave_in_seconds);

  EXPECT_FALSE(internal::parse_assignments(R"({"assignments": [{"kind": "start"}]})"));
  EXPECT_FALSE(internal::parse_assignments("not json"));
}

TEST(AgentProtocolTest, WritesReportsAsTheServerReadsThem) {
  std::vector<Report> reports(5);
  reports[0] = report_of("j-1", 2, "ack", [](Report& r) { r.assignment = "j-1/2/checkpoint"; });
  reports[1] = report_of("j-1", 2, "started", [](Report& r) {
    r.assignment = "j-1/2/start";
    r.handle = "4711";
  });
  reports[2] = report_of("j-1", 2, "checkpoint", [](Report& r) {
    r.path = "/c/step-30";
    r.note = "step=30";
  });
  reports[3] = report_of("j-1", 2, "log", [](Report& r) { r.text = "step 31\n"; });
  reports[4] = report_of("j-1", 2, "exited", [](Report& r) {
    r.outcome = "cancelled";
    r.signal = 15;
    r.detail = "stopped";
    r.log_tail = "bye\n";
  });
  EXPECT_EQ(json::parse(internal::reports_body(reports)), json::parse(R"({"reports": [
    {"job": "j-1", "attempt": 2, "event": "ack", "assignment": "j-1/2/checkpoint"},
    {"job": "j-1", "attempt": 2, "event": "started", "assignment": "j-1/2/start", "handle": "4711"},
    {"job": "j-1", "attempt": 2, "event": "checkpoint", "path": "/c/step-30", "note": "step=30"},
    {"job": "j-1", "attempt": 2, "event": "log", "text": "step 31\n"},
    {"job": "j-1", "attempt": 2, "event": "exited", "outcome": "cancelled", "exit_code": null,
     "signal": 15, "detail": "stopped", "log_tail": "bye\n"}]})"));
  EXPECT_EQ(json::parse(internal::heartbeat_body({{"j-1", 2, "running"}})),
            json::parse(R"({"runs": [{"job": "j-1", "attempt": 2, "state": "running"}]})"));
  EXPECT_EQ(json::parse(internal::register_body("a-1", {"s1", "s2"}, "local", "0.1.0")),
            json::parse(R"({"name": "a-1", "sites": ["s1", "s2"], "backend": "local",
                            "version": "0.1.0"})"));
}

TEST(AgentProtocolTest, ErrorAnswersNameTheStatusCodeAndMessage) {
  EXPECT_EQ(internal::describe_error_answer(
                401, R"({"error": {"code": "unauthenticated", "message": "bad token"}})"),
            "401 unauthenticated: bad token");
  EXPECT_EQ(internal::describe_error_answer(
                422, R"({"error": {"code": "unknown_reference", "message": "no such site 'x'",
                                   "field": "sites[0]"}})"),
            "422 unknown_reference: no such site 'x' (field sites[0])");
  EXPECT_EQ(internal::describe_error_answer(502, "Bad Gateway"), "502: Bad Gateway");
}

TEST(AgentProtocolTest, LogTextIsValidUtf8CutAtCharacters) {
  const std::string euro = "\xE2\x82\xAC";  // 3 bytes
  EXPECT_EQ(internal::utf8_complete_prefix("ab" + euro), 5u);
  EXPECT_EQ(internal::utf8_complete_prefix("ab" + euro.substr(0, 2)), 2u);
  EXPECT_EQ(internal::utf8_complete_prefix("ab" + euro.substr(0, 1)), 2u);
  EXPECT_EQ(internal::utf8_complete_prefix(""), 0u);
  std::string bad = "a\xFF" + euro + "\xC3(\xED\xA0\x80z";
  internal::make_utf8(bad);
  EXPECT_EQ(bad, "a?" + euro + "?(???z");
  std::string long_text = "ab" + euro + euro;
  internal::cut_utf8(long_text, 6);
  EXPECT_EQ(long_text, "ab" + euro);
  // A report with bytes that are not UTF-8 is still sent.
  const Report r = report_of("j-1", 1, "log", [](Report& x) { x.text = "\xFF\xFE"; });
  json parsed;
  EXPECT_NO_THROW(parsed = json::parse(internal::reports_body(std::vector<Report>{r})));
}

TEST(AgentProtocolTest, OutlandishNumbersAreBoundedNotTrusted) {
  // Too large for the types, negative, not numbers: none of it may overflow a
  // clock (the sanitizer build would say so).
  // An attempt that is not a 32-bit number is no attempt: the answer is refused.
  ASSERT_FALSE(internal::parse_assignments(
      R"({"assignments": [{"id": "j/1/start", "kind": "start", "job": "j", "attempt": 1e300}]})"));
  auto ok = internal::parse_assignments(R"({"assignments": [
    {"id": "j/2/start", "kind": "start", "job": "j", "attempt": 2, "gpus": 1099511627776,
     "must_leave_in_seconds": 1e30, "time_limit_seconds": -5,
     "deadline_in_seconds": 9223372036854775807}]})");
  ASSERT_TRUE(ok) << ok.error().message();
  const Assignment& s = ok->front();
  EXPECT_EQ(s.gpus, 1);  // not an int32: the default
  EXPECT_EQ(s.time_limit_seconds, 0);
  EXPECT_FALSE(s.must_leave_in_seconds);                  // not a 64-bit number: none
  EXPECT_EQ(s.deadline_in_seconds, 10LL * 366 * 86'400);  // ten years at most
  auto agent = internal::parse_agent(
      R"({"id": "ag-1", "heartbeat_interval_seconds": 0, "lost_after_seconds": 1e40})");
  ASSERT_TRUE(agent);
  EXPECT_EQ(agent->heartbeat_interval_seconds, 1);
  EXPECT_EQ(agent->lost_after_seconds, 30);  // not a 64-bit number: the default

  const SteadyTime now = Steady::now();
  const Instant wall = Instant::from_unix_seconds(1'800'000'000);
  auto state = internal::state_from_text(R"({"version": 1, "runs": [
    {"job": "j", "attempt": 1, "must_leave_at_us": -9223372036854775808, "output_offset": -1,
     "checkpoint_wait": {"until_us": 9223372036854775807}, "exited":
     {"job": "j", "event": "exited", "exit_code": 1e19, "signal": -3}}]})",
                                         now, wall);
  ASSERT_TRUE(state) << state.error().message();
  const RunRecord& r = state->runs.at("j/1");
  EXPECT_EQ(r.output_offset, 0u);
  EXPECT_FALSE(r.exited->exit_code);
  EXPECT_EQ(r.exited->signal, -3);
  const std::string text = internal::state_to_text(*state, now, wall);
  EXPECT_TRUE(internal::state_from_text(text, now, wall));
}

TEST(AgentChipTest, ASlurmGresTypeIsTheChipIdUpToItsFirstDash) {
  EXPECT_EQ(internal::gres_type("h100-sxm", {}), "h100");
  EXPECT_EQ(internal::gres_type("h800", {}), "h800");
  EXPECT_EQ(internal::gres_type("mi300x-oam", {}), "mi300x");
  EXPECT_EQ(internal::gres_type("h100-sxm", {{"h100-sxm", "hopper"}}), "hopper");
  EXPECT_EQ(internal::gres_type("h800", {{"h100-sxm", "hopper"}}), "h800");
}

AgentState sample_state(SteadyTime now) {
  AgentState s;
  s.agent_id = "ag-00000001";
  s.done = {"j-1/1/start", "j-1/1/checkpoint", "j-2/3/start"};
  RunRecord r;
  r.job = "j-1";
  r.attempt = 1;
  r.handle = "4711";
  r.work_dir = "/w/j-1/attempt-1";
  r.checkpoint_dir = "/c/j-1/attempt-1";
  r.last_checkpoint = exec::Checkpoint{"/c/j-1/attempt-1/step-20", "step=20"};
  r.output_offset = 12345;
  r.state = "running";
  r.must_leave = now + 3590s;
  r.limit_is_placement = true;
  r.checkpoint_wait =
      internal::CheckpointWait{"j-1/1/checkpoint", true, now + 30s,
                               exec::Checkpoint{"/c/j-1/attempt-1/step-10", ""}, "the lease ends"};
  s.runs[internal::run_key("j-1", 1)] = r;
  RunRecord e;
  e.job = "j-2";
  e.attempt = 3;
  e.handle = "812";
  e.ended = true;
  e.stop_sent = true;
  e.stop_detail = "stopped by the agent";
  e.forced_outcome = "lost";
  e.exited = report_of("j-2", 3, "exited", [](Report& x) {
    x.outcome = "lost";
    x.signal = 9;
    x.detail = "agent stopped";
    x.log_tail = "tail \xE2\x82\xAC\n";
  });
  s.runs[internal::run_key("j-2", 3)] = e;
  s.pending = {report_of("j-1", 1, "log", [](Report& x) { x.text = "step 1\n"; }), *e.exited};
  return s;
}

TEST(AgentStateTest, RoundTripsThroughItsText) {
  const SteadyTime now = Steady::now();
  const Instant wall = Instant::from_unix_seconds(1'800'000'000);
  const AgentState s = sample_state(now);
  const std::string text = internal::state_to_text(s, now, wall);
  // Read back by another process 5 s later: its steady clock counts from
  // elsewhere (1 h on), the wall clock moved 5 s: a deadline is 5 s nearer.
  const SteadyTime later = now + 1h;
  const Instant wall_later = wall + Duration::seconds(5);
  auto back = internal::state_from_text(text, later, wall_later);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->agent_id, s.agent_id);
  EXPECT_EQ(back->done, s.done);
  EXPECT_EQ(back->pending, s.pending);
  ASSERT_EQ(back->runs.size(), 2u);
  const RunRecord& r = back->runs.at("j-1/1");
  const RunRecord& orig = s.runs.at("j-1/1");
  EXPECT_EQ(r.handle, "4711");
  EXPECT_EQ(r.work_dir, orig.work_dir);
  EXPECT_EQ(r.checkpoint_dir, orig.checkpoint_dir);
  EXPECT_EQ(r.last_checkpoint, orig.last_checkpoint);
  EXPECT_EQ(r.output_offset, 12345u);
  EXPECT_EQ(r.state, "running");
  EXPECT_TRUE(r.limit_is_placement);
  ASSERT_TRUE(r.must_leave);
  EXPECT_LT(std::chrono::abs(*r.must_leave - (later + 3585s)), 2us);  // 3590 s - 5 s
  ASSERT_TRUE(r.checkpoint_wait);
  EXPECT_EQ(r.checkpoint_wait->assignment, "j-1/1/checkpoint");
  EXPECT_TRUE(r.checkpoint_wait->then_stop);
  EXPECT_EQ(r.checkpoint_wait->before, orig.checkpoint_wait->before);
  EXPECT_EQ(r.checkpoint_wait->reason, "the lease ends");
  EXPECT_LT(std::chrono::abs(r.checkpoint_wait->until - (later + 25s)), 2us);
  const RunRecord& e = back->runs.at("j-2/3");
  EXPECT_TRUE(e.ended);
  EXPECT_TRUE(e.stop_sent);
  EXPECT_EQ(e.forced_outcome, "lost");
  EXPECT_EQ(e.stop_detail, "stopped by the agent");
  EXPECT_EQ(e.exited, s.runs.at("j-2/3").exited);
  EXPECT_FALSE(e.must_leave);
  // The text of what was read back is the text written (same clocks).
  EXPECT_EQ(internal::state_to_text(*back, later, wall_later), text);

  EXPECT_FALSE(internal::state_from_text("{}", now, wall));  // no version
  EXPECT_FALSE(internal::state_from_text("[1]", now, wall));
}

TEST(AgentStateTest, IsRewrittenAtomically) {
  TempDir dir("agent-state");
  const fs::path file = dir.path() / "deep/folder/state.json";
  const SteadyTime now = Steady::now();
  const Instant wall = Instant::from_unix_seconds(1'800'000'000);
  auto missing = internal::load_state(file, now, wall);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);

  // Two texts of different lengths written in turn while another thread
  // reads: it sees one or the other, whole, every time.
  AgentState small;
  small.agent_id = "ag-00000001";
  AgentState big = sample_state(now);
  for (int i = 0; i < 2000; ++i) big.done.insert("j-" + std::to_string(i) + "/1/start");
  const std::string a = internal::state_to_text(small, now, wall);
  const std::string b = internal::state_to_text(big, now, wall);
  ASSERT_TRUE(internal::write_state_file(file, a));
  std::atomic<bool> done{false};
  int reads = 0, torn = 0;
  std::thread reader([&] {
    while (!done) {
      const std::string text = read_file(file);
      ++reads;
      if (text != a && text != b) ++torn;
    }
  });
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(internal::write_state_file(file, i % 2 == 0 ? b : a));
  }
  done = true;
  reader.join();
  EXPECT_GT(reads, 0);
  EXPECT_EQ(torn, 0);
  EXPECT_EQ(read_file(file), a);
  EXPECT_FALSE(fs::exists(file.string() + ".tmp"));
  auto loaded = internal::load_state(file, now, wall);
  ASSERT_TRUE(loaded && *loaded);
  EXPECT_EQ((*loaded)->agent_id, "ag-00000001");

  std::ofstream(file) << "{\"version\": 1, \"runs\": [{\"job\": \"\"}]}";
  auto broken = internal::load_state(file, now, wall);
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message().find(file.string()), std::string::npos);
}

// ---- the agent over HTTP ---------------------------------------------------

// A free loopback port, closed again: nothing answers there.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The server's side of docs/agents.md, in small: one agent, assignments
// handed out until acknowledged (started, ack, exited), every report kept.
class FakeServer {
 public:
  ~FakeServer() { stop(); }

  void start(int port = 0) {
    server_ = std::make_unique<httplib::Server>();
    server_->Get("/v1/whoami", [this](const httplib::Request&, httplib::Response& res) {
      res.status = 200;
      res.set_content(json{{"id", "u-1"}, {"role", role_.load() ? "admin" : "agent"}}.dump(),
                      "application/json");
    });
    server_->Post("/v1/agents", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      registrations_.push_back(json::parse(req.body));
      if (refuse_) {
        res.status = 401;
        res.set_content(R"({"error": {"code": "unauthenticated", "message": "bad token"}})",
                        "application/json");
        return;
      }
      res.status = 201;
      res.set_content(agent().dump(), "application/json");
    });
    server_->Post(R"(/v1/agents/ag-1/heartbeat)",
                  [this](const httplib::Request& req, httplib::Response& res) {
                    std::lock_guard lock(mutex_);
                    heartbeats_.push_back(json::parse(req.body));
                    res.set_content(agent().dump(), "application/json");
                  });
    server_->Get(R"(/v1/agents/ag-1/assignments)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   const int wait = std::stoi(req.get_param_value("wait"));
                   std::unique_lock lock(mutex_);
                   changed_.wait_for(lock, std::chrono::seconds(wait), [this] {
                     for (const json& a : assignments_) {
                       if (!delivered_.contains(a["id"])) return true;
                     }
                     return false;
                   });
                   json items = json::array();
                   for (const json& a : assignments_) {
                     if (acked_.contains(a["id"])) continue;
                     delivered_.insert(a["id"]);
                     items.push_back(a);
                   }
                   res.set_content(json{{"assignments", items}}.dump(), "application/json");
                 });
    server_->Post(R"(/v1/agents/ag-1/reports)",
                  [this](const httplib::Request& req, httplib::Response& res) {
                    std::lock_guard lock(mutex_);
                    json results = json::array();
                    const json body = json::parse(req.body);
                    for (const json& r : body["reports"]) {
                      reports_.push_back(r);
                      if (r.contains("assignment")) acked_.insert(r["assignment"]);
                      results.push_back({{"applied", true}});
                    }
                    res.set_content(json{{"results", results}}.dump(), "application/json");
                  });
    port_ = port == 0 ? server_->bind_to_any_port("127.0.0.1") : port;
    if (port != 0) server_->bind_to_port("127.0.0.1", port);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    wait_until([this] { return server_->is_running(); }, 5s);
  }
  void stop() {
    if (!server_) return;
    server_->stop();
    {
      std::lock_guard lock(mutex_);
      changed_.notify_all();
    }
    thread_.join();
    server_.reset();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  void refuse() { refuse_ = true; }
  void be_admin() { role_ = true; }  // GET /v1/whoami says the token is an admin's
  void assign(json a) {
    std::lock_guard lock(mutex_);
    assignments_.push_back(std::move(a));
    changed_.notify_all();
  }
  std::vector<json> reports() const {
    std::lock_guard lock(mutex_);
    return reports_;
  }
  std::vector<json> registrations() const {
    std::lock_guard lock(mutex_);
    return registrations_;
  }
  std::size_t heartbeats() const {
    std::lock_guard lock(mutex_);
    return heartbeats_.size();
  }
  // The first report of `event` (and `outcome`), null if none yet.
  json report(const std::string& event, const std::string& outcome = "") const {
    std::lock_guard lock(mutex_);
    for (const json& r : reports_) {
      if (r["event"] == event && (outcome.empty() || r.value("outcome", "") == outcome)) return r;
    }
    return nullptr;
  }

 private:
  static json agent() {
    return {{"id", "ag-1"},
            {"name", "test"},
            {"state", "active"},
            {"heartbeat_interval_seconds", 1},
            {"lost_after_seconds", 4}};
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> refuse_{false};
  std::atomic<bool> role_{false};
  std::vector<json> assignments_, reports_, registrations_, heartbeats_;
  std::set<std::string> delivered_, acked_;
};

AgentOptions agent_options(const std::string& url, const fs::path& dir,
                           std::vector<std::string>* lines, std::mutex* lines_mutex) {
  AgentOptions o;
  o.server_url = url;
  o.token = "secret";
  o.name = "test-agent";
  o.sites = {"sg-tuas-1"};
  o.state_dir = dir / "state";
  o.kill_grace = Duration::seconds(1);
  o.poll_wait_seconds = 1;
  o.backend_poll_interval = Duration::milliseconds(20);
  o.flush_timeout = Duration::seconds(2);
  o.log = [lines, lines_mutex](const std::string& line) {
    std::lock_guard lock(*lines_mutex);
    lines->push_back(line);
  };
  o.debug = [lines, lines_mutex](const std::string& line) {
    std::lock_guard lock(*lines_mutex);
    lines->push_back("debug: " + line);
  };
  return o;
}

class AgentHttpTest : public ::testing::Test {
 protected:
  void run_agent(AgentOptions o) {
    auto made = Agent::create(std::move(o), exec::make_local_backend({Duration::seconds(1)}));
    ASSERT_TRUE(made) << made.error().message();
    agent_ = std::move(made).value();
    thread_ = std::thread([this] { result_ = agent_->run(); });
  }
  Status stop_agent() {
    if (agent_) agent_->stop();
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  ~AgentHttpTest() override { (void)stop_agent(); }
  // What the agent said and the server got, for failure messages.
  std::string said() {
    std::lock_guard lock(lines_mutex_);
    std::string text;
    for (const auto& l : lines_) text += l + "\n";
    for (const json& r : server_.reports()) text += "report " + r.dump() + "\n";
    return text;
  }

  TempDir dir_{"agent-http"};
  FakeServer server_;
  std::vector<std::string> lines_;
  std::mutex lines_mutex_;
  std::unique_ptr<Agent> agent_;
  std::thread thread_;
  Status result_;
};

TEST_F(AgentHttpTest, FencesItsRunsWhenTheServerIsSilentAndReportsThemLostWhenItIsBack) {
  server_.start();
  const fs::path pid_file = dir_.path() / "pid";
  server_.assign({{"id", "j-1/1/start"},
                  {"kind", "start"},
                  {"job", "j-1"},
                  {"attempt", 1},
                  {"chip", "h100-sxm"},
                  {"gpus", 1},
                  {"command", "echo $$ > " + pid_file.string() + "; echo running; exec sleep 60"},
                  {"must_leave_in_seconds", nullptr},
                  {"time_limit_seconds", nullptr}});
  run_agent(agent_options(server_.url(), dir_.path(), &lines_, &lines_mutex_));
  ASSERT_TRUE(wait_until([&] { return !server_.report("log").is_null(); }, 10s)) << said();
  EXPECT_EQ(server_.registrations().at(0)["name"], "test-agent");
  EXPECT_EQ(server_.report("started")["assignment"], "j-1/1/start");
  const pid_t pid = std::stoi(read_file(pid_file));
  ASSERT_TRUE(wait_until([&] { return server_.heartbeats() > 0; }, 5s));

  // The server goes away: lost after 4 s, heartbeat 1 s: fenced after 2 s.
  const int port = server_.port();
  server_.stop();
  const auto gone = Steady::now();
  ASSERT_TRUE(wait_until([&] { return ::kill(pid, 0) != 0; }, 10s)) << said();
  const auto fenced_after = Steady::now() - gone;
  EXPECT_GE(fenced_after, 1500ms);
  EXPECT_LT(fenced_after, 4s);  // before the server would mark it lost

  // Back: the run is reported exited, outcome lost, after its output.
  server_.start(port);
  ASSERT_TRUE(wait_until([&] { return !server_.report("exited").is_null(); }, 10s)) << said();
  const json exited = server_.report("exited");
  EXPECT_EQ(exited["outcome"], "lost");
  EXPECT_NE(exited["detail"].get<std::string>().find("self-fencing"), std::string::npos);
  EXPECT_EQ(server_.reports().back(), exited);
  EXPECT_TRUE(stop_agent());
  EXPECT_NE(said().find("stopping every run"), std::string::npos) << said();
}

TEST_F(AgentHttpTest, ARefusedRegistrationEndsTheAgentWithTheServersMessage) {
  server_.refuse();
  server_.start();
  run_agent(agent_options(server_.url(), dir_.path(), &lines_, &lines_mutex_));
  thread_.join();
  ASSERT_FALSE(result_);
  EXPECT_EQ(result_.error().message(),
            "server " + server_.url() + ": 401 unauthenticated: bad token");
}

// A job that stole the agent's token gets as little as possible: an admin's
// token is refused before registering, unless allowed.
TEST_F(AgentHttpTest, AnAdminsTokenIsRefusedUnlessAllowed) {
  server_.be_admin();
  server_.start();
  run_agent(agent_options(server_.url(), dir_.path(), &lines_, &lines_mutex_));
  thread_.join();
  ASSERT_FALSE(result_);
  EXPECT_EQ(result_.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(result_.error().message().find("the agent's token is an admin's"), std::string::npos)
      << result_.error().message();
  EXPECT_NE(result_.error().message().find("--allow-admin-token"), std::string::npos);

  AgentOptions allowed = agent_options(server_.url(), dir_.path(), &lines_, &lines_mutex_);
  allowed.allow_admin_token = true;
  run_agent(std::move(allowed));
  ASSERT_TRUE(wait_until([&] { return !server_.registrations().empty(); }, 10s)) << said();
  EXPECT_TRUE(stop_agent());
}

TEST_F(AgentHttpTest, KeepsItsReportsInTheStateFileWhileTheServerIsAway) {
  // The state of an agent that was stopped hard: a run not ended (local:
  // gone with its agent) and a report not sent.
  AgentState before;
  before.agent_id = "ag-1";
  RunRecord r;
  r.job = "j-5";
  r.attempt = 2;
  r.handle = "999999";
  r.work_dir = dir_.path() / "state/runs/j-5/attempt-2";
  r.checkpoint_dir = dir_.path() / "state/checkpoints/j-5/attempt-2";
  before.runs["j-5/2"] = r;
  before.pending = {report_of("j-5", 2, "log", [](Report& x) { x.text = "hello\n"; })};
  const fs::path state = dir_.path() / "state/state.json";
  ASSERT_TRUE(internal::write_state_file(
      state, internal::state_to_text(before, Steady::now(), SystemClock().now())));

  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  run_agent(agent_options(url, dir_.path(), &lines_, &lines_mutex_));
  ASSERT_TRUE(wait_until(
      [&] {
        auto now_state = internal::load_state(state, Steady::now(), SystemClock().now());
        return now_state && *now_state && (*now_state)->runs.at("j-5/2").ended;
      },
      5s))
      << said();
  const auto stopping = Steady::now();
  EXPECT_TRUE(stop_agent());
  EXPECT_LT(Steady::now() - stopping, 2s);  // no server to flush to: no wait
  EXPECT_NE(said().find("server " + url + ": no answer"), std::string::npos) << said();
  auto after = internal::load_state(state, Steady::now(), SystemClock().now());
  ASSERT_TRUE(after && *after);
  EXPECT_TRUE((*after)->runs.at("j-5/2").ended);
  EXPECT_EQ(events((*after)->pending), (std::vector<std::string>{"log", "exited:lost"}));

  // The server is there at the next start: both are sent, in order.
  server_.start();
  run_agent(agent_options(server_.url(), dir_.path(), &lines_, &lines_mutex_));
  ASSERT_TRUE(wait_until([&] { return server_.reports().size() == 2; }, 10s)) << said();
  EXPECT_EQ(server_.reports()[0]["text"], "hello\n");
  EXPECT_EQ(server_.reports()[1]["outcome"], "lost");
  EXPECT_TRUE(stop_agent());
  auto flushed = internal::load_state(state, Steady::now(), SystemClock().now());
  ASSERT_TRUE(flushed && *flushed);
  EXPECT_TRUE((*flushed)->pending.empty());
}

TEST_F(AgentHttpTest, StoppingTheAgentStopsLocalRunsAndReportsThemLost) {
  server_.start();
  server_.assign({{"id", "j-2/1/start"},
                  {"kind", "start"},
                  {"job", "j-2"},
                  {"attempt", 1},
                  {"command", "echo running; exec sleep 60"}});
  run_agent(agent_options(server_.url(), dir_.path(), &lines_, &lines_mutex_));
  ASSERT_TRUE(wait_until([&] { return !server_.report("log").is_null(); }, 10s)) << said();
  EXPECT_TRUE(stop_agent());
  const json exited = server_.report("exited");
  ASSERT_FALSE(exited.is_null()) << said();
  EXPECT_EQ(exited["outcome"], "lost");
  EXPECT_EQ(exited["detail"], "agent stopped");
}

// ---- the command line --------------------------------------------------------

using straits::testing::run_command_capturing_stderr;
const std::string kStraits = STRAITS_BINARY;

TEST(AgentCliTest, RefusesBadFlags) {
  TempDir dir("agent-cli");
  const std::string env = "env -u STRAITS_URL -u STRAITS_TOKEN ";
  const std::string base = kStraits + " agent --state-dir " + dir.path().string();
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {" --backend local --server http://x:1 --token t", "--site is required"},
      {" --site s --server http://x:1 --token t", "--backend is required"},
      {" --site s --backend lsf --server http://x:1 --token t", "lsf not in {local,slurm}"},
      {" --site s --backend local --token t", "no server: give --server URL or set STRAITS_URL"},
      {" --site s --backend local --server x:1 --token t", "--server must start with http://"},
      {" --site s --backend local --server http://x:1",
       "no token: give --token T or --token-file F, or set STRAITS_TOKEN"},
      {" --site s --backend local --server http://x:1 --token t --token-file f",
       "--token excludes --token-file"},
      {" --site s --backend local --server http://x:1 --token-file /nonexistent",
       "--token-file: cannot read /nonexistent"},
      {" --site s --backend local --server http://x:1 --token t --kill-grace 10x",
       "--kill-grace: "},
      {" --site s --backend local --server http://x:1 --token t --slurm-partition gpu",
       "--slurm-partition is for --backend slurm"},
      {" --site s --backend slurm --server http://x:1 --token t --slurm-gres h100",
       "--slurm-gres wants CHIP=TYPE (e.g. h100-sxm=h100), got 'h100'"},
      {" --site s --backend slurm --server http://x:1 --token t --local-poll-interval 1x",
       "--local-poll-interval: "},
      {" --site s --backend local --server http://x:1 --token t --poll-wait 61", "--poll-wait"},
      {" --site s --backend local --server http://x:1 --token t --run-as a --run-as-per-org",
       "--run-as excludes --run-as-per-org"},
  };
  for (const Case& c : cases) {
    auto result = run_command_capturing_stderr(env + base + c.args);
    EXPECT_EQ(result.exit_code, 2) << c.args << "\n" << result.err;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << c.args << "\n" << result.err;
  }
}

TEST(AgentCliTest, StopsOnSigtermWithExitZero) {
  TempDir dir("agent-cli");
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  auto result = run_command_capturing_stderr(
      "{ env STRAITS_TOKEN=t " + kStraits + " agent --server " + url +
      " --site sg-tuas-1 --backend local --name a-1 --state-dir " + dir.path().string() +
      " & pid=$!; sleep 0.5; kill -TERM $pid; wait $pid; echo \"exit=$?\"; }");
  EXPECT_NE(result.out.find("straits agent a-1 (local) for " + url), std::string::npos)
      << result.out << result.err;
  EXPECT_NE(result.out.find("straits agent stopped\nexit=0\n"), std::string::npos)
      << result.out << result.err;
  // The first question: who its token is.
  EXPECT_NE(result.err.find("server " + url + ": no answer to GET /v1/whoami"), std::string::npos)
      << result.err;
  EXPECT_TRUE(fs::exists(dir.path() / "state.json"));
}

}  // namespace
}  // namespace straits::agent
