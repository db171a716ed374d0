// The agent's driver: the HTTP side of the protocol around internal::Core.
// The thread of run() owns the backend and the core: it registers, hands
// assignments to the core, ticks it, heartbeats, sends the reports it queued
// (in order, retried until accepted), fences when the server is silent for
// too long, and saves the state after every change. The poller thread only
// long-polls the assignments and hands them over through `inbox_`.
#include "agent/agent.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "agent/internal/core.h"
#include "agent/internal/protocol.h"
#include "agent/internal/server_client.h"
#include "agent/internal/state.h"
#include "core/clock.h"
#include "exec/run_user.h"

#ifndef STRAITS_VERSION
#define STRAITS_VERSION "0.0.0"
#endif

namespace straits::agent {

using internal::SteadyTime;
using Steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxReportsPerPost = 100;
constexpr std::size_t kMaxReportBytes = 512 * 1024;  // the server takes bodies up to 1 MiB
const Duration kRequestTimeout = Duration::seconds(10);

ErrorCode code_of_status(int status) {
  switch (status) {
    case 401: return ErrorCode::kUnauthenticated;
    case 403: return ErrorCode::kPermissionDenied;
    case 404: return ErrorCode::kNotFound;
    default: return ErrorCode::kInvalidArgument;
  }
}

std::int64_t ticks(SteadyTime t) {
  return t.time_since_epoch().count();
}

}  // namespace

struct Agent::Impl {
  AgentOptions o;
  std::unique_ptr<exec::Backend> backend;
  std::unique_ptr<internal::Core> core;
  internal::ServerClient main_client;
  internal::ServerClient poll_client;
  std::filesystem::path state_path;
  SystemClock wall;

  std::mutex log_mutex;
  std::mutex mutex;
  std::condition_variable cv;
  bool stopping = false;                                                       // guarded by mutex
  std::deque<std::pair<std::vector<internal::Assignment>, SteadyTime>> inbox;  // guarded
  std::string agent_id;                      // guarded; "" until registered
  std::atomic<std::int64_t> last_answer{0};  // steady ticks of the last 2xx
  std::atomic<bool> poller_done{false};

  // The main thread's own.
  std::int64_t heartbeat_seconds = 5;
  std::int64_t lost_after_seconds = 30;
  std::string last_problem;  // logged once until something else happens
  bool save_failing = false;
  std::size_t batch_limit = kMaxReportsPerPost;
  bool identity_checked = false;

  Impl(AgentOptions options, std::unique_ptr<exec::Backend> b)
      : o(std::move(options)),
        backend(std::move(b)),
        main_client(o.server_url, o.token, false),
        poll_client(o.server_url, o.token, true),
        state_path(o.state_dir / "state.json") {}

  void say(const std::string& line) {
    if (!o.log) return;
    std::lock_guard lock(log_mutex);
    o.log(line);
  }
  void debug(const std::string& line) {
    if (!o.debug) return;
    std::lock_guard lock(log_mutex);
    o.debug(line);
  }
  // A problem that repeats (the server is down) is said once.
  void problem(const std::string& line) {
    if (line == last_problem) return;
    last_problem = line;
    say(line);
  }
  // The server answered (2xx): the fencing clock starts again. `main`: on
  // the thread of run(), which owns last_problem.
  void answered(bool main = true) {
    last_answer = ticks(Steady::now());
    if (main) last_problem.clear();
  }
  bool is_stopping() {
    std::lock_guard lock(mutex);
    return stopping;
  }
  std::string id() {
    std::lock_guard lock(mutex);
    return agent_id;
  }

  void save() {
    const std::string text = internal::state_to_text(core->state(), Steady::now(), wall.now());
    const Status saved = internal::write_state_file(state_path, text);
    if (!saved) {
      if (!save_failing) say("cannot save the state: " + saved.error().message());
      save_failing = true;
    } else if (save_failing) {
      save_failing = false;
      say("state saved again to " + state_path.string());
    }
  }

  // POST /v1/agents. True: registered; false: not now (no answer, 5xx), try
  // again later; an Error: refused (4xx).
  Result<bool> register_once() {
    if (!identity_checked) {
      auto checked = check_identity();
      if (!checked || !*checked) return checked;
      identity_checked = true;
    }
    const std::string body =
        internal::register_body(o.name, o.sites, std::string(backend->name()),
                                o.version.empty() ? std::string(STRAITS_VERSION) : o.version);
    STRAITS_ASSIGN_OR_RETURN(
        std::optional<std::string> answered_body,
        body_of(main_client.post("/v1/agents", body, kRequestTimeout), "registering again later"));
    if (!answered_body) return false;
    auto info = internal::parse_agent(*answered_body);
    if (!info) {
      problem("server " + o.server_url + ": " + info.error().message() +
              "; registering again later");
      return false;
    }
    answered();
    heartbeat_seconds = info->heartbeat_interval_seconds;
    lost_after_seconds = info->lost_after_seconds;
    core->set_agent_id(info->id);
    {
      std::lock_guard lock(mutex);
      agent_id = info->id;
    }
    cv.notify_all();
    std::string sites;
    for (const auto& s : o.sites) sites += (sites.empty() ? "" : ", ") + s;
    say("registered with " + o.server_url + " as " + info->id + " (" + o.name + ", sites " + sites +
        ", backend " + std::string(backend->name()) + "; heartbeat every " +
        std::to_string(heartbeat_seconds) + " s, lost after " + std::to_string(lost_after_seconds) +
        " s)");
    return true;
  }

  // An answer's body when the server said yes; nullopt when it could not
  // answer now (said, with `again`: the caller tries later); an Error when it
  // refused (4xx: asking again would not help).
  Result<std::optional<std::string>> body_of(const Result<internal::HttpAnswer>& answer,
                                             const std::string& again) {
    if (!answer) {
      problem(answer.error().message() + "; " + again);
      return std::optional<std::string>();
    }
    if (answer->status >= 400 && answer->status < 500) {
      return Error(code_of_status(answer->status),
                   "server " + o.server_url + ": " +
                       internal::describe_error_answer(answer->status, answer->body));
    }
    if (!answer->ok()) {
      problem("server " + o.server_url + ": " +
              internal::describe_error_answer(answer->status, answer->body) + "; " + again);
      return std::optional<std::string>();
    }
    return std::optional<std::string>(answer->body);
  }

  // GET /v1/whoami: an admin's token is refused unless allowed. True: fine;
  // false: no answer yet, ask again later; an Error: refused.
  Result<bool> check_identity() {
    STRAITS_ASSIGN_OR_RETURN(
        std::optional<std::string> answered_body,
        body_of(main_client.get("/v1/whoami", kRequestTimeout), "asking again later"));
    if (!answered_body) return false;
    auto role = internal::parse_whoami_role(*answered_body);
    if (!role) {
      problem("server " + o.server_url + ": " + role.error().message() + "; asking again later");
      return false;
    }
    if (*role == "admin" && !o.allow_admin_token) {
      return Error(ErrorCode::kPermissionDenied,
                   "the agent's token is an admin's: a job that stole it could do anything. Give "
                   "the agent a token of role agent for its sites (straits token create --role "
                   "agent --site SITE), or pass --allow-admin-token");
    }
    if (*role == "admin") say("running with an admin's token (--allow-admin-token)");
    return true;
  }

  void forget_registration(const std::string& why) {
    say("server " + o.server_url + ": " + why + "; registering again");
    std::lock_guard lock(mutex);
    agent_id.clear();
  }

  void heartbeat() {
    const std::string id = this->id();
    if (id.empty()) return;
    auto answer =
        main_client.post("/v1/agents/" + id + "/heartbeat",
                         internal::heartbeat_body(core->heartbeat_runs()), kRequestTimeout);
    if (!answer) return problem(answer.error().message());
    if (answer->status == 404) return forget_registration("agent " + id + " unknown");
    if (!answer->ok()) {
      return problem("heartbeat: server " + o.server_url + ": " +
                     internal::describe_error_answer(answer->status, answer->body));
    }
    answered();
    if (auto info = internal::parse_agent(answer->body)) {
      heartbeat_seconds = info->heartbeat_interval_seconds;
      lost_after_seconds = info->lost_after_seconds;
    }
  }

  // Sends the oldest pending reports. True when the server took them.
  bool send_reports() {
    const std::string id = this->id();
    const auto& pending = core->pending_reports();
    if (id.empty() || pending.empty()) return false;
    std::vector<internal::Report> batch;
    std::size_t bytes = 0;
    for (const internal::Report& r : pending) {
      if (batch.size() >= batch_limit) break;
      const std::size_t size = r.text.size() + r.log_tail.size() + r.detail.size() + 256;
      if (!batch.empty() && bytes + size > kMaxReportBytes) break;
      bytes += size;
      batch.push_back(r);
    }
    auto answer = main_client.post("/v1/agents/" + id + "/reports", internal::reports_body(batch),
                                   kRequestTimeout);
    if (!answer) {
      problem(answer.error().message() + "; reports kept, sent again later");
      return false;
    }
    if (answer->status == 404) {
      forget_registration("agent " + id + " unknown");
      return false;
    }
    const std::string what = internal::describe_error_answer(answer->status, answer->body);
    if (answer->status == 400 || answer->status == 413 || answer->status == 422) {
      if (batch.size() > 1) {
        debug("reports: server " + o.server_url + ": " + what + "; sending them one at a time");
        batch_limit = 1;  // find the one it refuses
        return false;
      }
      say("server " + o.server_url + " refused a report (" + what +
          "), dropped: " + internal::report_json(batch.front()));
      core->reports_accepted(1);
      return true;
    }
    if (!answer->ok()) {
      problem("reports: server " + o.server_url + ": " + what + "; sent again later");
      return false;
    }
    answered();
    if (auto results = internal::parse_report_results(answer->body)) {
      for (std::size_t i = 0; i < results->size() && i < batch.size(); ++i) {
        if (!(*results)[i].applied) {
          debug("report " + batch[i].event + " of " + batch[i].job + " attempt " +
                std::to_string(batch[i].attempt) + " not applied: " + (*results)[i].why);
        }
      }
    }
    core->reports_accepted(batch.size());
    if (batch_limit == 1 && batch.size() == 1) batch_limit = kMaxReportsPerPost;
    return true;
  }

  Duration fence_after() const {
    std::int64_t s = lost_after_seconds - 2 * heartbeat_seconds;
    if (s <= 0) s = std::max<std::int64_t>(1, lost_after_seconds / 2);
    return Duration::seconds(s);
  }

  void poll_loop() {
    auto backoff = std::chrono::milliseconds(500);
    SteadyTime last = Steady::now() - std::chrono::seconds(1);
    for (;;) {
      std::string id;
      {
        std::unique_lock lock(mutex);
        cv.wait(lock, [this] { return stopping || !agent_id.empty(); });
        if (stopping) break;
        id = agent_id;
      }
      // At most ten polls a second, whatever the server answers.
      std::this_thread::sleep_until(last + std::chrono::milliseconds(100));
      last = Steady::now();
      const int wait = std::clamp(o.poll_wait_seconds, 0, 60);
      auto answer =
          poll_client.get("/v1/agents/" + id + "/assignments?wait=" + std::to_string(wait),
                          Duration::seconds(wait + 15));
      const SteadyTime received = Steady::now();
      if (is_stopping()) break;
      bool fine = false;
      if (!answer) {
        debug(answer.error().message());
      } else if (!answer->ok()) {
        debug("assignments: server " + o.server_url + ": " +
              internal::describe_error_answer(answer->status, answer->body));
      } else if (auto assignments = internal::parse_assignments(answer->body); !assignments) {
        say("assignments: server " + o.server_url + ": " + assignments.error().message());
      } else {
        fine = true;
        answered(false);
        if (!assignments->empty()) {
          {
            std::lock_guard lock(mutex);
            inbox.emplace_back(std::move(*assignments), received);
          }
          cv.notify_all();
        }
      }
      if (fine) {
        backoff = std::chrono::milliseconds(500);
        continue;
      }
      std::unique_lock lock(mutex);
      cv.wait_for(lock, backoff, [this] { return stopping; });
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
    }
    poller_done = true;
  }

  Status loop() {
    SteadyTime next_register = Steady::now();
    auto register_backoff = std::chrono::seconds(1);
    SteadyTime next_heartbeat = Steady::now();
    SteadyTime next_report = Steady::now();
    auto report_backoff = std::chrono::milliseconds(250);
    bool fenced = false;
    for (;;) {
      std::deque<std::pair<std::vector<internal::Assignment>, SteadyTime>> received;
      {
        std::lock_guard lock(mutex);
        if (stopping) return ok();
        received.swap(inbox);
      }
      for (auto& [assignments, at] : received) core->handle(assignments, at);

      SteadyTime now = Steady::now();
      const bool registered = !id().empty();
      if (!registered && now >= next_register) {
        auto done = register_once();
        if (!done) return std::move(done).error();
        if (*done) {
          register_backoff = std::chrono::seconds(1);
          next_heartbeat = now + std::chrono::seconds(heartbeat_seconds);
          next_report = now;
        } else {
          next_register = now + register_backoff;
          register_backoff =
              std::min<std::chrono::seconds>(register_backoff * 2, std::chrono::seconds(30));
        }
      }

      core->tick();

      // Self-fencing: the server would soon mark this agent lost and place
      // its jobs elsewhere; their runs here must have ended by then.
      now = Steady::now();
      const auto silent = now - SteadyTime(Steady::duration(last_answer.load()));
      const auto limit = std::chrono::microseconds(fence_after().count_microseconds());
      if (silent >= limit) {
        if (!fenced) {
          fenced = true;
          if (core->has_live_runs()) {
            say("no answer from the server " + o.server_url + " for " +
                std::to_string(fence_after().whole_seconds()) + " s: stopping every run");
          }
        }
        core->fence("stopped by the agent: no answer from the server for " +
                    std::to_string(fence_after().whole_seconds()) +
                    " s (self-fencing: the server requeues the job)");
      } else if (fenced) {
        fenced = false;
        say("the server " + o.server_url + " answers again");
      }

      bool more = false;
      if (!id().empty()) {
        if (now >= next_heartbeat) {
          heartbeat();
          next_heartbeat = Steady::now() + std::chrono::seconds(heartbeat_seconds);
        }
        if (!core->pending_reports().empty() && Steady::now() >= next_report) {
          if (send_reports()) {
            report_backoff = std::chrono::milliseconds(250);
            more = !core->pending_reports().empty();
          } else {
            next_report = Steady::now() + report_backoff;
            report_backoff =
                std::min<std::chrono::milliseconds>(report_backoff * 2, std::chrono::seconds(5));
          }
        }
      }
      if (core->take_changed()) save();
      if (more) continue;

      SteadyTime until = std::min(core->next_wakeup(), Steady::now() + std::chrono::seconds(1));
      if (!id().empty()) {
        until = std::min(until, next_heartbeat);
        if (!core->pending_reports().empty()) until = std::min(until, next_report);
      } else {
        until = std::min(until, next_register);
      }
      std::unique_lock lock(mutex);
      cv.wait_until(lock, until, [this] { return stopping || !inbox.empty(); });
    }
  }

  void shutdown() {
    if (o.stop_runs_at_exit && core->has_live_runs()) {
      say("stopping the runs: the agent stops");
      core->stop_all_and_wait("agent stopped", o.kill_grace + Duration::seconds(2));
    }
    if (core->take_changed()) save();
    const SteadyTime until =
        Steady::now() + std::chrono::microseconds(o.flush_timeout.count_microseconds());
    while (!id().empty() && !core->pending_reports().empty() && Steady::now() < until) {
      if (!send_reports()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    save();
    if (!core->pending_reports().empty()) {
      say(std::to_string(core->pending_reports().size()) + " reports not sent yet: kept in " +
          state_path.string() + " for the next start");
    }
  }
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;

Result<std::unique_ptr<Agent>> Agent::create(AgentOptions options,
                                             std::unique_ptr<exec::Backend> backend) {
  if (options.server_url.empty()) {
    return Error(ErrorCode::kInvalidArgument, "the agent needs the server's URL");
  }
  if (options.name.empty()) return Error(ErrorCode::kInvalidArgument, "the agent needs a name");
  if (options.sites.empty()) {
    return Error(ErrorCode::kInvalidArgument, "the agent needs at least one site");
  }
  if (backend == nullptr) return Error(ErrorCode::kInvalidArgument, "the agent needs a backend");
  if (options.work_dir.empty()) options.work_dir = options.state_dir / "runs";
  if (options.checkpoint_root.empty()) options.checkpoint_root = options.state_dir / "checkpoints";
  if (options.run_as_per_org && !options.run_as.empty()) {
    return Error(ErrorCode::kInvalidArgument, "run_as and run_as_per_org exclude each other");
  }
  // Runs pass through these to their own folders but cannot list them;
  // state.json is the agent's alone (0600).
  for (const auto& dir : {options.state_dir, options.work_dir, options.checkpoint_root}) {
    if (!dir.empty()) STRAITS_TRY(exec::prepare_agent_folder(dir));
  }
  if (options.run_as_per_org || !options.run_as.empty()) {
    for (const auto& dir : {options.work_dir, options.checkpoint_root}) {
      STRAITS_TRY(exec::check_reachable_by_runs(dir));
    }
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(backend));
  auto loaded = internal::load_state(impl->state_path, Steady::now(), impl->wall.now());
  if (!loaded) return std::move(loaded).error();
  internal::AgentState state = loaded->value_or(internal::AgentState{});
  if (*loaded) {
    std::size_t live = 0;
    for (const auto& [key, run] : state.runs) live += run.ended ? 0 : 1;
    impl->say("state from " + impl->state_path.string() + ": " + std::to_string(live) +
              " runs to watch again, " + std::to_string(state.pending.size()) + " reports to send");
  }
  internal::CoreOptions core;
  core.work_root = impl->o.work_dir;
  core.checkpoint_root = impl->o.checkpoint_root;
  core.kill_grace = impl->o.kill_grace;
  core.poll_interval = impl->o.backend_poll_interval;
  core.gres = impl->o.gres;
  core.partition = impl->o.partition;
  core.run_as = impl->o.run_as;
  core.run_as_per_org = impl->o.run_as_per_org;
  core.run_path = impl->o.run_path;
  Impl* self = impl.get();
  impl->core = std::make_unique<internal::Core>(
      std::move(core), *impl->backend, std::move(state), [] { return Steady::now(); },
      [self](const std::string& line) { self->say(line); });
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

Status Agent::run() {
  Impl& s = *impl_;
  s.last_answer = ticks(Steady::now());  // the fencing clock starts now
  s.poller_done = false;
  std::thread poller([&s] { s.poll_loop(); });
  Status result = s.loop();
  {
    std::lock_guard lock(s.mutex);
    s.stopping = true;
  }
  s.cv.notify_all();
  while (!s.poller_done) {
    s.poll_client.abort();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  poller.join();
  if (result) {
    s.shutdown();
  } else {
    s.save();
  }
  return result;
}

void Agent::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->poll_client.abort();
}

}  // namespace straits::agent
