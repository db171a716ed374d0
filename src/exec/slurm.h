// The Slurm backend: a run is a Slurm batch job, submitted with
// `sbatch --parsable` (name straits-JOB-ATTEMPT, --gres=gpu:TYPE:N per node,
// --nodes, --ntasks, --output=WORK_DIR/output.log, --time, --no-requeue: straits requeues from
// the last checkpoint itself), watched with squeue (one call for all runs)
// and scontrol or sacct for jobs that left the queue, checkpointed with
// `scancel --signal=USR1 --batch`, stopped with scancel.
//
// The Slurm commands are found on PATH and read SLURM_CONF from the
// environment, as on a login node. When slurmctld does not answer, poll()
// returns an Error and the runs keep their last known state: a slurmctld
// restart ends no run.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "exec/backend.h"

namespace straits::exec {

struct SlurmOptions {
  std::string partition;  // default for runs that name none; "" for the cluster's default
  std::string account;    // --account, "" for none
  // Where batch scripts are written (must be readable on the compute nodes,
  // as work_dir must be).
  std::filesystem::path script_dir = "/tmp/straits-slurm-scripts";
  Duration kill_grace = Duration::seconds(10);  // scancel's KillWait is the cluster's
  // Slurm commands that take longer are abandoned (their run is then unknown).
  Duration command_timeout = Duration::seconds(30);
};

std::unique_ptr<Backend> make_slurm_backend(SlurmOptions options = {});

}  // namespace straits::exec
