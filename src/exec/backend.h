// Execution backends (design: "exec"): how a site agent runs one attempt of
// a job on the engine its site already uses. Two backends: local processes
// (the embedded default) and Slurm (sbatch, squeue/scontrol, scancel).
//
// A backend knows nothing of the control plane: it starts, watches, signals
// and stops runs, each named by a handle of its own (a pid, a Slurm job id).
// The agent (src/agent) keeps which handle belongs to which job attempt.
//
// Not thread-safe: one agent thread drives a backend. The local backend forks
// from the calling thread, and its runs die with that thread (see local.h):
// drive it from a thread that lives as long as the agent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace straits::exec {

// The Unix identity a run executes as (see run_user.h): a run never runs as
// a root agent, and never sees the agent's credentials.
struct RunUser {
  std::string name;  // "straits-run"
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups;  // supplementary groups, the primary one included
  friend bool operator==(const RunUser&, const RunUser&) = default;
};

// One attempt of a job, as the backend needs it.
struct LaunchSpec {
  std::string job_id;                    // "j-00000003"
  std::int32_t attempt = 1;              // 1, 2, ...: a job moved or requeued starts again
  std::string command;                   // run by /bin/sh -c in work_dir
  std::filesystem::path work_dir;        // created if missing; the output goes to output.log
  std::filesystem::path checkpoint_dir;  // created if missing; STRAITS_CHECKPOINT_DIR
  std::string resume_from;         // STRAITS_RESUME_FROM: a checkpoint path, "" to start afresh
  std::int32_t gpus = 1;           // the gang: STRAITS_GPUS
  std::int32_t nodes = 1;          // Slurm --nodes
  std::int32_t gpus_per_node = 1;  // Slurm --gres=gpu:TYPE:N is per node
  std::string gpu_type;            // Slurm gres type ("h100"); the local backend ignores it
  std::string partition;           // Slurm partition, "" for the cluster's default
  // Stopped (SIGTERM, then SIGKILL after the backend's grace) when it has run
  // this long: the job's own limit or the time its placement must end by.
  std::optional<Duration> time_limit;
  std::vector<std::pair<std::string, std::string>> env;  // what the job sets
  // Runs as this user (folders owned by it, privileges dropped before exec);
  // nullopt: as the agent's own user.
  std::optional<RunUser> run_as;
};

// A run's environment is an allow-list, never the agent's (which may hold its
// token) nor its arguments: PATH=/usr/local/bin:/usr/bin:/bin, LANG=C.UTF-8,
// TZ=UTC, HOME=work_dir, then STRAITS_JOB_ID, STRAITS_ATTEMPT,
// STRAITS_CHECKPOINT_DIR, STRAITS_RESUME_FROM (empty when fresh) and
// STRAITS_GPUS (the gang size), then the variables of `env` (which may
// replace PATH, LANG and TZ, not the STRAITS_* ones or HOME). On Slurm,
// Slurm adds its SLURM_* variables (and CUDA_VISIBLE_DEVICES).
// Errors: kInvalidArgument for a name that is not [A-Za-z_][A-Za-z0-9_]* or
// a NUL in a value. `work_dir` and `checkpoint_dir` absolute.
Result<std::vector<std::pair<std::string, std::string>>> run_environment(
    const LaunchSpec& spec, const std::filesystem::path& work_dir,
    const std::filesystem::path& checkpoint_dir);

// Checks text that arrives from outside (the server: job ids, assignment ids,
// handles) before it becomes a path component or an argument: 1 to 128
// characters of [A-Za-z0-9._-], not "." or "..", not starting with '-' or
// '.'. So no '/', no "..", no NUL, no control characters, no option. Errors:
// kInvalidArgument naming `what` and showing the text escaped.
Status check_safe_name(std::string_view what, std::string_view text);

enum class RunState : std::uint8_t {
  kPending,      // accepted, not running yet (Slurm PENDING, CONFIGURING)
  kRunning,      // running (Slurm RUNNING, COMPLETING, SUSPENDED)
  kSucceeded,    // exited 0
  kFailed,       // exited non-zero or was killed by a signal it did not ask for
  kCancelled,    // ended by stop()
  kTimedOut,     // ended at its time limit
  kNodeFailure,  // the node it ran on failed (Slurm NODE_FAIL, BOOT_FAIL): not the job's fault
  kLost,         // the backend does not know the handle (e.g. local runs of an earlier agent)
};
std::string_view to_string(RunState state);
bool is_final(RunState state);  // succeeded, failed, cancelled, timed out, node failure, lost

struct RunStatus {
  RunState state = RunState::kPending;
  std::optional<int> exit_code;  // once ended, when known
  std::optional<int> signal;     // the signal that ended it, when one did
  std::string detail;            // "Slurm state NODE_FAIL on h800-2", "killed by SIGKILL"
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;  // "local", "slurm"

  // Starts a run and returns its handle. Errors: the command cannot be
  // started at all (Slurm refused the submission, fork failed). A command
  // that does not exist is not an error here: it runs and fails (exit 127).
  virtual Result<std::string> launch(const LaunchSpec& spec) = 0;

  // A run of this job attempt in this work_dir the backend already has, if
  // any (Slurm: by job name and working directory, so that an agent that
  // died between sbatch and writing down the handle never submits twice,
  // while another control plane's job of the same id is not taken for it).
  // Local runs never outlive their agent.
  virtual Result<std::optional<std::string>> find(const std::string& job_id, std::int32_t attempt,
                                                  const std::filesystem::path& work_dir) = 0;

  // The state of each handle, in one call (Slurm: one squeue, so that sites
  // that rate-limit RPCs are not hammered). Also where the local backend
  // enforces time limits and escalates stop() to SIGKILL: call it regularly.
  // An Error means the backend could not be asked (slurmctld down): the runs'
  // states are unknown, not ended.
  virtual Result<std::map<std::string, RunStatus>> poll(
      const std::vector<std::string>& handles) = 0;

  // Asks the run to write a checkpoint: SIGUSR1 to the job's processes.
  virtual Status request_checkpoint(const std::string& handle) = 0;

  // SIGTERM now, SIGKILL `grace` later if still running (returns at once;
  // poll() says when it ended, as kCancelled).
  virtual Status stop(const std::string& handle, Duration grace) = 0;
};

// A run's output: its stdout and stderr, interleaved as a terminal shows them,
// in WORK_DIR/output.log (both backends write it there). From byte `offset`,
// at most `max_bytes` ("" when nothing new): what the agent sends as logs.
// The run owns its folder and may replace the file by a symbolic link to a
// file of the agent's: the file is opened without following a link and read
// only when it is a regular file.
std::string read_output(const std::filesystem::path& work_dir, std::uint64_t offset,
                        std::size_t max_bytes);
// The last `max_bytes` of it, "" when none.
std::string output_tail(const std::filesystem::path& work_dir, std::size_t max_bytes);

// The checkpoint a run last reported. A job reports one by writing it under
// STRAITS_CHECKPOINT_DIR and then, atomically (write a temporary file and
// rename it), the file STRAITS_CHECKPOINT_DIR/latest holding one line: the
// checkpoint's path (absolute, or relative to the directory), optionally
// followed by a space and free text (e.g. "step=120").
struct Checkpoint {
  std::string path;  // absolute
  std::string note;  // the free text, "" if none
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};
// nullopt when no checkpoint was reported yet; an Error when `latest` is
// there but unreadable or names a path that does not exist.
Result<std::optional<Checkpoint>> read_latest_checkpoint(const std::filesystem::path& dir);

}  // namespace straits::exec
