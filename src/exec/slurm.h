// The Slurm backend: a run is a Slurm batch job, submitted with
// `sbatch --parsable` (name straits-JOB-ATTEMPT, --gres=gpu:TYPE:N per node,
// --nodes, --ntasks, --output=WORK_DIR/output.log, --time in whole minutes
// rounded up, --no-requeue: straits requeues from the last checkpoint itself),
// watched with one `squeue -t all -j ID,...` a poll (sacct for the jobs
// slurmctld no longer keeps, when the cluster has accounting), checkpointed
// with `scancel --full --signal=USR1`, stopped with scancel.
//
// sbatch runs with an environment the backend builds (the allow-list of
// backend.h and the agent's SLURM_*), with --export naming the allow-list
// only, so that nothing of the agent's environment reaches the job; with
// LaunchSpec::run_as (the agent is root), with --uid and --gid: Slurm runs the
// job as that user. The batch script exports the allow-list, cds to work_dir,
// ignores SIGUSR1 and execs /bin/sh -c COMMAND: as with the local backend, a
// checkpoint request reaches every process of the job's batch step, and only
// a program that installs a handler sees it (a shell's `trap ... USR1` cannot:
// the signal is ignored on entry). The batch step runs on the first node of
// the allocation; a job reaches the others with srun.
//
// The Slurm commands are found on PATH and read SLURM_CONF from the
// environment, as on a login node. When slurmctld does not answer, poll()
// returns an Error and the runs keep their last known state: a slurmctld
// restart ends no run. A launch() whose sbatch timed out may or may not have
// submitted: find() says.
//
// CANCELLED is kCancelled whoever cancelled; the detail says whether stop()
// did. PREEMPTED, NODE_FAIL and BOOT_FAIL are kNodeFailure (not the job's
// fault), OUT_OF_MEMORY is kFailed, DEADLINE kTimedOut; a job Slurm no longer
// knows is kLost.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "exec/backend.h"

namespace straits::exec {

struct SlurmOptions {
  std::string partition;  // default for runs that name none; "" for the cluster's default
  std::string account;    // --account, "" for none
  // Where batch scripts are written and kept (sbatch sends their text to
  // slurmctld: they need not be on the compute nodes; work_dir must be).
  std::filesystem::path script_dir = "/tmp/straits-slurm-scripts";
  Duration kill_grace = Duration::seconds(10);  // scancel's KillWait is the cluster's
  // Slurm commands that take longer are abandoned (their run is then unknown).
  Duration command_timeout = Duration::seconds(30);
};

std::unique_ptr<Backend> make_slurm_backend(SlurmOptions options = {});

}  // namespace straits::exec
