// The impact of a proposed rule set on the fleet as it is: what adopting
// `proposed` (from an instant) instead of the rules in force would do to the
// leases, the running and queued jobs, and the datasets they use, and the
// GPU-hours and money it puts at risk per week. Pure: it reads a cluster
// state (leases, running jobs, queue) and two engines; the server renders the
// result (`straits rules impact`, POST /v1/rulesets/{id}/impact).
//
// Only what the proposal changes counts: a lease or run that the rules in
// force deny already at that instant is not hit. Decisions are resolved once
// per (org, pool) for leases and once per (org, pool, run request) for runs,
// and scanned over their change points (next_change_after), so the cost grows
// with the classes of jobs, not the jobs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/engine.h"
#include "sched/state.h"

namespace straits::sched {

struct ImpactOptions {
  // As SchedulerOptions: to compute a checkpoint's time (checkpoint_gb over it).
  double checkpoint_bandwidth_gbps = 5;
  // How far past `from` decisions are scanned for a queued job (it has no end).
  Duration horizon = Duration::days(3 * 365);
};

// Why the proposal refuses something from `from` on.
struct Bite {
  Instant at;  // first instant the proposal refuses it (and the rules in force do not)
  policy::Outcome outcome = policy::Outcome::kDeny;  // kDeny or kLicenceRequired
  RuleId rule;         // the rule that refuses (forbids, or requires a licence not held)
  std::string reason;  // in words
};

struct LeaseHit {
  LeaseId lease;
  OrgId org;
  PoolId pool;
  int gpus = 0;
  Instant end;  // the lease's end
  Bite bite;
};

struct RunningHit {
  JobId job;
  OrgId org;
  PoolId pool;
  int gpus = 0;
  Instant expected_end;
  Bite bite;  // the lease or the run refused: the job must be gone by bite.at
  // The latest instant to start writing its last checkpoint (bite.at less its
  // checkpoint time, as the scheduler computes it for lease ends).
  Instant checkpoint_by;
  // Pools it could move to (ascending catalog order): the org owns one or has
  // a lease active at bite.at, an eligible chip, room now for the gang (free
  // GPUs in a node arrangement the scheduler would place, within the org's
  // leases; each job counted alone, not against the others that move), the
  // job's site preferences allow it, and the proposal allows the lease and
  // the run there at bite.at.
  std::vector<PoolId> could_go;
};

struct QueuedHit {
  JobId job;
  OrgId org;
  // From this instant no pool it may use allows it under the proposal,
  // while under the rules in force some did at `from`.
  Instant nowhere_from;
  RuleId rule;  // a rule that refuses it on one of those pools
};

// A dataset a job uses that the proposal makes need a licence (an approval)
// the org does not hold: for runs on these pools, from `from`.
struct DatasetHit {
  DatasetId dataset;
  OrgId org;
  std::string licence;  // the licence's name, as the rule requires it
  RuleId rule;
  Instant from;               // the earliest instant any of its jobs is refused for it
  std::vector<PoolId> pools;  // where (ascending catalog order)
  std::vector<JobId> jobs;    // the running and queued jobs using it there (as found)
};

struct OrgHit {
  OrgId org;
  std::size_t leases = 0, running = 0, queued = 0, datasets = 0;
};

// GPU-hours and money at risk in one ISO week (Monday 00:00 UTC to the next):
// for each lease and running job hit, its GPUs x hours from bite.at to the
// lease's end / the job's expected end, priced at the pool's price.
struct WeekAtRisk {
  Instant week;  // Monday 00:00 UTC
  double lease_gpu_hours = 0, job_gpu_hours = 0;
  // Per currency (one entry per currency met), at the pools' list prices.
  std::vector<Money> lease_money, job_money;
};

struct Impact {
  Instant from;
  std::vector<LeaseHit> leases;      // by lease id
  std::vector<RunningHit> running;   // by job id
  std::vector<QueuedHit> queued;     // by job id
  std::vector<DatasetHit> datasets;  // by (dataset, org)
  std::vector<OrgHit> orgs;          // by org id
  std::vector<WeekAtRisk> weeks;     // by week
};

// What adopting `proposed` from `from` instead of `in_force` would do to the
// leases, running jobs (state.running()) and queued jobs (state.pending) of
// `state`. REQUIRES: both engines were loaded over state.catalog.
Impact rule_change_impact(const ClusterState& state, const policy::Engine& in_force,
                          const policy::Engine& proposed, Instant from,
                          const ImpactOptions& options = {});

// The Monday 00:00 UTC that starts the ISO week holding `t`, and the week's
// ISO 8601 name ("2027-W01").
Instant iso_week_start(Instant t);
std::string iso_week_name(Instant week_start);

}  // namespace straits::sched
