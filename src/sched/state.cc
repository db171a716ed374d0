#include "sched/state.h"

namespace straits::sched {

ClusterState ClusterState::empty_fleet(const catalog::Catalog& catalog) {
  ClusterState state;
  const auto& pools = catalog.pools();
  for (std::uint32_t i = 0; i < pools.size(); ++i) {
    PoolState p;
    p.index = i;
    p.pool = &pools[i];
    p.chip = catalog.find_chip(pools[i].chip);
    p.site = catalog.find_site(pools[i].site);
    p.free.assign(static_cast<std::size_t>(pools[i].nodes), pools[i].gpus_per_node);
    p.free_total = pools[i].gpus();
    p.price = pools[i].price_per_gpu_hour;
    state.pools.push_back(std::move(p));
  }
  return state;
}

void ClusterState::allocate(const OrgId& org, const Allocation& allocation) {
  PoolState& p = pools[allocation.pool];
  std::int32_t total = 0;
  for (const auto& [node, gpus] : allocation.nodes) {
    p.free[static_cast<std::size_t>(node)] -= gpus;
    total += gpus;
  }
  p.free_total -= total;
  usage[{org, allocation.pool}] += total;
}

void ClusterState::release(const OrgId& org, const Allocation& allocation) {
  PoolState& p = pools[allocation.pool];
  std::int32_t total = 0;
  for (const auto& [node, gpus] : allocation.nodes) {
    p.free[static_cast<std::size_t>(node)] += gpus;
    total += gpus;
  }
  p.free_total += total;
  auto it = usage.find({org, allocation.pool});
  it->second -= total;
  if (it->second == 0) usage.erase(it);
}

}  // namespace straits::sched
