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
  Money price;  // the list price per GPU-hour now (it may change over time)

  const std::vector<std::int32_t>& free() const { return free_; }  // free GPUs per node
  std::int32_t free_total() const { return free_total_; }
  // Changes, to a value no pool state has had before, whenever its free GPUs
  // or its running jobs change (allocate, release, touch, set_free): what
  // the scheduler derives from a pool's running jobs holds while it stays.
  std::uint64_t revision() const { return revision_; }
  // Changes likewise whenever GPUs may have come free (release, touch): what
  // the scheduler found could not fit holds while it stays.
  std::uint64_t release_revision() const { return release_revision_; }

 private:
  friend struct ClusterState;  // keeps them consistent
  std::vector<std::int32_t> free_;
  std::int32_t free_total_ = 0;  // the sum of free_
  std::uint64_t revision_ = 0;
  std::uint64_t release_revision_ = 0;
};

// Where a gang runs: GPUs on nodes of one pool.
struct Allocation {
  std::uint32_t pool = 0;
  std::vector<std::pair<std::int32_t, std::int32_t>> nodes;  // (node, gpus), by node
  friend bool operator==(const Allocation&, const Allocation&) = default;
};

struct PendingJob {
  PendingJob() = default;
  PendingJob(const Job* queued, double remaining) : job(queued), remaining_work(remaining) {}

  const Job* job = nullptr;
  double remaining_work = 0;  // reference GPU-hours still to do

 private:
  // The Scheduler's cache of what it derives from the job, its own to read
  // and write: the job's class (the pools it may consider and their
  // decisions), filled on its first pass, and how long it would run on the
  // slowest pool of its class (negative: not known yet). A caller that
  // changes a queued job queues it anew (a fresh PendingJob).
  friend class Scheduler;
  mutable std::uint32_t scheduler_class = 0;
  mutable Duration scheduler_longest_run = Duration::microseconds(-1);
};

inline constexpr std::uint32_t kNoOrgSlot = 0xffffffffu;

struct RunningJob {
  const Job* job = nullptr;
  Allocation allocation;
  Instant started;
  Instant expected_end;       // completion if nothing cuts it
  Instant must_leave_by;      // checkpoint done by then: lease end or rule change
  double remaining_work = 0;  // at `started`
  // The job's org as an index into catalog.orgs(), set by add_running
  // (kNoOrgSlot otherwise, or for an org outside the catalog).
  std::uint32_t org_slot = kNoOrgSlot;
  // Writing its last checkpoint before it leaves (a cut or a preemption):
  // its GPUs are free at must_leave_by.
  bool leaving = false;

  // When its GPUs come free if nothing changes.
  Instant frees_at() const { return must_leave_by < expected_end ? must_leave_by : expected_end; }
};

// The order running jobs free their GPUs in: by frees_at(), then job id.
bool frees_before(const RunningJob& a, const RunningJob& b);

// The fields that must stay consistent with one another (free GPUs and
// revisions, running jobs and their index by pool, usage, leases and their
// revision) are private: changed only through the mutators below.
struct ClusterState {
  const catalog::Catalog* catalog = nullptr;
  std::vector<PendingJob> pending;                        // arrival order
  std::map<std::pair<OrgId, std::string>, double> spent;  // money spent by (org, team), in units

  // One per catalog pool, same order.
  const std::vector<PoolState>& pools() const { return pools_; }
  const std::vector<Lease>& leases() const { return leases_; }
  // What the scheduler caches about the leases (what they give each org)
  // holds while this stays: a value no other state has had (empty_fleet,
  // set_leases and touch_leases make a new one).
  std::uint64_t leases_revision() const { return leases_revision_; }
  // In no order; changed with add_running and remove_running.
  const std::vector<RunningJob>& running() const { return running_; }
  // Positions in running() of the pool's jobs, by the time they end (the
  // sooner of expected_end and must_leave_by; then job id).
  const std::vector<std::uint32_t>& running_by_pool(std::uint32_t pool) const {
    return running_by_pool_[pool];
  }
  // GPUs in use by the org at `slot` (org_slot) on the pool; 0 for an org
  // outside the catalog.
  std::int32_t used(std::uint32_t slot, std::uint32_t pool) const {
    const std::size_t i = usage_index(slot, pool);
    return i < usage_.size() ? usage_[i] : 0;
  }

  // A state with every pool of the catalog empty.
  static ClusterState empty_fleet(const catalog::Catalog& catalog);
  // Takes or gives back an allocation's GPUs (and the org's usage).
  // REQUIRES: the allocation fits the pool (its nodes exist; a caller that
  // reads placements from outside, such as a store, checks them first).
  // Nodes the pool does not have are skipped, never written past it.
  void allocate(const OrgId& org, const Allocation& allocation);
  void release(const OrgId& org, const Allocation& allocation);
  // The same for the org at `slot` (org_slot(org)), found once by its caller.
  void allocate(std::uint32_t slot, const Allocation& allocation);
  void release(std::uint32_t slot, const Allocation& allocation);
  // The org's index in catalog->orgs(); kNoOrgSlot if it is not there.
  std::uint32_t org_slot(const OrgId& org) const;
  void set_leases(std::vector<Lease> new_leases);
  void add_lease(Lease lease);
  // Says that the leases changed in place (a new leases_revision).
  void touch_leases();
  // Adds a running job (its GPUs already allocated); returns its position.
  // Its org_slot is kept if it names its org, else found.
  std::size_t add_running(RunningJob job);
  // Removes the running job at `position`; the last one takes its place.
  void remove_running(std::size_t position);
  // A pool's list price from now on.
  void set_price(std::uint32_t pool, Money price);
  // Sets a node's free GPUs other than by allocate or release (a node failed
  // or came back; a pool retired: every node 0), and says so (touch).
  void set_free(std::uint32_t pool, std::size_t node, std::int32_t gpus);
  void set_all_free(std::uint32_t pool, std::int32_t gpus);
  // Says that a pool's free GPUs changed other than by allocate or release.
  void touch(std::uint32_t pool);

 private:
  // Where the org's usage of the pool is in `usage_`; usage_.size() if nowhere.
  // Inline: the scheduler reads an org's usage for every (job, pool) it tries.
  std::size_t usage_index(std::uint32_t slot, std::uint32_t pool) const {
    if (slot == kNoOrgSlot) return usage_.size();
    const std::size_t index = static_cast<std::size_t>(slot) * pools_.size() + pool;
    return index < usage_.size() ? index : usage_.size();
  }

  std::vector<PoolState> pools_;
  std::vector<Lease> leases_;
  std::uint64_t leases_revision_ = 0;
  std::vector<RunningJob> running_;
  std::vector<std::vector<std::uint32_t>> running_by_pool_;
  std::vector<std::int32_t> usage_;  // [org index * pools + pool]
};

}  // namespace straits::sched
