// The cluster state the scheduler plans over: free GPUs per node of every
// pool, leases, the queue and the running jobs. The simulator and the server
// each keep one and apply the scheduler's plan to it with allocate/release.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "catalog/catalog.h"
#include "sched/job.h"

namespace straits::sched {

struct PoolState {
  std::uint32_t index = 0;  // into catalog.pools()
  const catalog::Pool* pool = nullptr;
  const catalog::Chip* chip = nullptr;
  const catalog::Site* site = nullptr;
  std::vector<std::int32_t> free;  // free GPUs per node
  std::int32_t free_total = 0;
  Money price;  // the list price per GPU-hour now (it may change over time)
};

// Where a gang runs: GPUs on nodes of one pool.
struct Allocation {
  std::uint32_t pool = 0;
  std::vector<std::pair<std::int32_t, std::int32_t>> nodes;  // (node, gpus), by node
  friend bool operator==(const Allocation&, const Allocation&) = default;
};

struct PendingJob {
  const Job* job = nullptr;
  double remaining_work = 0;  // reference GPU-hours still to do
};

struct RunningJob {
  const Job* job = nullptr;
  Allocation allocation;
  Instant started;
  Instant expected_end;       // completion if nothing cuts it
  Instant must_leave_by;      // checkpoint done by then: lease end or rule change
  double remaining_work = 0;  // at `started`
};

struct ClusterState {
  std::vector<PoolState> pools;  // one per catalog pool, same order
  std::vector<Lease> leases;
  std::vector<PendingJob> pending;  // arrival order
  std::vector<RunningJob> running;
  std::map<std::pair<OrgId, std::uint32_t>, std::int32_t> usage;  // GPUs in use, by (org, pool)
  std::map<std::pair<OrgId, std::string>, double> spent;  // money spent by (org, team), in units

  // A state with every pool of the catalog empty.
  static ClusterState empty_fleet(const catalog::Catalog& catalog);
  // Takes or gives back an allocation's GPUs (and the org's usage).
  void allocate(const OrgId& org, const Allocation& allocation);
  void release(const OrgId& org, const Allocation& allocation);
};

}  // namespace straits::sched
