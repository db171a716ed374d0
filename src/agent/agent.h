// The site agent (`straits agent`, docs/agents.md): registers with the
// server for one or more sites, long-polls its assignments, runs them through
// an execution backend (local processes or Slurm), watches the runs and
// reports what becomes of them: started, checkpoints, output, exits.
//
// It keeps its state in STATE_DIR/state.json (rewritten atomically after
// every change): the assignments it acted on (each at most once, ever, even
// when the server delivers one again or the agent restarts), its runs, and
// the reports the server has not accepted yet (sent again after a restart).
//
// On its own, without the server: it stops a run at its placement's end
// (must_leave_in_seconds, SIGTERM a kill grace before), and when the server
// has not answered for lost_after - 2 x heartbeat_interval it stops every run
// (self-fencing: by the time the server requeues the job elsewhere, the run
// here has ended); they are reported `exited`, outcome lost, once the server
// answers again.
//
// Threads: run() drives the backend and does everything but the long-poll,
// which a second thread of the agent makes. The local backend's runs die with
// the thread that started them: call run() from a thread that lives as long
// as the process (main()).
//
// Example:
//   AgentOptions o;
//   o.server_url = "http://127.0.0.1:8080";
//   o.token = token;
//   o.name = "sg-tuas-1-a";
//   o.sites = {"sg-tuas-1"};
//   o.state_dir = "straits-agent/sg-tuas-1-a";
//   auto agent = Agent::create(o, exec::make_local_backend());
//   (*agent)->run();  // until (*agent)->stop(), e.g. from a SIGTERM watcher
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "exec/backend.h"

namespace straits::agent {

struct AgentOptions {
  std::string server_url;  // "http://HOST:PORT", optionally with a path prefix
  std::string token;       // of role agent for the sites (an admin's only with allow_admin_token)
  // The agent asks the server who its token is (GET /v1/whoami) before it
  // registers, and refuses an admin's token unless this is true: a token
  // that a job could steal must be able to do as little as possible.
  bool allow_admin_token = false;
  std::string name;  // the same name again is the same agent (restarts)
  std::vector<std::string> sites;
  std::filesystem::path state_dir;        // state.json
  std::filesystem::path work_dir;         // attempt N of JOB runs in work_dir/JOB/attempt-N
  std::filesystem::path checkpoint_root;  // its STRAITS_CHECKPOINT_DIR: root/JOB/attempt-N
  // Who runs the jobs (exec/run_user.h): with run_as_per_org, one Unix user
  // per org (created when missing); else run_as ("" for the agent's own
  // user). The state folder, the work and checkpoint roots get mode 0711
  // (runs pass through them to their own folders), state.json 0600.
  std::string run_as;
  bool run_as_per_org = false;
  // The runs' PATH: the folders where the site keeps the programs its jobs
  // may call, e.g. "/opt/site/bin:/usr/local/bin:/usr/bin:/bin" ("": the
  // allow-list's own, /usr/local/bin:/usr/bin:/bin). Never the agent's PATH.
  std::string run_path;
  Duration kill_grace = Duration::seconds(10);  // SIGTERM, then SIGKILL this much later
  int poll_wait_seconds = 20;                   // long-poll of assignments (0 to 60)
  // backend.poll at most this often (Slurm sites rate-limit their RPCs).
  Duration backend_poll_interval = Duration::milliseconds(500);
  std::map<std::string, std::string> gres;  // chip id -> Slurm gres type, over the default
  std::string partition;                    // Slurm partition of every run, "" for the default
  // When stop() is called: true (local backend) stops the runs, which
  // cannot outlive the agent, and reports them `exited` outcome lost with
  // detail "agent stopped"; false (Slurm) leaves them running, to be watched
  // again by the next start.
  bool stop_runs_at_exit = true;
  Duration flush_timeout = Duration::seconds(5);  // at exit, reports are sent for this long
  std::string version;                            // sent at registration; "" for the build's
  // One line per action ("start j-00000003 attempt 2 on local: handle 4711")
  // and per error; nullptr: quiet. `debug`: details (a report the server did
  // not apply). Called from the agent's threads, one call at a time.
  std::function<void(const std::string&)> log;
  std::function<void(const std::string&)> debug;
};

class Agent {
 public:
  // Loads the state file if there is one. Errors: the options are incomplete
  // (kInvalidArgument), the state file is unreadable or not one (naming it).
  static Result<std::unique_ptr<Agent>> create(AgentOptions options,
                                               std::unique_ptr<exec::Backend> backend);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Registers (retrying with backoff until the server answers) and works
  // until stop(); then stops or leaves the runs (stop_runs_at_exit), sends
  // what reports it can within flush_timeout and saves the state.
  // Errors: the server refused the registration (a 4xx: a bad token, an
  // unknown site, a site the token's user may not serve), with the server's
  // message: "server URL: 401 unauthenticated: ...".
  Status run();

  // Makes run() return soon. Thread-safe; not async-signal-safe (call it
  // from a thread that waits for the signal).
  void stop();

 private:
  struct Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace straits::agent
