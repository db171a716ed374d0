// The agent's decisions, without HTTP: given assignments, the backend's view
// of the runs and the time, it starts, checkpoints and stops runs through a
// Backend and queues the reports to send, in order. The driver (agent.cc)
// feeds it what the server said and sends what it queued.
//
// Time comes from the injected steady clock (`SteadyNow`); the wall clock is
// only used to write deadlines into the state file. Not thread-safe: one
// thread (the one that owns the backend) calls everything.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/internal/protocol.h"
#include "agent/internal/state.h"
#include "core/clock.h"
#include "core/time.h"
#include "exec/backend.h"

namespace straits::agent::internal {

using SteadyNow = std::function<SteadyTime()>;
using LogLine = std::function<void(const std::string&)>;

struct CoreOptions {
  std::filesystem::path work_root;        // attempt N of JOB runs in work_root/JOB/attempt-N
  std::filesystem::path checkpoint_root;  // and checkpoints under checkpoint_root/JOB/attempt-N
  Duration kill_grace = Duration::seconds(10);
  Duration poll_interval = Duration::milliseconds(500);  // backend.poll at most this often
  Duration log_interval = Duration::seconds(1);          // a log report per run at most this often
  // A partial line (no newline yet) is held back this long for the rest of it.
  Duration partial_line_wait = Duration::seconds(5);
  std::map<std::string, std::string> gres;  // chip id -> Slurm gres type, over the default
  std::string partition;
  std::size_t log_chunk = 64 * 1024;  // largest log report
  std::size_t log_tail = 4 * 1024;    // the exited report's log_tail
  // How long a checkpoint assignment without a deadline waits for the checkpoint.
  Duration default_checkpoint_wait = Duration::seconds(60);
  // An ended run whose reports the server took is forgotten this long after
  // its end (the state file stays small); its assignment ids are kept.
  Duration forget_ended_after = Duration::hours(1);
  // Who runs the jobs: run_as_per_org: the user exec::org_run_user(org),
  // created when missing; else run_as: this user ("" for the agent's own).
  std::string run_as;
  bool run_as_per_org = false;
  // The runs' PATH, where the site keeps the programs jobs may call ("": the
  // allow-list's /usr/local/bin:/usr/bin:/bin).
  std::string run_path;
};

// Why an assignment from the server cannot be acted on ("" when it can):
// its ids become folder names and backend arguments, so they are checked
// first (exec::check_safe_name: no '/', no "..", no NUL, no control
// characters, at most 128 characters), and the attempt is positive.
std::string assignment_problem(const Assignment& a);

// The Slurm gres type of a chip: an override, else the id up to its first
// '-' ("h100-sxm" -> "h100", "h800" -> "h800").
std::string gres_type(const std::string& chip, const std::map<std::string, std::string>& overrides);

class Core {
 public:
  // `log` gets one line per action (may be empty: quiet).
  Core(CoreOptions options, exec::Backend& backend, AgentState state, SteadyNow now, LogLine log);

  // Acts on assignments received at `received` (relative times count from
  // then). Ids acted on before are skipped; an id whose action must wait
  // (the backend could not say whether the run exists) is retried by tick().
  void handle(const std::vector<Assignment>& assignments, SteadyTime received);

  // Polls the backend when due (or `force`), reports new checkpoints and
  // output, ends runs (checkpoint and log reports before `exited`), stops runs
  // at their placement's end and after checkpoints asked with then=stop.
  void tick(bool force_poll = false);

  // Self-fencing: stops every run that has not ended; they are reported
  // `exited` outcome lost with `why` as detail once they end.
  void fence(const std::string& why);

  // The agent stops (local backend: its runs cannot outlive it): stops every
  // run, polls until they end or `wait` passes, and reports each exited
  // outcome lost with detail `why`.
  void stop_all_and_wait(const std::string& why, Duration wait);

  std::vector<HeartbeatRun> heartbeat_runs() const;
  bool has_live_runs() const;

  // Reports not yet accepted, oldest first; the driver removes the first `n`
  // once the server answered them.
  const std::deque<Report>& pending_reports() const { return state_.pending; }
  void reports_accepted(std::size_t n);

  const AgentState& state() const { return state_; }
  void set_agent_id(const std::string& id);
  // True once after every change of the state (the driver saves it then).
  bool take_changed();

  // The earliest moment tick() has something to do without new input.
  SteadyTime next_wakeup() const;

 private:
  void start(const Assignment& a, SteadyTime received);
  // An assignment whose ids are unsafe: acknowledged, never acted on; a
  // start is reported failed with `why`.
  void refuse(const Assignment& a, const std::string& why);
  // The user a job of `org` runs as (nullopt: the agent's own).
  Result<std::optional<exec::RunUser>> run_user_for(const std::string& org);
  void checkpoint(const Assignment& a, SteadyTime received);
  void stop(const Assignment& a);
  // For an assignment about a run the agent does not have running: ack it
  // and send the run's `exited` again when it ended here.
  void ack_unknown(const Assignment& a);
  // The run an assignment is about, marked done and acknowledged; nullptr
  // (and acknowledged as unknown) when it has none that is going.
  RunRecord* take_live_run(const Assignment& a);
  void ack(const Assignment& a);
  // Asks the backend to stop the run (once). `detail` becomes the exited
  // report's (kept if one was set before, unless `override_detail`);
  // `forced_outcome` ("lost" or "") the outcome unless the run succeeds.
  void ask_stop(RunRecord& run, const std::string& detail, const std::string& forced_outcome,
                bool override_detail);
  void poll_backend();
  void watch(RunRecord& run, SteadyTime now);
  void report_checkpoint(RunRecord& run);
  // Sends output since the last report; `all`: up to the end, whole.
  void report_output(RunRecord& run, SteadyTime now, bool all);
  void finish(RunRecord& run, const exec::RunStatus& status);
  void forget_old_runs(SteadyTime now);
  void queue(Report report);
  void say(const std::string& line) const;
  std::string describe(const RunRecord& run) const;

  CoreOptions options_;
  exec::Backend& backend_;
  AgentState state_;
  SteadyNow now_;
  LogLine log_;
  bool changed_ = false;
  std::optional<SteadyTime> last_poll_;
  bool poll_failing_ = false;
  std::vector<std::pair<Assignment, SteadyTime>> deferred_;
  std::set<std::string> deferred_said_;  // logged once each
  std::optional<SteadyTime> last_deferred_try_;
};

}  // namespace straits::agent::internal
