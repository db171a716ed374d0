// The scheduler: a pure decision core over a ClusterState and an instant,
// returning what to start and, for every job left waiting, why.
//
// Placement runs as a pipeline over the pools (after the Kubernetes
// scheduling framework): filters reject a pool with a reason (capacity the
// org may use, chip, site preferences, price ceiling, policy decisions for
// lease and run, lease end and rule changes ahead), scoring orders the pools
// left (site preference, price, speed, fit), and the best fit of nodes is
// reserved. Queue policies (queue_policy.h, one file each in policies/)
// decide the order jobs are tried in, and how pools are scored.
//
// Policy decisions are cached by their validity interval (next_change_after):
// nothing is decided twice that cannot have changed. Not thread-safe (the
// cache); one Scheduler per simulation or server.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "policy/engine.h"
#include "sched/queue_policy.h"
#include "sched/state.h"
#include "sched/throughput.h"

namespace straits::sched {

struct SchedulerOptions {
  // The queue policy (queue_policy.h): the order jobs are tried in, whether
  // they block or reserve, and how pools are scored.
  QueuePolicy policy = QueuePolicy::kEasyBackfill;
  // How pools are scored, instead of the policy's own scoring (absent: the
  // policy's): e.g. EASY reservations with throughput-aware placement.
  std::optional<Scoring> scoring;
  // Fair share (kPriorityFairShare): each org's weight (default 1), held
  // across all sites; and quotas: the most GPUs an org may hold at once,
  // across all sites (absent: no quota). Quotas apply under every policy.
  std::map<OrgId, double> shares;
  std::map<OrgId, std::int32_t> quotas;
  // Budgets per team (org, team): a job does not start where its expected
  // cost would take the team's spending past its budget. Spending is what
  // ClusterState::spent says (the caller adds each run's cost as it ends).
  std::map<std::pair<OrgId, std::string>, Money> budgets;
  Duration restart_overhead = Duration::minutes(10);
  double checkpoint_bandwidth_gbps = 5;  // GB/s, to write a checkpoint
  // The most queued jobs one pass considers, in queue order (like Slurm's
  // bf_max_job_test): bounds a pass's cost when the queue is long. Jobs past
  // it wait, with that reason, for a later pass. 0: no limit.
  std::size_t max_jobs_per_pass = 1000;
  // Whether that window is shared across orgs: when more jobs wait than it
  // holds, it is filled round robin by org (each org in turn, in the order
  // its first job is tried, gives its next job in the order the policy tries
  // them), so that one org's flood cannot keep every other org's jobs out of
  // every pass. The jobs chosen are still tried in the policy's order. Off:
  // the first max_jobs_per_pass jobs (the simulator's behaviour).
  bool share_window_by_org = false;
  // Under a policy that can preempt (kPriorityFairShare): a job that cannot start may preempt
  // running jobs of its own org with a lower priority. They write a checkpoint and leave (their
  // GPUs free checkpoint_time later) and queue again.
  bool preemption = false;
};

struct Start {
  std::size_t pending_index = 0;  // into ClusterState::pending
  Allocation allocation;
  Instant expected_end;
  Instant must_leave_by;   // Instant::max() when nothing ahead cuts it
  std::string cut_reason;  // what ends the window early: "lease l1 ends", "rule X"
  RuleId cut_rule;         // the rule behind cut_reason; empty when a lease end cuts it
};

struct Waiting {
  std::size_t pending_index = 0;
  std::string reason;  // why it waits, in words
  bool never = false;  // no pool it may ever use fits it
  // With reasons: the first rule (in pool order) that refused the job at a
  // pool it could otherwise use; empty when no rule did.
  RuleId rule;
};

// A running job to stop for a waiting one of higher priority.
struct Preempt {
  std::size_t running_index = 0;  // into ClusterState::running
  std::size_t for_pending = 0;    // the waiting job it makes room for
  std::string reason;             // "preempted by j7 (priority 5)"
};

struct Plan {
  std::vector<Start> starts;
  std::vector<Waiting> waiting;
  std::vector<Preempt> preemptions;
};

class Scheduler {
 public:
  // REQUIRES: catalog, engine and throughput outlive the scheduler.
  Scheduler(const catalog::Catalog& catalog, const policy::Engine& engine,
            const ThroughputModel& throughput, SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // What to start at `now`. Does not change `state`: the caller applies the
  // starts (ClusterState::allocate) in the order given. Without `explain`,
  // `waiting` lists only the jobs given up on (never), without reasons: for
  // callers that do not show why jobs wait, it saves work on every pass.
  Plan plan(const ClusterState& state, Instant now, bool explain = true);
  // As plan(), trying only the queued jobs at `indexes` (into state.pending,
  // in queue order). For a caller that knows nothing else can have changed:
  // after arrivals alone, only the newcomers (and, under EASY, the head of the
  // queue, for its reservation) can start.
  Plan plan_subset(const ClusterState& state, Instant now, const std::vector<std::size_t>& indexes,
                   bool explain = false);

  // Time to write one checkpoint of the job.
  Duration checkpoint_time(const Job& job) const;

  // Periodic checkpoints cost time: a job computes for its
  // checkpoint_interval, then writes a checkpoint (checkpoint_time) without
  // progress, and so on; none is written at the very end.
  // The wall time to compute for `compute`, checkpoints included.
  Duration wall_time(const Job& job, Duration compute) const;
  // After `elapsed` of such a run (restart overhead excluded): the compute
  // done, the compute the checkpoints written by then saved, and when the
  // last of them was done (from the run's start).
  struct Progress {
    Duration computed, saved, saved_at;
  };
  Progress progress(const Job& job, Duration elapsed) const;

  const SchedulerOptions& options() const { return options_; }

 private:
  // How long `pending` runs at `speed` (relative to the reference chip),
  // checkpoints and, for a restart, the restart overhead included.
  Duration run_time(const PendingJob& pending, double speed) const;
  // Whether a run that `cut` would stop can write its checkpoint before.
  bool can_checkpoint_before(const Job& job, Instant now, Instant cut) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
  SchedulerOptions options_;
};

}  // namespace straits::sched
