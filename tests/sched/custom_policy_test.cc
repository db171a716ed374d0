// A queue policy added in one file: "shortest-first" (least remaining work
// first, in arrival order among equals), registered and run through
// Scheduler::plan. (Its own test binary: the registry is process-wide, and
// the docs table test expects only the built-in policies.)
#include <gtest/gtest.h>

#include <algorithm>

#include "sched/queue_policy.h"
#include "sched/scheduler.h"
#include "world.h"

namespace straits::sched {
namespace {

using namespace sched_test;  // NOLINT: the shared world of tests/sched/world.h

void by_remaining_work(const QueueSortContext& context, std::vector<std::size_t>& order) {
  const auto& pending = context.state.pending;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return pending[a].remaining_work < pending[b].remaining_work;
  });
}

QueuePolicy shortest_first() {
  static const QueuePolicy policy = register_queue_policy(QueuePolicyInfo{
      .name = "shortest-first",
      .order_text = "least remaining work first; a job that cannot start blocks those behind it",
      .sort = by_remaining_work,
      .scoring = Scoring::kPreference,
      .blocks = true,
  });
  return policy;
}

TEST(CustomPolicyTest, ARegisteredPolicyOrdersTheQueue) {
  const QueuePolicy policy = shortest_first();
  EXPECT_EQ(parse_queue_policy("shortest-first"), policy);
  EXPECT_EQ(to_string(policy), "shortest-first");
  EXPECT_EQ(queue_policy_names().back(), "shortest-first");
  EXPECT_NE(queue_policy_table().find("| `shortest-first` | least remaining work first"),
            std::string::npos);

  SchedulerOptions options;
  options.policy = policy;
  Scheduler s(world().catalog, world().engine, world().throughput, options);
  ClusterState state = ClusterState::empty_fleet(world().catalog);
  state.set_leases({lease_of("l1", "hanshan-sg", "sg-a-h100", 16, "3.00 USD")});
  // 80, 8, 40 and 20 GPU-hours left; room for one 16-GPU gang or two 8s.
  Job a = job("a", 8, 80), b = job("b", 16, 8), c = job("c", 8, 40), d = job("d", 8, 20);
  state.pending = {{&a, 80}, {&b, 8}, {&c, 40}, {&d, 20}};
  Plan plan = s.plan(state, t0);
  // b (8 left) takes the lease's 16 GPUs; d, c and a wait, d first and the
  // rest behind it (the policy blocks).
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].pending_index, 1u);
  ASSERT_EQ(plan.waiting.size(), 3u);
  EXPECT_EQ(plan.waiting[0].pending_index, 3u);
  EXPECT_EQ(plan.waiting[1].pending_index, 2u);
  EXPECT_EQ(plan.waiting[2].pending_index, 0u);
  EXPECT_EQ(plan.waiting[1].reason, "waiting behind d (FIFO)");

  // Under FIFO the same queue starts a (first in arrival order) and d.
  options.policy = QueuePolicy::kFifo;
  Scheduler fifo(world().catalog, world().engine, world().throughput, options);
  plan = fifo.plan(state, t0);
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].pending_index, 0u);
}

}  // namespace
}  // namespace straits::sched
