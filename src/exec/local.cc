// The local backend. A run is three layers of processes:
//
//   agent thread --fork--> supervisor (session and group leader, pid = handle)
//                              --fork--> /bin/sh -c COMMAND (the job) --> its children
//
// The supervisor exists so that a run dies with its agent: it asks for a
// death signal when the agent thread that forked it dies (PR_SET_PDEATHSIG)
// and answers it by SIGKILLing its whole group. It ignores the signals the
// backend sends to the group for the job (SIGUSR1), notes SIGTERM, and exits
// the way the job did (same exit code, or killed by the same signal), so that
// reaping the supervisor tells how the job ended.
//
// After a stop or a time limit (SIGTERM to the group) the supervisor waits,
// as a child subreaper, for every process of the run, not only the shell: a
// shell that dies of SIGTERM at once must not cut short a program that
// finishes its step before it exits. SIGKILL after the grace ends them all.
// When a run ends any other way, the backend SIGKILLs what is left of its
// group (`sleep 100 &` in the command) before reaping the supervisor, whose
// zombie keeps the group's id from being reused meanwhile.
//
// Between fork() and execve() only async-signal-safe calls are made (the agent
// has other threads, which may hold the allocator's locks): everything the
// children need is prepared before forking.
#include "exec/local.h"

#include "exec/run_user.h"

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace straits::exec {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// Where the supervisor reports how its setup went: written once to the pipe
// the parent reads in launch().
enum class SetupStage : int { kStarted = 0, kRedirect, kChdir, kForkJob };

// The exit code of a job whose privileges could not be dropped: it never ran.
constexpr int kDropFailure = 126;

struct SetupReport {
  SetupStage stage = SetupStage::kStarted;
  int error = 0;  // errno
};

// Everything the supervisor and the job need, built before fork(). Not
// copyable: envp and argv point into the strings.
struct Prepared {
  Prepared() = default;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  std::string shell = "/bin/sh";
  std::string dash_c = "-c";
  std::string command;
  std::vector<char*> argv;
  std::string work_dir;
  int log_fd = -1;
  int null_fd = -1;
  int report_fd = -1;  // write end of the setup pipe
  pid_t agent_pid = 0;
  int death_signal = 0;
  int max_fd = 1024;  // fallback when close_range is not available
  // The user the job runs as; the supervisor keeps the agent's.
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// The exit code of a supervisor that could not start the job: the run fails
// with this code and a message in output.log (launch() normally reports the
// problem as an Error instead).
constexpr int kSupervisorFailure = 125;

// Set by the supervisor's SIGTERM handler, in the supervisor only (the agent
// never touches it): the run is being stopped.
volatile std::sig_atomic_t supervisor_stopping = 0;

void on_stop_signal(int) {
  supervisor_stopping = 1;
}

void on_agent_death(int) {
  ::kill(0, SIGKILL);  // the whole group, the supervisor included
}

void set_disposition(int signal, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: waitpid() returns on EINTR and the loop looks again
  ::sigaction(signal, &action, nullptr);
}

void write_text(int fd, const char* text) {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    ssize_t n = ::write(fd, text, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

[[noreturn]] void report_and_exit(SetupStage stage, int error) {
  SetupReport report{stage, error};
  (void)!::write(3, &report, sizeof report);
  write_text(2, "straits: the local backend could not start the job\n");
  ::_exit(kSupervisorFailure);
}

// Ends the calling process as `status` (from waitpid) says the job ended.
[[noreturn]] void exit_like(int status) {
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
  const int signal = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  struct rlimit no_core {};  // the job dumped core (or not): the supervisor does not
  ::setrlimit(RLIMIT_CORE, &no_core);
  set_disposition(signal, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signal);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::kill(::getpid(), signal);
  ::_exit(128 + signal);  // not reached
}

// The job: /bin/sh -c COMMAND with default signal dispositions (SIGUSR1
// aside, see below) and an empty mask. REQUIRES: all signals blocked.
[[noreturn]] void exec_job(const Prepared& p) {
  for (int signal = 1; signal < NSIG; ++signal) set_disposition(signal, SIG_DFL);
  // SIGUSR1 asks for a checkpoint and goes to the whole group, shells
  // included: /bin/sh (dash) waits for its last command instead of exec'ing
  // it, and would die of it. Ignored at the start, so that only a program
  // that installs a handler sees it (which replaces the ignoring).
  set_disposition(SIGUSR1, SIG_IGN);
  ::close(3);  // the setup pipe
  // Privileges go before the job's code runs, in this order (the group list
  // and the group while still root; the user last), each checked: a job that
  // cannot be made unprivileged does not run.
  if (p.drop) {
    if (::setgroups(p.groups.size(), p.groups.data()) != 0) {
      write_text(2, "straits: cannot set the run user's groups (setgroups)\n");
      ::_exit(kDropFailure);
    }
    if (::setgid(p.gid) != 0) {
      write_text(2, "straits: cannot set the run user's group (setgid)\n");
      ::_exit(kDropFailure);
    }
    if (::setuid(p.uid) != 0) {
      write_text(2, "straits: cannot become the run user (setuid)\n");
      ::_exit(kDropFailure);
    }
    if (::setuid(0) == 0 || ::getuid() != p.uid || ::geteuid() != p.uid) {
      write_text(2, "straits: the run user's privileges are not dropped\n");
      ::_exit(kDropFailure);
    }
  }
  // No set-user-ID program (sudo, su) gives a job privileges back.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    write_text(2, "straits: cannot set no_new_privs\n");
    ::_exit(kDropFailure);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(p.shell.c_str(), p.argv.data(), p.envp.data());
  write_text(2, "straits: cannot execute /bin/sh\n");
  ::_exit(127);
}

// The supervisor, in the child of fork(). REQUIRES: all signals blocked
// (launch() blocks them around fork, so that no handler of the agent runs
// here).
[[noreturn]] void supervise(const Prepared& p) {
  for (int signal = 1; signal < NSIG; ++signal) set_disposition(signal, SIG_DFL);
  for (int signal : {SIGUSR1, SIGUSR2, SIGINT, SIGHUP, SIGQUIT, SIGPIPE}) {
    set_disposition(signal, SIG_IGN);
  }
  set_disposition(SIGTERM, on_stop_signal);
  set_disposition(p.death_signal, on_agent_death);

  ::setsid();
  ::prctl(PR_SET_PDEATHSIG, p.death_signal);
  // The agent thread may have died before prctl: then no death signal comes.
  if (::getppid() != p.agent_pid) ::_exit(kSupervisorFailure);

  // stdin from /dev/null, stdout and stderr to output.log, the setup pipe on
  // 3 and nothing else of the agent's (its sockets and locks stay there).
  const int log = ::fcntl(p.log_fd, F_DUPFD, 10);
  const int null = ::fcntl(p.null_fd, F_DUPFD, 10);
  const int report = ::fcntl(p.report_fd, F_DUPFD, 10);
  if (report < 0) ::_exit(kSupervisorFailure);
  if (::dup2(report, 3) < 0) ::_exit(kSupervisorFailure);
  if (log < 0 || null < 0 || ::dup2(null, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) {
    report_and_exit(SetupStage::kRedirect, errno);
  }
  if (::close_range(4, ~0U, 0) != 0) {
    for (int fd = 4; fd < p.max_fd; ++fd) ::close(fd);
  }
  if (::chdir(p.work_dir.c_str()) != 0) report_and_exit(SetupStage::kChdir, errno);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  const pid_t job = ::fork();
  if (job < 0) report_and_exit(SetupStage::kForkJob, errno);
  if (job == 0) exec_job(p);
  SetupReport started;
  (void)!::write(3, &started, sizeof started);
  ::close(3);

  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int job_status = 0;
  bool job_done = false;
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid == job) {
      job_status = status;
      job_done = true;
    } else if (pid < 0 && errno == ECHILD) {
      break;
    }
    if (job_done && !supervisor_stopping) break;
  }
  if (!job_done) ::_exit(kSupervisorFailure);
  exit_like(job_status);
}

std::string signal_name(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

SteadyClock::duration to_steady(Duration d) {
  return std::chrono::microseconds(d.count_microseconds());
}

// The job's environment as execve takes it (the allow-list of backend.h).
Result<std::vector<std::string>> job_environment(const LaunchSpec& spec, const fs::path& work_dir,
                                                 const fs::path& checkpoint_dir) {
  STRAITS_ASSIGN_OR_RETURN(auto named, run_environment(spec, work_dir, checkpoint_dir));
  std::vector<std::string> out;
  for (const auto& [name, value] : named) out.push_back(name + "=" + value);
  return out;
}

class LocalBackend final : public Backend {
 public:
  explicit LocalBackend(LocalOptions options) : options_(options) {}
  LocalBackend(const LocalBackend&) = delete;
  LocalBackend& operator=(const LocalBackend&) = delete;
  ~LocalBackend() override;

  std::string_view name() const override { return "local"; }
  Result<std::string> launch(const LaunchSpec& spec) override;
  Result<std::optional<std::string>> find(const std::string&, std::int32_t,
                                          const std::filesystem::path&) override {
    return std::optional<std::string>();  // local runs never outlive their agent
  }
  Result<std::map<std::string, RunStatus>> poll(const std::vector<std::string>& handles) override;
  Status request_checkpoint(const std::string& handle) override;
  Status stop(const std::string& handle, Duration grace) override;

 private:
  enum class Ending : std::uint8_t { kNone, kStopped, kTimeLimit };

  struct Run {
    pid_t pid = 0;  // the supervisor, leader of the run's process group
    SteadyClock::time_point started;
    std::optional<SteadyClock::time_point> deadline;  // the time limit
    Ending ending = Ending::kNone;
    bool term_sent = false;
    Duration grace;  // between SIGTERM and SIGKILL, for the detail
    std::optional<SteadyClock::time_point> kill_at;
    bool kill_sent = false;
    std::optional<Duration> time_limit;
    std::optional<RunStatus> final;  // once reaped
  };

  Result<pid_t> start_supervisor(Prepared& prepared);
  // Reaps the run if its supervisor has exited, first killing what is left
  // of its group. True when the run has ended.
  bool try_reap(Run& run);
  RunStatus ended(const Run& run, int status) const;
  static void signal_group(const Run& run, int signal) { ::kill(-run.pid, signal); }

  LocalOptions options_;
  std::map<std::string, Run> runs_;  // by handle; ended runs stay, with their status
};

Result<pid_t> LocalBackend::start_supervisor(Prepared& p) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error(ErrorCode::kUnavailable, "cannot create a pipe: " + errno_text(errno));
  }
  p.report_fd = pipe_fds[1];
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = ::fork();
  if (pid == 0) supervise(p);
  const int fork_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(pipe_fds[1]);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    return Error(ErrorCode::kUnavailable, "cannot fork: " + errno_text(fork_error));
  }
  SetupReport report;
  ssize_t n;
  do {
    n = ::read(pipe_fds[0], &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  ::close(pipe_fds[0]);
  if (n == static_cast<ssize_t>(sizeof report) && report.stage == SetupStage::kStarted) return pid;

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof report)) {
    return Error(ErrorCode::kInternal, "the run's supervisor ended before starting the job");
  }
  const std::string step = report.stage == SetupStage::kRedirect ? "cannot redirect the output"
                           : report.stage == SetupStage::kChdir  ? "cannot enter " + p.work_dir
                                                                 : "cannot fork the job";
  return Error(ErrorCode::kUnavailable, step + ": " + errno_text(report.error));
}

Result<std::string> LocalBackend::launch(const LaunchSpec& spec) {
  std::error_code ec;
  const fs::path work_dir = fs::absolute(spec.work_dir, ec).lexically_normal();
  if (ec) return Error(ErrorCode::kInternal, "cannot resolve the run's folders: " + ec.message());
  const fs::path checkpoint_dir = fs::absolute(spec.checkpoint_dir, ec).lexically_normal();
  if (ec) return Error(ErrorCode::kInternal, "cannot resolve the run's folders: " + ec.message());
  if (spec.run_as && !running_as_root()) {
    return Error(ErrorCode::kFailedPrecondition, "cannot run " + spec.job_id + " as " +
                                                     spec.run_as->name +
                                                     ": the agent does not run as root");
  }
  for (const fs::path& dir : {work_dir, checkpoint_dir}) {
    const Status prepared = prepare_run_folder(dir, spec.run_as);
    if (!prepared) {
      return Error(ErrorCode::kInternal, "cannot prepare the run's folder " + dir.string() + ": " +
                                             prepared.error().message());
    }
  }
  STRAITS_ASSIGN_OR_RETURN(std::vector<std::string> env,
                           job_environment(spec, work_dir, checkpoint_dir));

  Prepared p;
  p.env_storage = std::move(env);
  for (std::string& entry : p.env_storage) p.envp.push_back(entry.data());
  p.envp.push_back(nullptr);
  p.command = spec.command;
  p.argv = {p.shell.data(), p.dash_c.data(), p.command.data(), nullptr};
  p.work_dir = work_dir.string();
  p.agent_pid = ::getpid();
  p.death_signal = SIGRTMAX;  // sent by no one else
  if (spec.run_as) {
    p.drop = true;
    p.uid = spec.run_as->uid;
    p.gid = spec.run_as->gid;
    p.groups.assign(spec.run_as->groups.begin(), spec.run_as->groups.end());
  }
  const long max_fd = ::sysconf(_SC_OPEN_MAX);
  if (max_fd > 0) p.max_fd = static_cast<int>(std::min<long>(max_fd, 65536));

  const fs::path log = work_dir / "output.log";
  // Never through a link the run left there; readable by the run's user only.
  p.log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (p.log_fd < 0) {
    return Error(ErrorCode::kInternal, "cannot open " + log.string() + ": " + errno_text(errno));
  }
  if (spec.run_as && ::fchown(p.log_fd, spec.run_as->uid, spec.run_as->gid) != 0) {
    const int error = errno;
    ::close(p.log_fd);
    return Error(ErrorCode::kInternal, "cannot give " + log.string() + " to " + spec.run_as->name +
                                           ": " + errno_text(error));
  }
  p.null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (p.null_fd < 0) {
    const int error = errno;
    ::close(p.log_fd);
    return Error(ErrorCode::kInternal, "cannot open /dev/null: " + errno_text(error));
  }
  Result<pid_t> pid = start_supervisor(p);
  ::close(p.log_fd);
  ::close(p.null_fd);
  if (!pid) return std::move(pid).error().with_context("starting " + spec.job_id);

  Run run;
  run.pid = *pid;
  run.started = SteadyClock::now();
  run.time_limit = spec.time_limit;
  if (spec.time_limit) run.deadline = run.started + to_steady(*spec.time_limit);
  std::string handle = std::to_string(*pid);
  // A pid is not reused before it is reaped; one reused later replaces the ended run it named.
  runs_[handle] = run;
  return handle;
}

bool LocalBackend::try_reap(Run& run) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(run.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    const int error = errno;
    if (error == EINTR) return false;
    // Reaped by someone else (SIGCHLD ignored in the agent?): how it ended is unknown, and its
    // pid may be anyone's now, so its group is not signalled again.
    run.final = RunStatus{RunState::kLost, std::nullopt, std::nullopt,
                          "the run's supervisor (pid " + std::to_string(run.pid) +
                              ") was reaped outside the local backend: " + errno_text(error)};
    return true;
  }
  if (info.si_pid != run.pid) return false;
  signal_group(run, SIGKILL);  // what is left of the run; the zombie leader holds the group's id
  int status = 0;
  while (::waitpid(run.pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.final = ended(run, status);
  return true;
}

RunStatus LocalBackend::ended(const Run& run, int status) const {
  RunStatus out;
  std::string how;
  if (WIFEXITED(status)) {
    out.exit_code = WEXITSTATUS(status);
    how = "exited " + std::to_string(*out.exit_code);
  } else {
    out.signal = WTERMSIG(status);
    how = "killed by " + signal_name(*out.signal);
    if (*out.signal == SIGKILL && run.kill_sent) {
      how += " after a grace of " + to_human(run.grace);
    }
  }
  if (out.exit_code == 0) {
    out.state = RunState::kSucceeded;
    out.detail = how;
  } else if (run.ending == Ending::kStopped) {
    out.state = RunState::kCancelled;
    out.detail = "stopped: " + how;
  } else if (run.ending == Ending::kTimeLimit) {
    out.state = RunState::kTimedOut;
    out.detail = "time limit of " + to_human(*run.time_limit) + " reached: " + how;
  } else {
    out.state = RunState::kFailed;
    out.detail = how;
  }
  return out;
}

Result<std::map<std::string, RunStatus>> LocalBackend::poll(
    const std::vector<std::string>& handles) {
  std::map<std::string, RunStatus> out;
  for (const std::string& handle : handles) {
    auto it = runs_.find(handle);
    if (it == runs_.end()) {
      out[handle] = RunStatus{RunState::kLost, std::nullopt, std::nullopt,
                              "no run with handle '" + handle +
                                  "' in this local backend (local runs end with their agent)"};
      continue;
    }
    Run& run = it->second;
    if (!run.final && !try_reap(run)) {
      const auto now = SteadyClock::now();
      if (run.deadline && now >= *run.deadline && run.ending == Ending::kNone) {
        run.ending = Ending::kTimeLimit;
        run.grace = options_.kill_grace;
        run.kill_at = now + to_steady(options_.kill_grace);
        run.term_sent = true;
        signal_group(run, SIGTERM);
      }
      if (run.kill_at && now >= *run.kill_at && !run.kill_sent) {
        run.kill_sent = true;
        signal_group(run, SIGKILL);
      }
    }
    if (run.final) {
      out[handle] = *run.final;
    } else {
      RunStatus running{RunState::kRunning, std::nullopt, std::nullopt, ""};
      if (run.term_sent) {
        running.detail = "SIGTERM sent, SIGKILL after a grace of " + to_human(run.grace);
      }
      out[handle] = running;
    }
  }
  return out;
}

Status LocalBackend::request_checkpoint(const std::string& handle) {
  auto it = runs_.find(handle);
  if (it == runs_.end()) {
    return Error(ErrorCode::kNotFound, "no run with handle '" + handle + "' in this local backend");
  }
  if (it->second.final) {
    return Error(ErrorCode::kFailedPrecondition, "run " + handle + " has ended");
  }
  signal_group(it->second, SIGUSR1);
  return ok();
}

Status LocalBackend::stop(const std::string& handle, Duration grace) {
  auto it = runs_.find(handle);
  if (it == runs_.end()) {
    return Error(ErrorCode::kNotFound, "no run with handle '" + handle + "' in this local backend");
  }
  Run& run = it->second;
  if (run.final) return ok();
  if (run.ending == Ending::kNone) run.ending = Ending::kStopped;
  const auto kill_at = SteadyClock::now() + to_steady(std::max(grace, Duration()));
  if (!run.kill_at || kill_at < *run.kill_at) {
    run.kill_at = kill_at;
    run.grace = std::max(grace, Duration());
  }
  if (!run.term_sent) {
    run.term_sent = true;
    signal_group(run, SIGTERM);
  }
  if (grace <= Duration() && !run.kill_sent) {
    run.kill_sent = true;
    signal_group(run, SIGKILL);
  }
  return ok();
}

LocalBackend::~LocalBackend() {
  // Stops every run still going, so that nothing outlives the backend: SIGTERM, a short wait,
  // SIGKILL, then reaps them.
  std::vector<Run*> going;
  for (auto& [handle, run] : runs_) {
    if (run.final) continue;
    if (!run.term_sent) signal_group(run, SIGTERM);
    going.push_back(&run);
  }
  const auto deadline =
      SteadyClock::now() +
      std::min(to_steady(options_.kill_grace), SteadyClock::duration(std::chrono::seconds(1)));
  auto exited = [](const Run& run) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(run.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
           info.si_pid == run.pid;
  };
  while (SteadyClock::now() < deadline &&
         !std::all_of(going.begin(), going.end(), [&](const Run* run) { return exited(*run); })) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (Run* run : going) {
    signal_group(*run, SIGKILL);
    int status = 0;
    while (::waitpid(run->pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace

std::unique_ptr<Backend> make_local_backend(LocalOptions options) {
  return std::make_unique<LocalBackend>(options);
}

}  // namespace straits::exec
