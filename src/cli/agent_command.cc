// straits agent: a site agent (docs/agents.md). Parses the options, builds
// the backend (local processes or Slurm) and the agent, and runs it until
// SIGTERM or SIGINT: then the local backend's runs are stopped and reported
// lost ("agent stopped"), Slurm's are left running to be watched again by the
// next start; reports are flushed and the state saved.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>

#include "agent/agent.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "exec/local.h"
#include "exec/run_user.h"
#include "exec/slurm.h"

namespace straits::cli {
namespace {

struct AgentCommandOptions {
  std::string server, token, token_file, backend, name, state_dir, work_dir, checkpoint_root;
  std::vector<std::string> sites, gres;
  std::string kill_grace = "10s";
  int poll_wait = 20;
  std::string slurm_partition, slurm_account;
  std::string slurm_poll_interval = "5s";
  std::string local_poll_interval = "500ms";
  std::string run_as, run_path;
  bool run_as_per_org = false, allow_admin_token = false;
  bool quiet = false, verbose = false;
};

// A signal handler may only post to a semaphore; a thread waits on it.
std::binary_semaphore g_agent_signalled(0);
extern "C" void on_agent_signal(int) {
  g_agent_signalled.release();
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

// The token from $STRAITS_TOKEN, then blanked where /proc/PID/environ shows
// it (the process's first environment block) and removed: the agent's
// children never inherit it.
std::string take_token_from_environment() {
  char* value = std::getenv("STRAITS_TOKEN");
  if (value == nullptr) return "";
  std::string token(value);
  std::memset(value, '*', std::strlen(value));
  ::unsetenv("STRAITS_TOKEN");
  return token;
}

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.pop_back();
  }
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start])) != 0) {
    ++start;
  }
  return text.substr(start);
}

// This machine's short name as an agent name may hold it: letters, digits,
// '.', '_', '-'.
std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "agent";
  std::string name(buffer);
  if (const auto dot = name.find('.'); dot != std::string::npos) name.resize(dot);
  for (char& ch : name) {
    if (std::isalnum(static_cast<unsigned char>(ch)) == 0 && ch != '_' && ch != '-') ch = '-';
  }
  return name;
}

// A usage error found after parsing: printed like CLI11's, exit code 2.
void usage_fail(Context& context, const std::string& message) {
  context.fail(message);
  context.exit_code = kExitUsage;
}

// A duration as the rest of the CLI reads them ("10s", "PT1M", "1.5h"), and
// milliseconds ("500ms") for the short intervals of the agent.
Result<Duration> duration_option(const std::string& flag, const std::string& text) {
  Result<Duration> d = Duration::seconds(0);
  if (text.size() > 2 && text.ends_with("ms") &&
      std::all_of(text.begin(), text.end() - 2, [](char ch) { return ch >= '0' && ch <= '9'; })) {
    d = Duration::milliseconds(std::stoll(text.substr(0, text.size() - 2)));
  } else if (text != "0") {
    d = parse_duration(text);
  }
  if (!d) return Error(ErrorCode::kInvalidArgument, flag + ": " + d.error().message());
  if (*d < Duration::seconds(0)) {
    return Error(ErrorCode::kInvalidArgument, flag + ": must not be negative, got " + text);
  }
  return d;
}

// A problem with the options: kInvalidArgument for a usage error (exit 2),
// kFailedPrecondition for one found on the machine (exit 1).
Error usage_error(const std::string& message) {
  return Error(ErrorCode::kInvalidArgument, message);
}
Error machine_error(const std::string& message) {
  return Error(ErrorCode::kFailedPrecondition, message);
}

void fail_with(Context& context, const Error& e) {
  if (e.code() == ErrorCode::kInvalidArgument) return usage_fail(context, e.message());
  context.fail(e.message());
}

// The server and the agent's token (--token-file, --token, $STRAITS_TOKEN).
Status read_server_and_token(const AgentCommandOptions& o, agent::AgentOptions& options) {
  options.server_url = o.server.empty() ? env_or_empty("STRAITS_URL") : o.server;
  if (options.server_url.empty()) {
    return usage_error("no server: give --server URL or set STRAITS_URL");
  }
  if (options.server_url.rfind("http://", 0) != 0 && options.server_url.rfind("https://", 0) != 0) {
    return usage_error("--server must start with http:// (got '" + options.server_url + "')");
  }
  if (!o.token_file.empty()) {
    // Runs execute as other users: a token file they could read would hand
    // them the agent's credentials.
    struct stat info {};
    if (::stat(o.token_file.c_str(), &info) == 0 && (info.st_mode & S_IROTH) != 0) {
      return usage_error("--token-file: " + o.token_file +
                         " is readable by every user (jobs included): chmod 600 it");
    }
    std::ifstream in(o.token_file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return usage_error("--token-file: cannot read " + o.token_file);
    }
    options.token = trimmed(line);
    if (options.token.empty()) return usage_error("--token-file: " + o.token_file + " is empty");
  } else {
    const std::string from_environment = take_token_from_environment();
    options.token = o.token.empty() ? from_environment : o.token;
  }
  if (options.token.empty()) {
    return usage_error("no token: give --token T or --token-file F, or set STRAITS_TOKEN");
  }
  return ok();
}

// The backend's options (Slurm's only with --backend slurm), intervals, the
// agent's name and folders.
Status read_backend_options(const AgentCommandOptions& o, const CLI::App& command,
                            agent::AgentOptions& options) {
  const bool slurm = o.backend == "slurm";
  // Where runs go is for Slurm only; both poll intervals may be given (a
  // launcher may set both), the backend's own is used.
  if (!slurm) {
    for (const char* flag : {"--slurm-partition", "--slurm-account", "--slurm-gres"}) {
      if (command.count(flag) > 0)
        return usage_error(std::string(flag) + " is for --backend slurm");
    }
  }
  for (const std::string& pair : o.gres) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      return usage_error("--slurm-gres wants CHIP=TYPE (e.g. h100-sxm=h100), got '" + pair + "'");
    }
    options.gres[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  auto grace = duration_option("--kill-grace", o.kill_grace);
  if (!grace) return usage_error(grace.error().message());
  options.kill_grace = *grace;
  auto slurm_interval = duration_option("--slurm-poll-interval", o.slurm_poll_interval);
  if (!slurm_interval) return usage_error(slurm_interval.error().message());
  auto local_interval = duration_option("--local-poll-interval", o.local_poll_interval);
  if (!local_interval) return usage_error(local_interval.error().message());
  options.backend_poll_interval = slurm ? *slurm_interval : *local_interval;
  options.poll_wait_seconds = o.poll_wait;
  options.sites = o.sites;
  options.name = o.name.empty() ? host_name() + "-" + o.sites.front() : o.name;
  std::error_code ec;
  options.state_dir = std::filesystem::absolute(
      o.state_dir.empty() ? std::filesystem::path("straits-agent") / options.name
                          : std::filesystem::path(o.state_dir),
      ec);
  options.work_dir =
      o.work_dir.empty() ? options.state_dir / "runs" : std::filesystem::absolute(o.work_dir, ec);
  options.checkpoint_root = o.checkpoint_root.empty()
                                ? options.state_dir / "checkpoints"
                                : std::filesystem::absolute(o.checkpoint_root, ec);
  options.partition = o.slurm_partition;
  options.stop_runs_at_exit = !slurm;
  options.allow_admin_token = o.allow_admin_token;
  return ok();
}

// Who runs the jobs: never root. A root agent runs them as straits-run
// (created when missing) unless told otherwise; an agent that is not root
// runs them as itself (the deployer isolates the agent then).
Status read_run_user(const AgentCommandOptions& o, agent::AgentOptions& options) {
  const bool root = exec::running_as_root();
  if (!root && (!o.run_as.empty() || o.run_as_per_org)) {
    return usage_error(std::string(o.run_as_per_org ? "--run-as-per-org" : "--run-as") +
                       " needs the agent to run as root (it runs jobs as another user)");
  }
  // Absolute folders only: a relative one would be looked up in each run's
  // own folder, where the job's code could plant a program of that name.
  if (!o.run_path.empty()) {
    std::size_t from = 0;
    for (;;) {
      const std::size_t colon = o.run_path.find(':', from);
      const std::string dir = o.run_path.substr(from, colon - from);
      if (dir.empty() || dir[0] != '/' || dir.find('\0') != std::string::npos) {
        return machine_error("--run-path: '" + dir +
                             "' is not an absolute folder (a list of absolute folders, ':' "
                             "between them)");
      }
      if (colon == std::string::npos) break;
      from = colon + 1;
    }
    options.run_path = o.run_path;
  }
  if (o.run_as_per_org) {
    options.run_as_per_org = true;
  } else if (root) {
    options.run_as = o.run_as.empty() ? std::string(exec::kDefaultRunUser) : o.run_as;
    auto user = o.run_as.empty() ? exec::ensure_run_user(options.run_as)
                                 : exec::find_run_user(options.run_as);
    if (!user) return machine_error("--run-as: " + user.error().message());
  }
  return ok();
}

std::unique_ptr<exec::Backend> make_backend(const AgentCommandOptions& o,
                                            const agent::AgentOptions& options) {
  if (o.backend == "slurm") {
    exec::SlurmOptions s;
    s.partition = o.slurm_partition;
    s.account = o.slurm_account;
    s.kill_grace = options.kill_grace;
    return exec::make_slurm_backend(s);
  }
  exec::LocalOptions l;
  l.kill_grace = options.kill_grace;
  return exec::make_local_backend(l);
}

void run(Context& context, const AgentCommandOptions& o, const CLI::App& command) {
  agent::AgentOptions options;
  Status read = read_server_and_token(o, options);
  if (read) read = read_backend_options(o, command, options);
  if (read) read = read_run_user(o, options);
  if (!read) return fail_with(context, read.error());

  std::mutex log_mutex;
  auto line_out = [&log_mutex, &context](const std::string& line) {
    std::string stamp = to_iso8601(Instant::from_unix_seconds(SystemClock().now().unix_seconds()));
    std::lock_guard lock(log_mutex);
    *context.err << stamp << ' ' << line << '\n';
    context.err->flush();
  };
  if (!o.quiet) options.log = line_out;
  if (o.verbose) options.debug = line_out;

  std::unique_ptr<exec::Backend> backend = make_backend(o, options);
  const std::string name = options.name;
  const std::string server = options.server_url;
  const std::filesystem::path state = options.state_dir / "state.json";
  auto made = agent::Agent::create(std::move(options), std::move(backend));
  if (!made) return context.fail(made.error().to_string());
  agent::Agent* a = made->get();
  *context.out << "straits agent " << name << " (" << o.backend << ") for " << server << ", state "
               << state.string() << "\n";
  context.out->flush();

  std::signal(SIGTERM, on_agent_signal);
  std::signal(SIGINT, on_agent_signal);
  std::thread watcher([a] {
    g_agent_signalled.acquire();
    a->stop();
  });
  // The local backend's runs die with the thread that started them: this
  // one, which lives as long as the process.
  const Status ran = a->run();
  g_agent_signalled.release();  // the watcher ends if run() returned on its own
  watcher.join();
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  while (g_agent_signalled.try_acquire()) {
  }
  if (!ran) return context.fail(ran.error().message());
  *context.out << "straits agent stopped\n";
}

}  // namespace

void add_agent_command(CLI::App& app, Context& context) {
  auto o = std::make_shared<AgentCommandOptions>();
  CLI::App* c = app.add_subcommand(
      "agent",
      "Run a site agent: take the server's assignments for sites, run them locally or on "
      "Slurm, report back (docs/agents.md)");
  c->add_option("--server", o->server, "Server URL (default $STRAITS_URL)");
  auto* token = c->add_option(
      "--token", o->token,
      "API token (default $STRAITS_TOKEN; prefer --token-file: an argument is visible to local "
      "users until the agent blanks it)");
  c->add_option("--token-file", o->token_file, "Read the API token from this file")
      ->excludes(token);
  c->add_option("--site", o->sites, "A site to serve (repeat for more)")->required();
  c->add_option("--backend", o->backend, "local or slurm")
      ->required()
      ->check(CLI::IsMember({"local", "slurm"}));
  c->add_option("--name", o->name, "Agent name (default: HOSTNAME-FIRSTSITE)");
  c->add_option("--state-dir", o->state_dir,
                "Where state.json is kept (default ./straits-agent/NAME)");
  c->add_option("--work-dir", o->work_dir, "Runs go to DIR/JOB/attempt-N (default STATE/runs)");
  c->add_option("--checkpoint-root", o->checkpoint_root,
                "STRAITS_CHECKPOINT_DIR of attempt N is ROOT/JOB/attempt-N (default "
                "STATE/checkpoints)");
  c->add_option("--kill-grace", o->kill_grace, "SIGTERM, then SIGKILL this later (default 10s)");
  c->add_option("--poll-wait", o->poll_wait, "Seconds of long-poll for assignments (default 20)")
      ->check(CLI::Range(0, 60));
  c->add_option("--slurm-partition", o->slurm_partition,
                "Slurm partition (default: the cluster's)");
  c->add_option("--slurm-account", o->slurm_account, "Slurm account (--account)");
  c->add_option("--slurm-gres", o->gres,
                "CHIP=TYPE: the gres type of a chip (default: the chip id up to its first '-')");
  c->add_option("--slurm-poll-interval", o->slurm_poll_interval,
                "squeue at most this often (default 5s)");
  c->add_option("--local-poll-interval", o->local_poll_interval,
                "Look at local runs this often (default 500ms)");
  c->add_option("--run-as", o->run_as,
                "As root: run every job as this Unix user (default straits-run, created when "
                "missing)");
  c->add_flag("--run-as-per-org", o->run_as_per_org,
              "As root: run each org's jobs as its own Unix user st-ORG (created when missing)")
      ->excludes("--run-as");
  c->add_option("--run-path", o->run_path,
                "The runs' PATH: absolute folders holding the programs jobs may call, ':' "
                "between them (default /usr/local/bin:/usr/bin:/bin)");
  c->add_flag("--allow-admin-token", o->allow_admin_token,
              "Accept an admin's token (by default the agent wants a token of role agent)");
  c->add_flag("--quiet", o->quiet, "No line per action on stderr");
  c->add_flag("--verbose", o->verbose, "Also details (reports the server did not apply)");
  c->callback([&context, o, c] { run(context, *o, *c); });
}

}  // namespace straits::cli
