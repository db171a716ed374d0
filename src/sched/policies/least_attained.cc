// least-attained: least attained service first (Tiresias): the work a job
// has done so far, so no knowledge of durations is needed.
#include <algorithm>

#include "sched/policies/builtin.h"
#include "sched/scheduler.h"

namespace straits::sched::policies {
namespace {

void by_attained_service(const QueueSortContext& context, std::vector<std::size_t>& order) {
  const auto& pending = context.state.pending;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const PendingJob& x = pending[a];
    const PendingJob& y = pending[b];
    return x.job->work - x.remaining_work < y.job->work - y.remaining_work;
  });
}

}  // namespace

QueuePolicyInfo least_attained() {
  QueuePolicyInfo info;
  info.name = "least-attained";
  info.order_text =
      "least attained service first (work done so far), Tiresias-style: no duration needed";
  info.sort = by_attained_service;
  return info;
}

}  // namespace straits::sched::policies
