#include "agent/internal/core.h"

#include <algorithm>
#include <thread>

#include "exec/run_user.h"

namespace straits::agent::internal {
namespace {

std::chrono::microseconds chrono_of(Duration d) {
  return std::chrono::microseconds(d.count_microseconds());
}

Duration duration_of(std::chrono::steady_clock::duration d) {
  return Duration::microseconds(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::string outcome_of(exec::RunState state) {
  switch (state) {
    case exec::RunState::kSucceeded: return "succeeded";
    case exec::RunState::kFailed: return "failed";
    case exec::RunState::kCancelled: return "cancelled";
    case exec::RunState::kTimedOut: return "timed_out";
    case exec::RunState::kNodeFailure: return "node_failure";
    case exec::RunState::kLost: return "lost";
    case exec::RunState::kPending:
    case exec::RunState::kRunning: break;
  }
  return "lost";
}

// A tail cut at a byte count may start inside a UTF-8 sequence: drop its
// continuation bytes.
std::string without_broken_start(std::string text) {
  std::size_t skip = 0;
  while (skip < 3 && skip < text.size() &&
         (static_cast<unsigned char>(text[skip]) & 0xC0) == 0x80) {
    ++skip;
  }
  return text.substr(skip);
}

std::string attempt_dir(const std::string& job, std::int32_t attempt) {
  return job + "/attempt-" + std::to_string(attempt);
}

// How many log chunks one watch sends at most (64 KiB each): a run that
// writes faster than this is reported late, never dropped.
constexpr int kChunksPerWatch = 4;
// At the end of a run: what is left is sent, up to this many chunks; the
// rest is skipped (and said so).
constexpr int kChunksAtEnd = 64;
// Longest texts the server takes in a report's detail and note.
constexpr std::size_t kMaxDetail = 4000;
constexpr std::size_t kMaxNote = 1000;

}  // namespace

std::string assignment_problem(const Assignment& a) {
  if (const Status job = exec::check_safe_name("job id", a.job); !job) {
    return job.error().message();
  }
  // The assignment id ("JOB/ATTEMPT/KIND") is only kept in state.json, never a
  // path: bounded, and no control characters (NUL included).
  if (a.id.size() > 300 || std::any_of(a.id.begin(), a.id.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
      })) {
    return "assignment id of " + std::to_string(a.id.size()) +
           " bytes is longer than 300 or holds control characters";
  }
  if (a.attempt < 1) return "attempt " + std::to_string(a.attempt) + " is not >= 1";
  if (!a.org.empty()) {
    const Status checked = exec::check_safe_name("org id", a.org);
    if (!checked) return checked.error().message();
  }
  return "";
}

std::string gres_type(const std::string& chip,
                      const std::map<std::string, std::string>& overrides) {
  if (auto it = overrides.find(chip); it != overrides.end()) return it->second;
  return chip.substr(0, chip.find('-'));
}

Core::Core(CoreOptions options, exec::Backend& backend, AgentState state, SteadyNow now,
           LogLine log)
    : options_(std::move(options)),
      backend_(backend),
      state_(std::move(state)),
      now_(std::move(now)),
      log_(std::move(log)) {}

void Core::say(const std::string& line) const {
  if (log_) log_(line);
}

std::string Core::describe(const RunRecord& run) const {
  return run.job + " attempt " + std::to_string(run.attempt);
}

void Core::queue(Report report) {
  // The server takes UTF-8 text of bounded length (docs/agents.md).
  make_utf8(report.text);
  make_utf8(report.log_tail);
  make_utf8(report.detail);
  make_utf8(report.note);
  cut_utf8(report.detail, kMaxDetail);
  cut_utf8(report.note, kMaxNote);
  state_.pending.push_back(std::move(report));
  changed_ = true;
}

namespace {

// A report about an assignment: its job, attempt and id, and the event.
Report report_on(const Assignment& a, const char* event) {
  Report r;
  r.job = a.job;
  r.attempt = a.attempt;
  r.event = event;
  r.assignment = a.id;
  return r;
}

}  // namespace

void Core::ack(const Assignment& a) {
  queue(report_on(a, "ack"));
}

void Core::reports_accepted(std::size_t n) {
  n = std::min(n, state_.pending.size());
  state_.pending.erase(state_.pending.begin(), state_.pending.begin() + static_cast<long>(n));
  if (n > 0) changed_ = true;
}

void Core::set_agent_id(const std::string& id) {
  if (state_.agent_id == id) return;
  state_.agent_id = id;
  changed_ = true;
}

bool Core::take_changed() {
  const bool changed = changed_;
  changed_ = false;
  return changed;
}

bool Core::has_live_runs() const {
  return std::any_of(state_.runs.begin(), state_.runs.end(), [](const auto& entry) {
    return !entry.second.ended && !entry.second.handle.empty();
  });
}

std::vector<HeartbeatRun> Core::heartbeat_runs() const {
  std::vector<HeartbeatRun> runs;
  for (const auto& [key, run] : state_.runs) {
    if (run.ended || run.handle.empty()) continue;
    runs.push_back({run.job, run.attempt, run.state == "running" ? "running" : "pending"});
  }
  return runs;
}

void Core::handle(const std::vector<Assignment>& assignments, SteadyTime received) {
  for (const Assignment& a : assignments) {
    if (state_.done.contains(a.id)) continue;
    const bool waiting = std::any_of(deferred_.begin(), deferred_.end(),
                                     [&a](const auto& d) { return d.first.id == a.id; });
    if (waiting) continue;
    if (const std::string why = assignment_problem(a); !why.empty()) {
      refuse(a, why);
      continue;
    }
    if (a.kind == "start") {
      start(a, received);
    } else if (a.kind == "checkpoint") {
      checkpoint(a, received);
    } else if (a.kind == "stop" || a.kind == "cancel") {
      stop(a);
    } else {
      say("assignment " + a.id + " of unknown kind '" + a.kind + "': acknowledged, not acted on");
      state_.done.insert(a.id);
      ack(a);
    }
  }
}

void Core::refuse(const Assignment& a, const std::string& why) {
  say("assignment refused, not acted on: " + why);
  state_.done.insert(a.id);
  changed_ = true;
  if (a.kind != "start") {
    ack(a);
    return;
  }
  // The server waits for the start to be answered: started (no handle), then exited.
  queue(report_on(a, "started"));
  Report r;
  r.job = a.job;
  r.attempt = a.attempt;
  r.event = "exited";
  r.outcome = "failed";
  r.detail = "refused by the agent: " + why;
  queue(std::move(r));
}

Result<std::optional<exec::RunUser>> Core::run_user_for(const std::string& org) {
  if (options_.run_as_per_org) {
    if (org.empty()) {
      return Error(ErrorCode::kFailedPrecondition,
                   "the server names no org for the job, and runs execute as their org's user");
    }
    STRAITS_ASSIGN_OR_RETURN(exec::RunUser user, exec::ensure_run_user(exec::org_run_user(org)));
    return std::optional<exec::RunUser>(std::move(user));
  }
  if (options_.run_as.empty()) return std::optional<exec::RunUser>();
  STRAITS_ASSIGN_OR_RETURN(exec::RunUser user, exec::find_run_user(options_.run_as));
  return std::optional<exec::RunUser>(std::move(user));
}

void Core::start(const Assignment& a, SteadyTime received) {
  const std::string key = run_key(a.job, a.attempt);
  if (state_.runs.contains(key)) {
    // The attempt is here already (started under this id or found): never twice.
    state_.done.insert(a.id);
    changed_ = true;
    return;
  }
  auto found = backend_.find(a.job, a.attempt, options_.work_root / attempt_dir(a.job, a.attempt));
  if (!found) {
    if (deferred_said_.insert(a.id).second) {
      say("start " + a.job + " attempt " + std::to_string(a.attempt) + ": cannot ask " +
          std::string(backend_.name()) + " whether it runs already (" + found.error().message() +
          "); trying again");
    }
    deferred_.emplace_back(a, received);
    return;
  }
  deferred_said_.erase(a.id);
  const SteadyTime now = now_();
  RunRecord run;
  run.job = a.job;
  run.attempt = a.attempt;
  run.work_dir = options_.work_root / attempt_dir(a.job, a.attempt);
  run.checkpoint_dir = options_.checkpoint_root / attempt_dir(a.job, a.attempt);
  if (a.must_leave_in_seconds) {
    run.must_leave = received + std::chrono::seconds(*a.must_leave_in_seconds);
  }
  state_.done.insert(a.id);
  changed_ = true;

  // The server binds the attempt to this agent with `started`; a run that
  // could not start is reported started (no handle) and exited at once.
  Report started = report_on(a, "started");
  std::optional<Report> exited;
  auto end_now = [&](const std::string& outcome, const std::string& detail) {
    Report r;
    r.job = a.job;
    r.attempt = a.attempt;
    r.event = "exited";
    r.outcome = outcome;
    r.detail = detail;
    run.ended = true;
    run.exited = r;
    exited = std::move(r);
  };
  if (*found) {
    run.handle = **found;
    say("start " + describe(run) + " on " + std::string(backend_.name()) + ": already there as " +
        run.handle + ", watching it");
  } else if (run.must_leave && *run.must_leave - chrono_of(options_.kill_grace) <= now) {
    end_now("cancelled", "not started: its placement ends before it could run");
    say("start " + describe(run) + ": not started, its placement ends now");
  } else if (auto user = run_user_for(a.org); !user) {
    end_now("failed", "cannot start: " + user.error().message());
    say("start " + describe(run) + " failed: " + user.error().message());
  } else {
    exec::LaunchSpec spec;
    spec.run_as = *user;
    spec.job_id = a.job;
    spec.attempt = a.attempt;
    spec.command = a.command;
    spec.work_dir = run.work_dir;
    spec.checkpoint_dir = run.checkpoint_dir;
    spec.resume_from = a.resume_from;
    spec.gpus = a.gpus;
    spec.nodes = a.nodes;
    spec.gpus_per_node = a.gpus_per_node;
    spec.gpu_type = a.chip.empty() ? std::string() : gres_type(a.chip, options_.gres);
    spec.partition = options_.partition;
    if (!options_.run_path.empty()) spec.env.emplace_back("PATH", options_.run_path);
    if (a.time_limit_seconds) spec.time_limit = Duration::seconds(*a.time_limit_seconds);
    if (run.must_leave) {
      const Duration left = duration_of(*run.must_leave - now);
      if (!spec.time_limit || left < *spec.time_limit) {
        spec.time_limit = left;
        run.limit_is_placement = true;
      }
    }
    auto launched = backend_.launch(spec);
    if (!launched) {
      end_now("failed", "cannot start: " + launched.error().message());
      say("start " + describe(run) + " on " + std::string(backend_.name()) +
          " failed: " + launched.error().message());
    } else {
      run.handle = *launched;
      say("start " + describe(run) + " on " + std::string(backend_.name()) + ": handle " +
          run.handle);
    }
  }
  started.handle = run.handle;
  state_.runs[key] = std::move(run);
  queue(std::move(started));
  if (exited) queue(std::move(*exited));
}

void Core::ack_unknown(const Assignment& a) {
  state_.done.insert(a.id);
  ack(a);
  auto it = state_.runs.find(run_key(a.job, a.attempt));
  if (it != state_.runs.end() && it->second.ended && it->second.exited) {
    say(a.kind + " " + describe(it->second) + ": it ended already (" + it->second.exited->outcome +
        "), its exit sent again");
    Report again = *it->second.exited;
    again.assignment.clear();
    queue(std::move(again));
  } else {
    say(a.kind + " " + a.job + " attempt " + std::to_string(a.attempt) +
        ": no such run here, acknowledged");
  }
}

RunRecord* Core::take_live_run(const Assignment& a) {
  auto it = state_.runs.find(run_key(a.job, a.attempt));
  if (it == state_.runs.end() || it->second.ended || it->second.handle.empty()) {
    ack_unknown(a);
    return nullptr;
  }
  state_.done.insert(a.id);
  ack(a);
  return &it->second;
}

void Core::checkpoint(const Assignment& a, SteadyTime received) {
  RunRecord* live = take_live_run(a);
  if (!live) return;
  RunRecord& run = *live;
  report_checkpoint(run);  // what it had before being asked
  CheckpointWait wait;
  wait.assignment = a.id;
  wait.then_stop = a.then == "stop";
  wait.before = run.last_checkpoint;
  wait.reason = a.reason;
  wait.until = a.deadline_in_seconds ? received + std::chrono::seconds(*a.deadline_in_seconds) -
                                           chrono_of(options_.kill_grace)
                                     : received + chrono_of(options_.default_checkpoint_wait);
  const Status asked = backend_.request_checkpoint(run.handle);
  say("checkpoint " + describe(run) + ": asked" + (wait.then_stop ? ", then stop" : "") +
      (a.reason.empty() ? "" : " (" + a.reason + ")"));
  if (!asked) {
    say("checkpoint " + describe(run) + ": cannot ask for one: " + asked.error().message());
    if (wait.then_stop) {
      ask_stop(run, "stopped without a checkpoint: " + asked.error().message(), "", false);
    }
    return;
  }
  run.checkpoint_wait = std::move(wait);
  changed_ = true;
}

void Core::stop(const Assignment& a) {
  // A start still waiting for the backend: it will not be started at all.
  auto d = std::find_if(deferred_.begin(), deferred_.end(), [&a](const auto& entry) {
    return entry.first.job == a.job && entry.first.attempt == a.attempt;
  });
  if (d != deferred_.end()) {
    Report started;
    started.job = a.job;
    started.attempt = a.attempt;
    started.event = "started";
    started.assignment = d->first.id;
    Report r;
    r.job = a.job;
    r.attempt = a.attempt;
    r.event = "exited";
    r.outcome = "cancelled";
    r.detail = "not started: " + a.kind + " before it could start";
    state_.done.insert(d->first.id);
    deferred_.erase(d);
    RunRecord run;
    run.job = a.job;
    run.attempt = a.attempt;
    run.ended = true;
    run.exited = r;
    state_.runs[run_key(a.job, a.attempt)] = std::move(run);
    state_.done.insert(a.id);
    ack(a);
    queue(std::move(started));
    queue(std::move(r));
    say(a.kind + " " + a.job + " attempt " + std::to_string(a.attempt) + ": not started");
    return;
  }
  RunRecord* live = take_live_run(a);
  if (!live) return;
  RunRecord& run = *live;
  const std::string why = a.kind == "cancel" ? "cancelled" : "stopped";
  say(a.kind + " " + describe(run) + (a.reason.empty() ? "" : " (" + a.reason + ")"));
  run.checkpoint_wait.reset();
  ask_stop(run, a.reason.empty() ? why : why + ": " + a.reason, "", false);
}

void Core::ask_stop(RunRecord& run, const std::string& detail, const std::string& forced_outcome,
                    bool override_detail) {
  if (run.stop_detail.empty() || override_detail) run.stop_detail = detail;
  if (!forced_outcome.empty()) run.forced_outcome = forced_outcome;
  changed_ = true;
  if (run.stop_sent) return;
  const Status stopped = backend_.stop(run.handle, options_.kill_grace);
  if (!stopped) {
    say("stop " + describe(run) + ": " + stopped.error().message() + "; will try again");
    return;
  }
  run.stop_sent = true;
}

void Core::fence(const std::string& why) {
  for (auto& [key, run] : state_.runs) {
    if (run.ended || run.handle.empty() || run.forced_outcome == "lost") continue;
    say("fence " + describe(run) + ": " + why);
    run.checkpoint_wait.reset();
    ask_stop(run, why, "lost", true);
  }
}

void Core::stop_all_and_wait(const std::string& why, Duration wait) {
  poll_backend();  // runs that ended already are reported as they ended
  for (auto& [key, run] : state_.runs) {
    if (run.ended || run.handle.empty()) continue;
    run.checkpoint_wait.reset();
    ask_stop(run, why, "lost", true);
  }
  const SteadyTime until = now_() + chrono_of(wait);
  while (has_live_runs() && now_() < until) {
    poll_backend();
    if (has_live_runs()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& [key, run] : state_.runs) {
    if (run.ended || run.handle.empty()) continue;
    exec::RunStatus status;
    status.state = exec::RunState::kLost;
    finish(run, status);
  }
}

void Core::tick(bool force_poll) {
  SteadyTime now = now_();
  // Starts the backend could not answer about: again, as often as it is polled.
  if (!deferred_.empty() &&
      (!last_deferred_try_ || now - *last_deferred_try_ >= chrono_of(options_.poll_interval))) {
    last_deferred_try_ = now;
    auto retry = std::move(deferred_);
    deferred_.clear();
    for (auto& [a, received] : retry) {
      if (!state_.done.contains(a.id)) start(a, received);
    }
  }
  for (auto& [key, run] : state_.runs) {
    if (run.ended || run.handle.empty()) continue;
    if (!run.stop_sent && !run.stop_detail.empty()) {
      ask_stop(run, run.stop_detail, "", false);  // an earlier stop failed: again
    }
    if (run.must_leave && !run.stop_sent &&
        now >= *run.must_leave - chrono_of(options_.kill_grace)) {
      say("stop " + describe(run) + ": its placement ends (it must leave by then)");
      run.checkpoint_wait.reset();
      ask_stop(run, "stopped at the end of its placement", "", false);
    }
    if (run.checkpoint_wait) {
      report_checkpoint(run);
      const CheckpointWait wait = *run.checkpoint_wait;
      const bool made = run.last_checkpoint != wait.before;
      if (made || now >= wait.until) {
        run.checkpoint_wait.reset();
        changed_ = true;
        if (wait.then_stop) {
          const std::string detail =
              made ? "stopped after a checkpoint" : "stopped at the checkpoint deadline, none made";
          say("stop " + describe(run) + ": " + detail);
          ask_stop(run, wait.reason.empty() ? detail : detail + " (" + wait.reason + ")", "",
                   false);
        } else if (!made) {
          say("checkpoint " + describe(run) + ": none made by the deadline");
        }
      }
    }
  }
  forget_old_runs(now);
  const bool due =
      force_poll || !last_poll_ || now - *last_poll_ >= chrono_of(options_.poll_interval);
  if (due && has_live_runs()) poll_backend();
  now = now_();
  for (auto& [key, run] : state_.runs) {
    if (run.ended || run.handle.empty()) continue;
    report_checkpoint(run);
    if (now - run.last_log >= chrono_of(options_.log_interval)) report_output(run, now, false);
  }
}

void Core::forget_old_runs(SteadyTime now) {
  std::set<std::string> reporting;  // runs with reports not yet taken
  for (const Report& r : state_.pending) reporting.insert(run_key(r.job, r.attempt));
  for (auto it = state_.runs.begin(); it != state_.runs.end();) {
    RunRecord& run = it->second;
    if (!run.ended) {
      ++it;
      continue;
    }
    if (!run.ended_at) run.ended_at = now;  // ended before this agent started: from now
    if (now - *run.ended_at >= chrono_of(options_.forget_ended_after) &&
        !reporting.contains(it->first)) {
      it = state_.runs.erase(it);
      changed_ = true;
    } else {
      ++it;
    }
  }
}

void Core::poll_backend() {
  std::vector<std::string> handles;
  for (const auto& [key, run] : state_.runs) {
    if (!run.ended && !run.handle.empty()) handles.push_back(run.handle);
  }
  last_poll_ = now_();
  if (handles.empty()) return;
  auto polled = backend_.poll(handles);
  if (!polled) {
    if (!poll_failing_) {
      say("cannot ask " + std::string(backend_.name()) +
          " about its runs: " + polled.error().message() + "; trying again");
    }
    poll_failing_ = true;
    return;
  }
  if (poll_failing_) say(std::string(backend_.name()) + " answers again");
  poll_failing_ = false;
  for (auto& [key, run] : state_.runs) {
    if (run.ended || run.handle.empty()) continue;
    auto it = polled->find(run.handle);
    if (it == polled->end()) continue;
    const exec::RunStatus& status = it->second;
    if (exec::is_final(status.state)) {
      finish(run, status);
    } else {
      const std::string state = status.state == exec::RunState::kRunning ? "running" : "pending";
      if (state != run.state) {
        run.state = state;
        changed_ = true;
      }
    }
  }
}

void Core::report_checkpoint(RunRecord& run) {
  auto latest = exec::read_latest_checkpoint(run.checkpoint_dir);
  if (!latest) {
    if (latest.error().message() != run.checkpoint_error) {
      run.checkpoint_error = latest.error().message();
      say("checkpoint " + describe(run) + ": " + run.checkpoint_error);
    }
    return;
  }
  run.checkpoint_error.clear();
  if (!*latest || run.last_checkpoint == **latest) return;
  run.last_checkpoint = **latest;
  Report r;
  r.job = run.job;
  r.attempt = run.attempt;
  r.event = "checkpoint";
  r.path = run.last_checkpoint->path;
  r.note = run.last_checkpoint->note;
  say("checkpoint " + describe(run) + ": " + r.path + (r.note.empty() ? "" : " (" + r.note + ")"));
  queue(std::move(r));
}

void Core::report_output(RunRecord& run, SteadyTime now, bool all) {
  run.last_log = now;
  for (int i = 0; i < (all ? kChunksAtEnd : kChunksPerWatch); ++i) {
    const std::string chunk =
        exec::read_output(run.work_dir, run.output_offset, options_.log_chunk);
    if (chunk.empty()) {
      run.partial_line_since.reset();
      return;
    }
    const bool full = chunk.size() >= options_.log_chunk;
    std::size_t keep = chunk.size();
    if (!all) {
      // Whole lines (the server shows logs line by line); a partial line
      // waits a while for its end.
      const auto newline = chunk.rfind('\n');
      if (newline != std::string::npos) {
        keep = newline + 1;
      } else if (!full) {
        if (!run.partial_line_since) run.partial_line_since = now;
        if (now - *run.partial_line_since < chrono_of(options_.partial_line_wait)) return;
      }
    }
    if (full || !all) {
      const std::size_t whole = utf8_complete_prefix(std::string_view(chunk).substr(0, keep));
      if (whole > 0) keep = whole;
    }
    Report r;
    r.job = run.job;
    r.attempt = run.attempt;
    r.event = "log";
    r.text = chunk.substr(0, keep);
    run.output_offset += keep;
    run.partial_line_since.reset();
    queue(std::move(r));
    if (keep < chunk.size() || !full) return;  // caught up
  }
  if (!all) return;
  // The end of a run that wrote more than the agent could send: skip to the end.
  std::error_code ec;
  const auto size = std::filesystem::file_size(run.work_dir / "output.log", ec);
  if (!ec && size > run.output_offset) {
    Report r;
    r.job = run.job;
    r.attempt = run.attempt;
    r.event = "log";
    r.text = "[straits agent: " + std::to_string(size - run.output_offset) +
             " bytes of output not sent; see " + (run.work_dir / "output.log").string() + "]\n";
    run.output_offset = size;
    queue(std::move(r));
  }
}

void Core::finish(RunRecord& run, const exec::RunStatus& status) {
  report_checkpoint(run);
  report_output(run, now_(), true);
  Report r;
  r.job = run.job;
  r.attempt = run.attempt;
  r.event = "exited";
  r.outcome = outcome_of(status.state);
  r.exit_code = status.exit_code;
  r.signal = status.signal;
  r.detail = status.detail;
  if (!run.forced_outcome.empty() && status.state != exec::RunState::kSucceeded) {
    r.outcome = run.forced_outcome;
    r.detail = run.stop_detail;
  } else if (status.state == exec::RunState::kTimedOut && run.limit_is_placement) {
    // The backend's limit was the placement's end, not the job's own.
    r.outcome = "cancelled";
    r.detail = "stopped at the end of its placement" +
               (status.detail.empty() ? std::string() : "; " + status.detail);
  } else if (!run.stop_detail.empty() && status.state != exec::RunState::kSucceeded) {
    r.detail = run.stop_detail + (status.detail.empty() ? "" : "; " + status.detail);
  }
  if (status.state == exec::RunState::kLost && r.detail.empty()) {
    r.detail = std::string(backend_.name()) + " no longer knows the run " + run.handle;
  }
  r.log_tail = without_broken_start(exec::output_tail(run.work_dir, options_.log_tail));
  run.ended = true;
  run.ended_at = now_();
  run.checkpoint_wait.reset();
  run.exited = r;
  changed_ = true;
  std::string how = r.outcome;
  if (r.exit_code) how += ", exit code " + std::to_string(*r.exit_code);
  if (r.signal) how += ", signal " + std::to_string(*r.signal);
  say("exited " + describe(run) + ": " + how + (r.detail.empty() ? "" : " (" + r.detail + ")"));
  queue(std::move(r));
}

SteadyTime Core::next_wakeup() const {
  const SteadyTime now = now_();
  SteadyTime next = now + std::chrono::seconds(60);
  if (!deferred_.empty()) {
    next = std::min(next, last_deferred_try_.value_or(now) + chrono_of(options_.poll_interval));
  }
  for (const auto& [key, run] : state_.runs) {
    if (run.ended || run.handle.empty()) continue;
    const SteadyTime polled = last_poll_.value_or(now) + chrono_of(options_.poll_interval);
    next = std::min(next, polled);
    next = std::min(next, run.last_log + chrono_of(options_.log_interval));
    if (run.must_leave && !run.stop_sent) {
      next = std::min(next, *run.must_leave - chrono_of(options_.kill_grace));
    }
    if (run.checkpoint_wait) next = std::min(next, run.checkpoint_wait->until);
  }
  return std::max(next, now);
}

}  // namespace straits::agent::internal
