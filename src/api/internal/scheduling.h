// The scheduling loop: the sched module's Scheduler run on the server's
// state, as the simulator runs it. A pass copies what it needs under a
// shared lock, plans without any lock, and applies the plan through the
// writer, which drops any start that the world changed under (a job
// cancelled, a lease or the catalog changed): the next pass redoes it.
//
// Placed jobs are "assigned": the site's agent takes them (docs/agents.md).
// Each pass also marks agents not heard from as lost. A job
// whose window closes (its lease ends, a rule takes effect: the scheduler's
// must_leave_by) is asked to checkpoint ("checkpointing") a checkpoint's
// time before, and is queued again at must_leave_by: moved, as in the
// simulator. A lease terminated early cuts the jobs on it the same way.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "api/internal/metrics.h"
#include "api/internal/writer.h"
#include "api/server.h"
#include "sched/scheduler.h"

namespace straits::api::internal {

class SchedulingLoop {
 public:
  SchedulingLoop(World& world, Writer& writer, const Clock& clock, Metrics& metrics,
                 const ServerOptions& options);
  ~SchedulingLoop();

  Result<Server::PassSummary> pass();
  // Runs passes on a thread: after wake(), at most every min_gap; at least
  // every interval; and when a job's checkpoint or move falls due.
  void start(Duration interval, Duration min_gap);
  void wake();
  void stop();

 private:
  void loop(Duration interval, Duration min_gap);
  // Makes scheduler_ plan with `policy` (a new one when it changed).
  void use_policy(const std::shared_ptr<const Policy>& policy);

  World& world_;
  Writer& writer_;
  const Clock& clock_;
  Metrics& metrics_;
  const ServerOptions& options_;
  std::mutex pass_mutex_;  // one pass at a time
  std::shared_ptr<const Policy> scheduler_policy_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  Instant next_due_ = Instant::max();  // the earliest checkpoint or move ahead

  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false, stopping_ = false;
  std::thread thread_;
};

}  // namespace straits::api::internal
