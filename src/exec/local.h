// The local backend: each run is a process group of its own on this machine,
// started by /bin/sh -c COMMAND in the run's work_dir, with its stdout and
// stderr in work_dir/output.log.
//
// A run never outlives its agent: the group leader is a small supervisor
// that kills the whole group when the agent dies (PR_SET_PDEATHSIG), so that
// a job requeued after its agent was lost never runs twice at once. The
// death signal follows the *thread* that forked: drive the backend from a
// thread that lives as long as the agent.
#pragma once

#include <memory>

#include "exec/backend.h"

namespace straits::exec {

struct LocalOptions {
  // How long stop() and time limits wait between SIGTERM and SIGKILL.
  Duration kill_grace = Duration::seconds(10);
};

std::unique_ptr<Backend> make_local_backend(LocalOptions options = {});

}  // namespace straits::exec
