#include "sched/state.h"

#include <algorithm>
#include <atomic>
#include <limits>

namespace straits::sched {
namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

std::uint64_t next_revision() {
  static std::atomic<std::uint64_t> last{0};
  return ++last;
}

bool has_node(const PoolState& pool, std::int32_t node) {
  return node >= 0 && static_cast<std::size_t>(node) < pool.free.size();
}

}  // namespace

ClusterState ClusterState::empty_fleet(const catalog::Catalog& catalog) {
  ClusterState state;
  state.catalog = &catalog;
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
    p.revision = next_revision();
    p.release_revision = p.revision;
    state.pools.push_back(std::move(p));
  }
  state.usage.assign(catalog.orgs().size() * pools.size(), 0);
  state.leases_revision = next_revision();
  state.running_by_pool.resize(pools.size());
  return state;
}

bool frees_before(const RunningJob& a, const RunningJob& b) {
  const Instant ta = a.frees_at(), tb = b.frees_at();
  return ta < tb || (ta == tb && a.job->id < b.job->id);
}

std::uint32_t ClusterState::org_slot(const OrgId& org) const {
  const catalog::Org* o = catalog == nullptr ? nullptr : catalog->find_org(org);
  return o == nullptr ? kNoOrgSlot : static_cast<std::uint32_t>(o - catalog->orgs().data());
}

std::size_t ClusterState::usage_index(std::uint32_t slot, std::uint32_t pool) const {
  if (slot == kNoOrgSlot) return usage.size();
  auto index = static_cast<std::size_t>(slot) * pools.size() + pool;
  return index < usage.size() ? index : usage.size();
}

void ClusterState::allocate(const OrgId& org, const Allocation& allocation) {
  allocate(org_slot(org), allocation);
}

void ClusterState::release(const OrgId& org, const Allocation& allocation) {
  release(org_slot(org), allocation);
}

void ClusterState::allocate(std::uint32_t slot, const Allocation& allocation) {
  PoolState& p = pools[allocation.pool];
  std::int32_t total = 0;
  for (const auto& [node, gpus] : allocation.nodes) {
    if (!has_node(p, node)) continue;  // never written past the pool (see the header)
    p.free[static_cast<std::size_t>(node)] -= gpus;
    total += gpus;
  }
  p.free_total -= total;
  p.revision = next_revision();
  if (std::size_t i = usage_index(slot, allocation.pool); i < usage.size()) usage[i] += total;
}

void ClusterState::release(std::uint32_t slot, const Allocation& allocation) {
  PoolState& p = pools[allocation.pool];
  std::int32_t total = 0;
  for (const auto& [node, gpus] : allocation.nodes) {
    if (!has_node(p, node)) continue;  // never written past the pool (see the header)
    p.free[static_cast<std::size_t>(node)] += gpus;
    total += gpus;
  }
  p.free_total += total;
  p.revision = next_revision();
  p.release_revision = p.revision;
  if (std::size_t i = usage_index(slot, allocation.pool); i < usage.size()) usage[i] -= total;
}

std::size_t ClusterState::add_running(RunningJob job) {
  const std::uint32_t pool = job.allocation.pool;
  if (running_by_pool.size() < pools.size()) running_by_pool.resize(pools.size());
  const auto position = static_cast<std::uint32_t>(running.size());
  if (catalog == nullptr || job.org_slot >= catalog->orgs().size() ||
      catalog->orgs()[job.org_slot].id != job.job->org) {
    job.org_slot = org_slot(job.job->org);
  }
  running.push_back(std::move(job));
  auto& list = running_by_pool[pool];
  list.insert(std::upper_bound(list.begin(), list.end(), position,
                               [this](std::uint32_t a, std::uint32_t b) {
                                 return frees_before(running[a], running[b]);
                               }),
              position);
  return position;
}

void ClusterState::remove_running(std::size_t position) {
  auto forget = [this](std::size_t at, std::uint32_t replacement) {
    auto& list = running_by_pool[running[at].allocation.pool];
    // The list is in frees_before order: found by halving, unless a caller
    // changed the job's times in place (then by looking at each).
    auto it = std::lower_bound(
        list.begin(), list.end(), static_cast<std::uint32_t>(at),
        [this](std::uint32_t a, std::uint32_t b) { return frees_before(running[a], running[b]); });
    if (it == list.end() || *it != at) it = std::find(list.begin(), list.end(), at);
    if (it == list.end()) return;
    if (replacement == kNone) {
      list.erase(it);  // keeps the order
    } else {
      *it = replacement;
    }
  };
  const std::size_t last = running.size() - 1;
  if (running_by_pool.size() == pools.size()) {
    forget(position, kNone);
    if (position != last) forget(last, static_cast<std::uint32_t>(position));
  }
  if (position != last) running[position] = std::move(running[last]);
  running.pop_back();
}

void ClusterState::set_leases(std::vector<Lease> new_leases) {
  leases = std::move(new_leases);
  touch_leases();
}

void ClusterState::touch_leases() {
  leases_revision = next_revision();
}

void ClusterState::touch(std::uint32_t pool) {
  pools[pool].revision = next_revision();
  pools[pool].release_revision = pools[pool].revision;
}

}  // namespace straits::sched
