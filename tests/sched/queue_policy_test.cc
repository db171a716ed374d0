// The queue policy registry: the names scenarios use, the docs table made
// from it, and scoring chosen apart from the queue order.
#include "sched/queue_policy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "sched/scheduler.h"
#include "world.h"

namespace straits::sched {
namespace {

using namespace sched_test;  // NOLINT: the shared world of tests/sched/world.h

TEST(QueuePolicyRegistryTest, NamesParseBackToTheirPolicies) {
  const auto names = queue_policy_names();
  ASSERT_EQ(names.size(), 6u);
  for (const std::string& name : names) {
    auto policy = parse_queue_policy(name);
    ASSERT_TRUE(policy) << name;
    EXPECT_EQ(to_string(*policy), name);
    EXPECT_EQ(queue_policy_info(*policy).name, name);
  }
  EXPECT_EQ(parse_queue_policy("easy"), QueuePolicy::kEasyBackfill);
  EXPECT_EQ(to_string(QueuePolicy::kPriorityFairShare), "priority-fair-share");
  EXPECT_FALSE(parse_queue_policy("shortest-first"));
  EXPECT_EQ(parse_scoring("throughput"), Scoring::kThroughput);
  EXPECT_FALSE(parse_scoring("fastest"));
}

// docs/scenarios.md's table of queue policies is the registry's (what
// `straits sim policies` prints): adding a policy without its docs fails here.
TEST(QueuePolicyRegistryTest, TheDocsTableIsTheGeneratedOne) {
  std::ifstream in(std::filesystem::path(STRAITS_SOURCE_DIR) / "docs" / "scenarios.md");
  ASSERT_TRUE(in) << "docs/scenarios.md";
  std::string line, table;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("| policy | order jobs are tried in |", 0) == 0) inside = true;
    if (inside && line.rfind("|", 0) != 0) break;
    if (inside) table += line + "\n";
  }
  EXPECT_EQ(table, queue_policy_table());
  for (const std::string& name : queue_policy_names()) {
    EXPECT_NE(table.find("| `" + name + "` |"), std::string::npos) << name;
  }
}

// EASY's reservation with throughput scoring: a job that would delay the
// reserved gang keeps off its pool even though the chip there is faster,
// and a short one that ends before the reserved start takes the fast chip
// (preference scoring would send it to the cheaper, slower one).
TEST(QueuePolicyRegistryTest, EasyWithThroughputScoringKeepsTheReservationOnTheFastestChip) {
  ClusterState state = ClusterState::empty_fleet(world().catalog);
  state.set_leases({lease_of("l1", "hanshan-sg", "sg-a-h100", 16, "3.00 USD"),
                    lease_of("l3", "hanshan-sg", "sg-c-a800", 8, "0.50 USD")});
  // One of sg-a-h100's two nodes is busy for 10 h: the 16-GPU gang waits for it.
  Job running = job("r", 8, 80);
  const Allocation node0{0, {{0, 8}}};
  state.allocate(running.org, node0);
  state.add_running(RunningJob{&running, node0, t0, t0 + Duration::hours(10), Instant::max(), 80});
  Job big = job("big", 16, 16), shorter = job("short", 8, 8), longer = job("long", 8, 800);
  state.pending = {{&big, 16}, {&shorter, 8}, {&longer, 800}};
  auto pools_under = [&](QueuePolicy policy, std::optional<Scoring> scoring) {
    SchedulerOptions options;
    options.policy = policy;
    options.scoring = scoring;
    Scheduler s(world().catalog, world().engine, world().throughput, options);
    std::map<std::string, std::string> where;
    for (const Start& start : s.plan(state, t0).starts) {
      where[state.pending[start.pending_index].job->id.str()] =
          world().catalog.pools()[start.allocation.pool].id.str();
    }
    return where;
  };
  using Where = std::map<std::string, std::string>;
  // EASY with throughput scoring: the short job on H100 (ends at 1 h, before
  // the reserved start at 10 h), the long one on the A800 left.
  EXPECT_EQ(pools_under(QueuePolicy::kEasyBackfill, Scoring::kThroughput),
            (Where{{"short", "sg-a-h100"}, {"long", "sg-c-a800"}}));
  // EASY as it was: the short job on the cheaper A800; the long one waits
  // rather than delay the gang.
  EXPECT_EQ(pools_under(QueuePolicy::kEasyBackfill, std::nullopt), (Where{{"short", "sg-c-a800"}}));
  // Throughput without reservations: the gang is jumped, the long job takes H100.
  state.pending = {{&big, 16}, {&longer, 800}};
  EXPECT_EQ(pools_under(QueuePolicy::kThroughput, std::nullopt), (Where{{"long", "sg-a-h100"}}));
  EXPECT_EQ(pools_under(QueuePolicy::kEasyBackfill, Scoring::kThroughput),
            (Where{{"long", "sg-c-a800"}}));
}

}  // namespace
}  // namespace straits::sched
