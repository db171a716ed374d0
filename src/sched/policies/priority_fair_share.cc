// priority-fair-share: priority first, then the org furthest below its
// share (GPUs held across all sites / weight), then the team holding least.
// The only built-in policy that may preempt (SchedulerOptions::preemption).
#include <algorithm>

#include "sched/policies/builtin.h"
#include "sched/scheduler.h"

namespace straits::sched::policies {
namespace {

void by_priority_then_share(const QueueSortContext& context, std::vector<std::size_t>& order) {
  const auto& shares = context.options.shares;
  auto share = [&](const OrgId& org) {
    auto it = shares.find(org);
    return it == shares.end() ? 1.0 : it->second;
  };
  auto held = [](const auto& map, const auto& key) {
    auto it = map.find(key);
    return it == map.end() ? 0 : it->second;
  };
  const auto& pending = context.state.pending;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const Job& x = *pending[a].job;
    const Job& y = *pending[b].job;
    if (x.priority != y.priority) return x.priority > y.priority;
    double ux = held(context.org_gpus, x.org) / share(x.org),
           uy = held(context.org_gpus, y.org) / share(y.org);
    if (ux != uy) return ux < uy;
    return held(context.team_gpus, std::make_pair(x.org, x.team)) <
           held(context.team_gpus, std::make_pair(y.org, y.team));
  });
}

}  // namespace

QueuePolicyInfo priority_fair_share() {
  QueuePolicyInfo info;
  info.name = "priority-fair-share";
  info.order_text =
      "priority, then the org furthest below its share (GPUs held across all sites / weight), "
      "then the team holding least";
  info.sort = by_priority_then_share;
  info.counts_held = true;
  info.can_preempt = true;
  return info;
}

}  // namespace straits::sched::policies
