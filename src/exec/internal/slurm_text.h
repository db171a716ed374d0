// What the Slurm backend writes and reads, apart from running the commands:
// the batch script, sbatch's arguments, squeue's and sacct's lines, and how
// Slurm's job states map to RunState. Pure functions, defined in slurm.cc,
// tested without a cluster.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "exec/backend.h"
#include "exec/slurm.h"

namespace straits::exec::slurm_internal {

// "straits-JOB-ATTEMPT": the Slurm job name of a run, what find() looks for.
std::string job_name(const std::string& job_id, std::int32_t attempt);

// The spec is one sbatch can take: ids and gres type of safe characters,
// positive counts, environment names that are shell names, no NUL anywhere.
Status check_spec(const LaunchSpec& spec);

// The batch script: exports (spec.env, then STRAITS_*), cd to the work dir,
// SIGUSR1 ignored, then `exec /bin/sh -c COMMAND`. REQUIRES: check_spec(spec)
// passed; work_dir and checkpoint_dir absolute.
std::string batch_script(const LaunchSpec& spec);

// A path for sbatch's --output: Slurm expands %j and the like in it, "%%"
// is a "%".
std::string slurm_file_pattern(const std::filesystem::path& path);

// --time in whole minutes, rounded up (Slurm counts minutes; 0 would mean
// no limit, so at least 1).
std::int64_t time_limit_minutes(Duration limit);

// sbatch's arguments (argv[0] = "sbatch") for a run whose script is `script`.
// REQUIRES: check_spec(spec) passed; work_dir absolute.
std::vector<std::string> sbatch_argv(const LaunchSpec& spec, const SlurmOptions& options,
                                     const std::filesystem::path& script);

// How Slurm's job state names map to RunState; nullopt for a name this
// backend does not know (a newer Slurm's).
std::optional<RunState> map_job_state(std::string_view slurm_state);

// One job as squeue (or sacct) tells it.
struct JobRow {
  std::string id;
  std::string state;  // "RUNNING", "NODE_FAIL", ...
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string nodes;   // "h800-[1-2]", "" when none
  std::string reason;  // "Resources", "NodeDown", "" for None
};

// The squeue format poll() asks for (-O), and its lines: JOBID|STATE|WAIT
// STATUS|NODES|REASON| where WAIT STATUS is the batch step's status as
// wait(2) gives it (768 for exit 3, 9 for SIGKILL).
inline constexpr std::string_view kSqueueFields = "JobID:|,State:|,exit_code:|,NodeList:|,Reason:|";
Result<std::vector<JobRow>> parse_squeue(std::string_view text);

// sacct -X -n -P -o JobIDRaw,State,ExitCode,NodeList,Reason: ID|STATE[ by
// UID]|CODE:SIGNAL|NODES|REASON.
inline constexpr std::string_view kSacctFields = "JobIDRaw,State,ExitCode,NodeList,Reason";
Result<std::vector<JobRow>> parse_sacct(std::string_view text);

// The RunStatus of a job as Slurm reports it; `stopped` when stop() cancelled
// it (said in the detail).
RunStatus to_run_status(const JobRow& row, bool stopped);

// What a Slurm command said on stderr, on one line, without the "sbatch:
// error: " prefixes.
std::string slurm_message(std::string_view stderr_text);

// The command could not reach slurmctld (down, restarting, network): the
// answer is unknown, not no.
bool controller_unreachable(std::string_view stderr_text);

}  // namespace straits::exec::slurm_internal
