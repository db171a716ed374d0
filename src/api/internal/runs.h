// A job's runs at site agents (docs/agents.md): attempts, how a run's end
// moves the job, requeues from the last checkpoint, lost agents. Shared by
// the agent routes and the scheduling loop; everything here runs on the
// writer thread (world locked exclusively) and adds what it changes to the
// batch.
#pragma once

#include <string>

#include "api/internal/world.h"
#include "api/server.h"

namespace straits::api::internal {

// Whether a run of the job's current attempt may still be going somewhere:
// started and not reported ended.
bool run_active(const JobEntry& e);
std::int64_t run_attempt(const JobEntry& e);
// The agent the current attempt runs at ("" before it started).
std::string run_agent(const JobEntry& e);

void add_job_event(JobEntry& e, store::Batch& batch, Instant at, std::string kind,
                   std::string message, std::string data = "");
// The audit event of a job's state change: before {"state": before}, after
// `after` (which says the new state and why).
store::NewAuditEvent job_audit(Instant at, std::string actor, std::string action,
                               const std::string& job, JobState before, const json& after);

// Writes e.state and e.run into the record and the record into the batch;
// re-renders. Without `with_run` the record keeps the run it had: the paths
// that never wrote the run they changed (a cut of a run the agent did not
// stop in time, a cancel of a job whose run ended) write the same bytes as
// before issue 16.
void save_job(World& world, JobEntry& e, store::Batch& batch, Instant now, bool with_run = true);

// A new placement is the next attempt, not started yet.
void begin_attempt(JobEntry& e);
// Back to the queue, to resume from its last checkpoint: the placement goes.
void back_to_queue(JobEntry& e);
// Requeued after a failure that is not the job's (agent lost, node failure):
// back to the queue, or failed once it was requeued options.max_requeues
// times. Returns the new state.
JobState requeue_or_fail(World& world, JobEntry& e, store::Batch& batch, Instant now,
                         const ServerOptions& options, const std::string& why);

// The job's command as one /bin/sh string ("" when it has none): a string as
// it is, a list as its elements each single-quoted.
std::string shell_command(const json& spec);

// Marks agents not heard from for options.agent_lost_after as lost and
// requeues their jobs. Returns how many agents it marked.
std::size_t mark_lost_agents(World& world, store::Batch& batch, Instant now,
                             const ServerOptions& options);

}  // namespace straits::api::internal
