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
  return node >= 0 && static_cast<std::size_t>(node) < pool.free().size();
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
    p.free_.assign(static_cast<std::size_t>(pools[i].nodes), pools[i].gpus_per_node);
    p.free_total_ = pools[i].gpus();
    p.price = pools[i].price_per_gpu_hour;
    p.revision_ = next_revision();
    p.release_revision_ = p.revision_;
    state.pools_.push_back(std::move(p));
  }
  state.usage_.assign(catalog.orgs().size() * pools.size(), 0);
  state.leases_revision_ = next_revision();
  state.running_by_pool_.resize(pools.size());
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

void ClusterState::allocate(const OrgId& org, const Allocation& allocation) {
  allocate(org_slot(org), allocation);
}

void ClusterState::release(const OrgId& org, const Allocation& allocation) {
  release(org_slot(org), allocation);
}

void ClusterState::allocate(std::uint32_t slot, const Allocation& allocation) {
  PoolState& p = pools_[allocation.pool];
  std::int32_t total = 0;
  for (const auto& [node, gpus] : allocation.nodes) {
    if (!has_node(p, node)) continue;  // never written past the pool (see the header)
    p.free_[static_cast<std::size_t>(node)] -= gpus;
    total += gpus;
  }
  p.free_total_ -= total;
  p.revision_ = next_revision();
  if (std::size_t i = usage_index(slot, allocation.pool); i < usage_.size()) usage_[i] += total;
}

void ClusterState::release(std::uint32_t slot, const Allocation& allocation) {
  PoolState& p = pools_[allocation.pool];
  std::int32_t total = 0;
  for (const auto& [node, gpus] : allocation.nodes) {
    if (!has_node(p, node)) continue;  // never written past the pool (see the header)
    p.free_[static_cast<std::size_t>(node)] += gpus;
    total += gpus;
  }
  p.free_total_ += total;
  p.revision_ = next_revision();
  p.release_revision_ = p.revision_;
  if (std::size_t i = usage_index(slot, allocation.pool); i < usage_.size()) usage_[i] -= total;
}

std::size_t ClusterState::add_running(RunningJob job) {
  const std::uint32_t pool = job.allocation.pool;
  if (running_by_pool_.size() < pools_.size()) running_by_pool_.resize(pools_.size());
  const auto position = static_cast<std::uint32_t>(running_.size());
  if (catalog == nullptr || job.org_slot >= catalog->orgs().size() ||
      catalog->orgs()[job.org_slot].id != job.job->org) {
    job.org_slot = org_slot(job.job->org);
  }
  running_.push_back(std::move(job));
  auto& list = running_by_pool_[pool];
  list.insert(std::upper_bound(list.begin(), list.end(), position,
                               [this](std::uint32_t a, std::uint32_t b) {
                                 return frees_before(running_[a], running_[b]);
                               }),
              position);
  return position;
}

void ClusterState::remove_running(std::size_t position) {
  auto forget = [this](std::size_t at, std::uint32_t replacement) {
    auto& list = running_by_pool_[running_[at].allocation.pool];
    // The list is in frees_before order: found by halving (by looking at
    // each as a safeguard, though no caller can change a job in place now).
    auto it = std::lower_bound(list.begin(), list.end(), static_cast<std::uint32_t>(at),
                               [this](std::uint32_t a, std::uint32_t b) {
                                 return frees_before(running_[a], running_[b]);
                               });
    if (it == list.end() || *it != at) it = std::find(list.begin(), list.end(), at);
    if (it == list.end()) return;
    if (replacement == kNone) {
      list.erase(it);  // keeps the order
    } else {
      *it = replacement;
    }
  };
  const std::size_t last = running_.size() - 1;
  if (running_by_pool_.size() == pools_.size()) {
    forget(position, kNone);
    if (position != last) forget(last, static_cast<std::uint32_t>(position));
  }
  if (position != last) running_[position] = std::move(running_[last]);
  running_.pop_back();
}

void ClusterState::set_leases(std::vector<Lease> new_leases) {
  leases_ = std::move(new_leases);
  touch_leases();
}

void ClusterState::touch_leases() {
  leases_revision_ = next_revision();
}

void ClusterState::touch(std::uint32_t pool) {
  pools_[pool].revision_ = next_revision();
  pools_[pool].release_revision_ = pools_[pool].revision_;
}

void ClusterState::add_lease(Lease lease) {
  leases_.push_back(std::move(lease));
  touch_leases();
}

void ClusterState::set_price(std::uint32_t pool, Money price) {
  pools_[pool].price = price;
}

void ClusterState::set_free(std::uint32_t pool, std::size_t node, std::int32_t gpus) {
  PoolState& p = pools_[pool];
  p.free_total_ += gpus - p.free_[node];
  p.free_[node] = gpus;
  touch(pool);
}

void ClusterState::set_all_free(std::uint32_t pool, std::int32_t gpus) {
  PoolState& p = pools_[pool];
  std::fill(p.free_.begin(), p.free_.end(), gpus);
  p.free_total_ = gpus * static_cast<std::int32_t>(p.free_.size());
  touch(pool);
}

}  // namespace straits::sched
