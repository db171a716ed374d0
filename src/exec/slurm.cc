// The Slurm backend: sbatch, squeue (one call a poll), sacct when the cluster
// keeps accounting, scancel. Every Slurm command runs as a child process with
// an argv (never a shell line), its stdout and stderr captured, killed when it
// outlives options.command_timeout.
//
// Signals. scancel --full signals every process of the batch step; the batch
// script ignores SIGUSR1 before it execs /bin/sh -c COMMAND, so that the
// shells of the command survive a checkpoint request and only a program that
// installs a handler sees it, wherever it sits in the command (a pipeline, a
// `cd x && ./train`). It is what the local backend does with its process
// group; `scancel --batch` would reach the top shell only, which waits for its
// last command instead of exec'ing it (dash) and would die of it.
#include "exec/slurm.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <system_error>

#include "core/file.h"
#include "core/strings.h"
#include "exec/internal/slurm_text.h"
#include "exec/run_user.h"

extern char** environ;  // NOLINT: POSIX

namespace straits::exec {

namespace slurm_internal {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool all_name_chars(std::string_view text) {
  return std::all_of(text.begin(), text.end(), is_name_char);
}

bool is_shell_name(std::string_view text) {
  if (text.empty() || (text[0] >= '0' && text[0] <= '9')) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c != '-' && c != '.' && is_name_char(c); });
}

bool has_nul(std::string_view text) {
  return text.find('\0') != std::string_view::npos;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::string reason_of(std::string_view reason) {
  reason = trim(reason);
  return reason == "None" || reason == "(null)" ? std::string() : std::string(reason);
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

std::string job_name(const std::string& job_id, std::int32_t attempt) {
  return "straits-" + job_id + "-" + std::to_string(attempt);
}

Status check_spec(const LaunchSpec& spec) {
  auto bad = [](std::string message) { return Error(ErrorCode::kInvalidArgument, message); };
  if (spec.job_id.empty() || !all_name_chars(spec.job_id)) {
    return bad("job id '" + spec.job_id + "' is not letters, digits, '-', '_' and '.'");
  }
  STRAITS_TRY(check_safe_name("job id", spec.job_id));
  if (spec.attempt < 1) return bad("attempt " + std::to_string(spec.attempt) + " is not >= 1");
  if (spec.nodes < 1) return bad("nodes " + std::to_string(spec.nodes) + " is not >= 1");
  if (spec.gpus_per_node < 0) {
    return bad("gpus_per_node " + std::to_string(spec.gpus_per_node) + " is negative");
  }
  if (!all_name_chars(spec.gpu_type)) {
    return bad("GPU type '" + spec.gpu_type + "' is not letters, digits, '-', '_' and '.'");
  }
  if (!std::all_of(spec.partition.begin(), spec.partition.end(),
                   [](char c) { return c == ',' || is_name_char(c); })) {
    return bad("partition '" + spec.partition + "' is not letters, digits, '-', '_', '.', ','");
  }
  if (spec.work_dir.empty()) return bad("no work_dir");
  if (spec.checkpoint_dir.empty()) return bad("no checkpoint_dir");
  if (has_nul(spec.command) || has_nul(spec.resume_from) || has_nul(spec.work_dir.native()) ||
      has_nul(spec.checkpoint_dir.native())) {
    return bad("a NUL character in the command, a path or resume_from");
  }
  for (const auto& [name, value] : spec.env) {
    if (!is_shell_name(name)) return bad("environment variable name '" + name + "' is not valid");
    if (has_nul(value)) return bad("a NUL character in environment variable " + name);
  }
  return ok();
}

std::string batch_script(const LaunchSpec& spec) {
  std::string script = "#!/bin/sh\n";
  script += "# straits: job " + spec.job_id + ", attempt " + std::to_string(spec.attempt) +
            " (written by the Slurm backend)\n";
  // The allow-list again, whatever Slurm put in the environment: sbatch
  // exports only these names (--export), and a login environment that the
  // compute node may add for the run's user cannot move them.
  if (const auto env = run_environment(spec, spec.work_dir, spec.checkpoint_dir)) {
    for (const auto& [name, value] : *env) {
      script += "export " + name + "=" + shell_quote(value) + "\n";
    }
  }
  script += "cd " + shell_quote(spec.work_dir.native()) + " || exit 1\n";
  script +=
      "# A checkpoint request (scancel --full --signal=USR1) reaches every process of the job:\n"
      "# ignored here, so that only a program that installs a handler sees it.\n"
      "trap '' USR1\n";
  script += "exec /bin/sh -c " + shell_quote(spec.command) + "\n";
  return script;
}

std::string slurm_file_pattern(const std::filesystem::path& path) {
  const std::string& text = path.native();
  // A backslash anywhere turns Slurm's replacements off: the path is taken as it is.
  if (text.find('\\') != std::string::npos) return text;
  std::string pattern;
  for (char c : text) {
    pattern += c;
    if (c == '%') pattern += '%';
  }
  return pattern;
}

std::int64_t time_limit_minutes(Duration limit) {
  constexpr std::int64_t kMinute = 60'000'000;
  const std::int64_t us = limit.count_microseconds();
  if (us <= kMinute) return 1;
  return (us + kMinute - 1) / kMinute;
}

std::vector<std::string> sbatch_argv(const LaunchSpec& spec, const SlurmOptions& options,
                                     const std::filesystem::path& script) {
  const std::string output = slurm_file_pattern(spec.work_dir / "output.log");
  std::vector<std::string> argv = {
      "sbatch",
      "--parsable",
      "--job-name=" + job_name(spec.job_id, spec.attempt),
      "--nodes=" + std::to_string(spec.nodes),
      "--ntasks=" + std::to_string(spec.nodes),
  };
  if (spec.gpus_per_node > 0) {
    argv.push_back("--gres=gpu:" + (spec.gpu_type.empty() ? "" : spec.gpu_type + ":") +
                   std::to_string(spec.gpus_per_node));
  }
  argv.push_back("--chdir=" + spec.work_dir.native());
  argv.push_back("--output=" + output);
  argv.push_back("--error=" + output);
  argv.push_back("--open-mode=append");
  argv.push_back("--no-requeue");
  // Only the allow-list's names, whose values sbatch takes from the
  // environment the backend gives it (never the agent's own): see launch().
  std::string names;
  if (auto env = run_environment(spec, spec.work_dir, spec.checkpoint_dir)) {
    for (const auto& [name, value] : *env) names += (names.empty() ? "" : ",") + name;
  }
  argv.push_back("--export=" + names);
  // As root, sbatch submits the job as the run's user: Slurm runs it as that
  // user (22.05: --uid and --gid are root's).
  if (spec.run_as) {
    argv.push_back("--uid=" + std::to_string(spec.run_as->uid));
    argv.push_back("--gid=" + std::to_string(spec.run_as->gid));
  }
  if (spec.time_limit) {
    argv.push_back("--time=" + std::to_string(time_limit_minutes(*spec.time_limit)));
  }
  const std::string& partition = spec.partition.empty() ? options.partition : spec.partition;
  if (!partition.empty()) argv.push_back("--partition=" + partition);
  if (!options.account.empty()) argv.push_back("--account=" + options.account);
  argv.push_back(script.native());
  return argv;
}

std::optional<RunState> map_job_state(std::string_view state) {
  // Base states and the flag states squeue shows instead of them (22.05's
  // job_state_string), and a few of other versions.
  static const std::map<std::string_view, RunState, std::less<>> kStates = {
      // Not started yet (again): waiting, nodes booting, requeued, held.
      {"PENDING", RunState::kPending},
      {"CONFIGURING", RunState::kPending},
      {"POWER_UP_NODE", RunState::kPending},
      {"REQUEUED", RunState::kPending},
      {"REQUEUE_FED", RunState::kPending},
      {"REQUEUE_HOLD", RunState::kPending},
      {"RESV_DEL_HOLD", RunState::kPending},
      {"SPECIAL_EXIT", RunState::kPending},  // requeued and held after a special exit code
      // Holding its nodes: running, paused, being signalled or resized, ending.
      {"RUNNING", RunState::kRunning},
      {"COMPLETING", RunState::kRunning},
      {"SUSPENDED", RunState::kRunning},
      {"STOPPED", RunState::kRunning},
      {"SIGNALING", RunState::kRunning},
      {"STAGE_OUT", RunState::kRunning},
      {"RESIZING", RunState::kRunning},
      {"UPDATE_DB", RunState::kRunning},
      // Ended.
      {"COMPLETED", RunState::kSucceeded},
      {"FAILED", RunState::kFailed},
      {"OUT_OF_MEMORY", RunState::kFailed},  // the job's own doing, like a crash
      {"CANCELLED", RunState::kCancelled},
      {"TIMEOUT", RunState::kTimedOut},
      {"DEADLINE", RunState::kTimedOut},  // ended at its --deadline: a time limit too
      // Not the job's fault: straits requeues it from its last checkpoint.
      {"NODE_FAIL", RunState::kNodeFailure},
      {"BOOT_FAIL", RunState::kNodeFailure},
      {"PREEMPTED", RunState::kNodeFailure},  // Slurm took the nodes for another job
      // A federation sibling removed because another cluster started the job:
      // gone from here, and this backend cannot say how it fares there.
      {"REVOKED", RunState::kLost},
  };
  const auto it = kStates.find(state);
  if (it == kStates.end()) return std::nullopt;
  return it->second;
}

Result<std::vector<JobRow>> parse_squeue(std::string_view text) {
  std::vector<JobRow> rows;
  for (std::string_view line : split(text, '\n')) {
    line = trim(line);
    if (line.empty()) continue;
    if (line.back() == '|') line.remove_suffix(1);
    // The reason is the last field and the only free text: split the first four off.
    std::vector<std::string_view> fields;
    for (int i = 0; i < 4; ++i) {
      const auto at = line.find('|');
      if (at == std::string_view::npos) break;
      fields.push_back(line.substr(0, at));
      line.remove_prefix(at + 1);
    }
    if (fields.size() != 4) {
      return Error(ErrorCode::kInternal,
                   "squeue printed an unexpected line: '" + std::string(line) + "'");
    }
    JobRow row;
    row.id = std::string(trim(fields[0]));
    row.state = std::string(trim(fields[1]));
    // The wait status of the batch step: NO_VAL (0xfffffffe) and the like when unknown.
    if (auto status = parse_number<std::uint32_t>(trim(fields[2])); status && *status <= 0xffff) {
      if ((*status & 0x7f) != 0) {
        row.signal = static_cast<int>(*status & 0x7f);
      } else {
        row.exit_code = static_cast<int>((*status >> 8) & 0xff);
      }
    }
    row.nodes = std::string(trim(fields[3]));
    row.reason = reason_of(line);
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::vector<JobRow>> parse_sacct(std::string_view text) {
  std::vector<JobRow> rows;
  for (std::string_view line : split(text, '\n')) {
    line = trim(line);
    if (line.empty()) continue;
    const auto fields = split(line, '|');
    if (fields.size() < 5) {
      return Error(ErrorCode::kInternal,
                   "sacct printed an unexpected line: '" + std::string(line) + "'");
    }
    JobRow row;
    row.id = std::string(trim(fields[0]));
    const std::string_view state = trim(fields[1]);  // "CANCELLED by 0"
    row.state = std::string(state.substr(0, state.find(' ')));
    const auto code = split(trim(fields[2]), ':');  // "3:0"
    if (code.size() == 2) {
      const auto exit_code = parse_number<int>(code[0]);
      const auto signal = parse_number<int>(code[1]);
      if (signal && *signal != 0) {
        row.signal = *signal;
      } else if (exit_code) {
        row.exit_code = *exit_code;
      }
    }
    row.nodes = std::string(trim(fields[3]));
    if (row.nodes == "None assigned") row.nodes.clear();
    std::string reason;
    for (std::size_t i = 4; i < fields.size(); ++i) {
      if (i > 4) reason += '|';
      reason += fields[i];
    }
    row.reason = reason_of(reason);
    rows.push_back(std::move(row));
  }
  return rows;
}

RunStatus to_run_status(const JobRow& row, bool stopped) {
  RunStatus status;
  const auto mapped = map_job_state(row.state);
  status.state = mapped.value_or(RunState::kRunning);
  status.detail = "Slurm state " + row.state;
  if (!row.nodes.empty()) status.detail += " on " + row.nodes;
  if (!row.reason.empty()) status.detail += " (" + row.reason + ")";
  if (!mapped) status.detail += ": a state this backend does not know, taken as not ended";
  switch (status.state) {
    case RunState::kSucceeded: status.exit_code = row.exit_code.value_or(0); break;
    case RunState::kFailed:
    case RunState::kTimedOut:
    case RunState::kCancelled:
      // Exited on its own, or ended by the signal Slurm sent.
      status.exit_code = row.exit_code;
      status.signal = row.signal;
      if (status.exit_code == 0 && status.state != RunState::kFailed) status.exit_code.reset();
      break;
    default: break;  // not ended, or ended by no doing of its own: no exit code
  }
  if (status.state == RunState::kCancelled) {
    status.detail += stopped ? ", stopped by straits"
                             : ", not stopped through this backend (scancel by a user or an "
                               "administrator?)";
  }
  return status;
}

std::string slurm_message(std::string_view stderr_text) {
  std::string message;
  for (std::string_view line : split(stderr_text, '\n')) {
    line = trim(line);
    for (bool again = true; again;) {  // "sbatch: error: ", "slurm_load_jobs error: "
      again = false;
      for (std::string_view prefix : {"error: ", "sbatch: ", "squeue: ", "scancel: ", "sacct: "}) {
        if (line.substr(0, prefix.size()) == prefix) {
          line.remove_prefix(prefix.size());
          again = true;
        }
      }
    }
    if (line.empty()) continue;
    if (!message.empty()) message += "; ";
    message += line;
  }
  return message.empty() ? "no message" : message;
}

bool controller_unreachable(std::string_view text) {
  return contains(text, "Unable to contact slurm controller") ||
         contains(text, "Socket timed out") || contains(text, "Connection refused") ||
         contains(text, "Connection timed out") || contains(text, "Zero Bytes were transmitted") ||
         contains(text, "Communication connection failure") ||
         contains(text, "temporarily unable to accept job");
}

}  // namespace slurm_internal

namespace {

using namespace slurm_internal;  // NOLINT: this file's own helpers
using SteadyClock = std::chrono::steady_clock;

struct CommandOutput {
  int status = 0;  // from waitpid
  std::string out;
  std::string err;
  bool succeeded() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// An open descriptor, closed when it goes.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string describe(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += arg;
  }
  return text;
}

// Runs argv (found on PATH) with `env` (nullptr: this process's environment)
// and stdin from /dev/null; its stdout and stderr are returned. An Error when
// it cannot be started or outlives `timeout` (then it is killed).
Result<CommandOutput> run_command(const std::vector<std::string>& argv, Duration timeout,
                                  char* const* env = nullptr) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return Error(ErrorCode::kInternal, "pipe: " + errno_text(errno));
  }
  Fd out_read(out_pipe[0]);
  Fd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return Error(ErrorCode::kInternal, "pipe: " + errno_text(errno));
  }
  Fd err_read(err_pipe[0]);
  Fd err_write(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Default dispositions and an empty mask: whatever the agent's threads block
  // or ignore is not the command's business.
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(),
                                     env != nullptr ? env : environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    return Error(ErrorCode::kFailedPrecondition,
                 "cannot run " + argv[0] + ": " + errno_text(spawned) +
                     (spawned == ENOENT ? " (are Slurm's client commands on PATH?)" : ""));
  }
  out_write.reset();
  err_write.reset();

  CommandOutput output;
  const auto deadline =
      SteadyClock::now() + std::chrono::microseconds(timeout.count_microseconds());
  bool timed_out = false;
  Fd* open_fds[2] = {&out_read, &err_read};
  std::string* sinks[2] = {&output.out, &output.err};
  while (out_read.get() >= 0 || err_read.get() >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2];
    int count = 0;
    int which[2];
    for (int i = 0; i < 2; ++i) {
      if (open_fds[i]->get() < 0) continue;
      fds[count] = {open_fds[i]->get(), POLLIN, 0};
      which[count++] = i;
    }
    const int ready =
        ::poll(fds, count, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) {
      const int error = errno;
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return Error(ErrorCode::kInternal, "poll: " + errno_text(error));
    }
    for (int k = 0; k < std::max(ready, 0); ++k) {
      if (fds[k].revents == 0) continue;
      char buffer[8192];
      const ssize_t n = ::read(fds[k].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[which[k]]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        open_fds[which[k]]->reset();
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return Error(ErrorCode::kInternal, "waitpid " + argv[0] + ": " + errno_text(errno));
    }
  }
  if (timed_out) {
    return Error(ErrorCode::kUnavailable, "`" + describe(argv) + "` did not finish within " +
                                              std::to_string(timeout.whole_seconds()) +
                                              " s (killed)");
  }
  output.status = status;
  return output;
}

bool is_job_id(std::string_view handle) {
  return !handle.empty() && handle.size() < 20 &&
         std::all_of(handle.begin(), handle.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An Error for a Slurm command that failed: kUnavailable when slurmctld could
// not be reached, `code` otherwise.
Error command_error(const std::string& what, const CommandOutput& output, ErrorCode code) {
  const std::string text = output.err.empty() ? output.out : output.err;
  if (controller_unreachable(text)) {
    return Error(ErrorCode::kUnavailable,
                 what + ": slurmctld did not answer: " + slurm_message(text));
  }
  return Error(code, what + ": " + slurm_message(text));
}

class SlurmBackend final : public Backend {
 public:
  explicit SlurmBackend(SlurmOptions options) : options_(std::move(options)) {}

  std::string_view name() const override { return "slurm"; }

  Result<std::string> launch(const LaunchSpec& original) override {
    STRAITS_TRY(check_spec(original));
    LaunchSpec spec = original;
    std::error_code error;
    spec.work_dir = std::filesystem::absolute(spec.work_dir, error);
    if (!error) spec.checkpoint_dir = std::filesystem::absolute(spec.checkpoint_dir, error);
    if (error) return Error(ErrorCode::kInternal, "absolute path: " + error.message());
    if (spec.run_as && !running_as_root()) {
      return Error(ErrorCode::kFailedPrecondition, "cannot run " + spec.job_id + " as " +
                                                       spec.run_as->name +
                                                       ": the agent does not run as root");
    }
    for (const auto& dir : {spec.work_dir, spec.checkpoint_dir}) {
      const Status prepared = prepare_run_folder(dir, spec.run_as);
      if (!prepared) {
        return Error(
            ErrorCode::kFailedPrecondition,
            "cannot prepare the run's folder " + dir.string() + ": " + prepared.error().message());
      }
    }
    // The scripts are the agent's: sbatch reads them as root, runs cannot.
    std::filesystem::create_directories(options_.script_dir, error);
    if (error) {
      return Error(ErrorCode::kFailedPrecondition,
                   "cannot create " + options_.script_dir.string() + ": " + error.message());
    }
    std::filesystem::permissions(options_.script_dir, std::filesystem::perms::owner_all, error);
    const std::string name = job_name(spec.job_id, spec.attempt);
    const std::filesystem::path script = options_.script_dir / (name + ".sh");
    STRAITS_TRY(
        write_file_atomically(script, batch_script(spec), std::filesystem::perms::owner_all));

    // sbatch's own environment: the run's allow-list, for --export to take
    // values from, and Slurm's SLURM_* (SLURM_CONF) for sbatch itself.
    STRAITS_ASSIGN_OR_RETURN(auto allowed,
                             run_environment(spec, spec.work_dir, spec.checkpoint_dir));
    std::vector<std::string> env_storage;
    for (const auto& [key, value] : allowed) env_storage.push_back(key + "=" + value);
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::string_view(*entry).starts_with("SLURM_")) env_storage.emplace_back(*entry);
    }
    std::vector<char*> envp;
    for (std::string& entry : env_storage) envp.push_back(entry.data());
    envp.push_back(nullptr);

    const auto argv = sbatch_argv(spec, options_, script);
    STRAITS_ASSIGN_OR_RETURN(CommandOutput output,
                             run_command(argv, options_.command_timeout, envp.data()));
    std::string what = "sbatch " + name + " (" + std::to_string(spec.nodes) + " node(s)";
    if (spec.gpus_per_node > 0) {
      what += ", --gres=gpu:" + (spec.gpu_type.empty() ? "" : spec.gpu_type + ":") +
              std::to_string(spec.gpus_per_node) + " per node";
    }
    const std::string& partition = spec.partition.empty() ? options_.partition : spec.partition;
    what += ", partition " + (partition.empty() ? std::string("default") : partition) + ")";
    if (!output.succeeded()) {
      return command_error(what + " refused", output, ErrorCode::kInvalidArgument);
    }
    // "ID" or "ID;CLUSTER".
    const std::string_view out = output.out;
    std::string_view id = trim(out.substr(0, out.find('\n')));
    id = id.substr(0, id.find(';'));
    if (!is_job_id(id)) {
      return Error(ErrorCode::kInternal,
                   what + ": sbatch printed no job id: '" + std::string(trim(output.out)) + "'");
    }
    return std::string(id);
  }

  Result<std::optional<std::string>> find(const std::string& job_id, std::int32_t attempt,
                                          const std::filesystem::path& work_dir) override {
    STRAITS_TRY(check_safe_name("job id", job_id));
    const std::string name = job_name(job_id, attempt);
    STRAITS_ASSIGN_OR_RETURN(CommandOutput output, run_command({"squeue", "-h", "-a", "-t", "all",
                                                                "--name=" + name, "-o", "%i|%Z"},
                                                               options_.command_timeout));
    if (!output.succeeded()) {
      return command_error("squeue --name=" + name, output, ErrorCode::kInternal);
    }
    // The newest, should there be more than one.
    std::optional<std::string> found;
    std::uint64_t newest = 0;
    // Jobs of the same name in another working directory are another
    // control plane's (job ids start again at every new store).
    const std::string want = work_dir.lexically_normal().string();
    for (std::string_view line : split(output.out, '\n')) {
      line = trim(line);
      const auto bar = line.find('|');
      if (bar == std::string_view::npos) continue;
      const std::string_view number = line.substr(0, bar);
      const std::string dir =
          std::filesystem::path(std::string(line.substr(bar + 1))).lexically_normal().string();
      const auto id = parse_number<std::uint64_t>(number);
      if (id && *id >= newest && dir == want) {
        newest = *id;
        found = std::string(number);
      }
    }
    return found;
  }

  Result<std::map<std::string, RunStatus>> poll(const std::vector<std::string>& handles) override {
    std::map<std::string, RunStatus> statuses;
    std::vector<std::string> ask;
    std::set<std::string> asked;
    for (const auto& handle : handles) {
      if (const auto it = ended_.find(handle); it != ended_.end()) {
        statuses[handle] = it->second;
      } else if (!is_job_id(handle)) {
        statuses[handle] =
            RunStatus{RunState::kLost, {}, {}, "'" + handle + "' is not a Slurm job id"};
      } else if (asked.insert(handle).second) {
        ask.push_back(handle);
      }
    }
    if (ask.empty()) return statuses;

    // One squeue for all: -t all includes the jobs that ended and are still in
    // slurmctld's memory (MinJobAge), with their batch step's wait status.
    std::string ids;
    for (const auto& id : ask) ids += (ids.empty() ? "" : ",") + id;
    STRAITS_ASSIGN_OR_RETURN(CommandOutput output,
                             run_command({"squeue", "-h", "-a", "-t", "all", "-j", ids, "-O",
                                          std::string(kSqueueFields)},
                                         options_.command_timeout));
    std::vector<JobRow> rows;
    if (!output.succeeded()) {
      // squeue -j with a single id that slurmctld does not know fails; with
      // several, it lists the known ones.
      if (ask.size() != 1 || !contains(output.err, "Invalid job id specified")) {
        return command_error("squeue", output, ErrorCode::kUnavailable);
      }
    } else {
      STRAITS_ASSIGN_OR_RETURN(rows, parse_squeue(output.out));
    }
    record(rows, asked, statuses);

    std::vector<std::string> missing;
    for (const auto& id : ask) {
      if (!statuses.contains(id)) missing.push_back(id);
    }
    if (!missing.empty() && accounting_) {
      STRAITS_ASSIGN_OR_RETURN(rows, sacct(missing));
      record(rows, asked, statuses);
    }
    for (const auto& id : missing) {
      if (statuses.contains(id)) continue;
      RunStatus lost{RunState::kLost,
                     {},
                     {},
                     "Slurm does not know job " + id +
                         " (it ended longer ago than the cluster keeps jobs, MinJobAge, and "
                         "there is no accounting to ask; or it never existed)"};
      statuses[id] = lost;
    }
    return statuses;
  }

  Status request_checkpoint(const std::string& handle) override {
    if (!is_job_id(handle)) {
      return Error(ErrorCode::kNotFound, "'" + handle + "' is not a Slurm job id");
    }
    // scancel --signal on a job that has not started yet is refused with
    // "try again later", and scancel retries until it starts: look first.
    STRAITS_ASSIGN_OR_RETURN(auto statuses, poll({handle}));
    const RunStatus& status = statuses[handle];
    if (status.state != RunState::kRunning) {
      const ErrorCode code =
          status.state == RunState::kLost ? ErrorCode::kNotFound : ErrorCode::kFailedPrecondition;
      return Error(code,
                   "job " + handle + " is not running, nothing to checkpoint: " + status.detail);
    }
    STRAITS_ASSIGN_OR_RETURN(
        CommandOutput output,
        run_command({"scancel", "--full", "--signal=USR1", handle}, options_.command_timeout));
    if (!output.succeeded()) {
      return command_error("scancel --signal=USR1 " + handle, output,
                           ErrorCode::kFailedPrecondition);
    }
    return ok();
  }

  // Slurm's KillWait, not `grace`, is the time between SIGTERM and SIGKILL.
  Status stop(const std::string& handle, Duration /*grace*/) override {
    if (!is_job_id(handle)) {
      return Error(ErrorCode::kNotFound, "'" + handle + "' is not a Slurm job id");
    }
    stopped_.insert(handle);
    STRAITS_ASSIGN_OR_RETURN(CommandOutput output,
                             run_command({"scancel", handle}, options_.command_timeout));
    if (!output.succeeded()) {
      // Already over: nothing to stop.
      if (contains(output.err, "already completing or completed")) return ok();
      return command_error("scancel " + handle, output, ErrorCode::kFailedPrecondition);
    }
    return ok();
  }

 private:
  // The statuses of `rows` that were asked for; the final ones are kept, so
  // that a job is still known after slurmctld forgot it.
  void record(const std::vector<JobRow>& rows, const std::set<std::string>& asked,
              std::map<std::string, RunStatus>& statuses) {
    for (const auto& row : rows) {
      if (!asked.contains(row.id)) continue;
      RunStatus status = to_run_status(row, stopped_.contains(row.id));
      if (is_final(status.state)) {
        ended_[row.id] = status;
        stopped_.erase(row.id);
      }
      statuses[row.id] = std::move(status);
    }
  }

  // The jobs slurmctld no longer has, from the accounting database; none
  // (and never asked again) when the cluster keeps no accounting.
  Result<std::vector<JobRow>> sacct(const std::vector<std::string>& ids) {
    std::string list;
    for (const auto& id : ids) list += (list.empty() ? "" : ",") + id;
    STRAITS_ASSIGN_OR_RETURN(
        CommandOutput output,
        run_command({"sacct", "-X", "-n", "-P", "-j", list, "-o", std::string(kSacctFields)},
                    options_.command_timeout));
    if (!output.succeeded()) {
      if (contains(output.err, "accounting storage is disabled")) {
        accounting_ = false;
        return std::vector<JobRow>{};
      }
      return command_error("sacct", output, ErrorCode::kUnavailable);
    }
    return parse_sacct(output.out);
  }

  SlurmOptions options_;
  std::set<std::string> stopped_;           // stop() cancelled them, not ended yet
  std::map<std::string, RunStatus> ended_;  // final statuses seen
  bool accounting_ = true;                  // until sacct says it is disabled
};

}  // namespace

std::unique_ptr<Backend> make_slurm_backend(SlurmOptions options) {
  return std::make_unique<SlurmBackend>(std::move(options));
}

}  // namespace straits::exec
