// The local backend: each run is a process group of its own on this machine,
// started by /bin/sh -c COMMAND in the run's work_dir, with its stdout and
// stderr in work_dir/output.log.
//
// A run never outlives its agent: the group leader is a small supervisor
// that kills the whole group when the agent dies (PR_SET_PDEATHSIG), so that
// a job requeued after its agent was lost never runs twice at once. The
// death signal follows the *thread* that forked: drive the backend from a
// thread that lives as long as the agent.
//
// Signals go to the whole group (SIGUSR1 for a checkpoint, SIGTERM, SIGKILL).
// The command starts with SIGUSR1 ignored, so that /bin/sh, which waits for
// its last command rather than exec'ing it, does not die of a checkpoint
// request; a program that checkpoints installs its own handler. After
// SIGTERM (stop, time limit) the run ends when all its processes have, or at
// SIGKILL after the grace; when a run ends otherwise, what it left behind in
// its group (`sleep 100 &`) is SIGKILLed. A process that leaves the group
// (setsid) is out of the backend's reach. The handle is the supervisor's pid;
// the status a run ended with is kept and answered again by poll().
//
// With LaunchSpec::run_as (the agent is root), the job's process drops to
// that user before exec (setgroups, setgid, setuid, each checked, then
// PR_SET_NO_NEW_PRIVS; a failure ends the run with exit code 126 and a
// message in output.log); the supervisor stays root to signal the group. The
// run's folders and output.log are given to the user (run_user.h). The
// environment is the allow-list of backend.h.
#pragma once

#include <memory>

#include "exec/backend.h"

namespace straits::exec {

struct LocalOptions {
  // How long a run past its time limit gets between SIGTERM and SIGKILL
  // (stop() takes its own); the destructor waits at most 1 s of it.
  Duration kill_grace = Duration::seconds(10);
};

std::unique_ptr<Backend> make_local_backend(LocalOptions options = {});

}  // namespace straits::exec
