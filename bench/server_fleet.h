// The fleet of a server-scale scheduling pass (issue 6), shared by the
// scheduler's benchmark (sched_bench.cc) and the plan dumper (plan_dump.cc).
#pragma once

#include <optional>
#include <vector>

#include "sched/scheduler.h"

namespace straits::sched::bench {

// A server's scheduling pass (issue 6): 10,000 pending jobs on 1,000 pools.
// The catalog: the shipped countries, groups and chips; 50 sites (with their
// operators) in SG, MY, JP, US, CN, DE, IN and AE; 1,000 pools of 8 nodes x 8
// GPUs, chips by country (H100, H200, B200, MI300X, A100 outside China; H800,
// H20, A800, Ascend 910B inside), one in four owned by an org, the rest
// leasable; 20 orgs (hq SG, US or JP; one in five with a China-headquartered
// parent), leasing 64 GPUs of a leasable pool alone or 32 each with another
// org (about 62 leases an org, ending 10 to 89 days ahead, one in 17 starting
// in 3 days). 10,000 jobs of 1 to 64 GPUs (powers of two), of random orgs,
// eligible chips (any, one or two), one in ten with a site order.
struct ServerFleet {
  catalog::Catalog catalog;
  std::optional<policy::Engine> engine;
  std::optional<ThroughputModel> throughput;
  std::vector<Job> jobs;
  ClusterState state;  // no job running; every job pending
  Instant now;
};

// Built once, on first use.
ServerFleet& server_fleet();

// The state after a plan's starts, applied as the simulator applies them
// (src/sim/engine.cc): allocate, add_running, and out of the queue.
void apply_starts(ClusterState& state, const Plan& plan, Instant now);

}  // namespace straits::sched::bench
