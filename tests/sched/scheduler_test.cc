// The scheduler alone, on the sim test catalog (two pools of 2 nodes x 8
// H100): gang fitting, entitlements, reasons, foresight.
#include "sched/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>

#include "catalog/load.h"
#include "world.h"

namespace straits::sched {
namespace {

using namespace sched_test;  // NOLINT: the shared world of tests/sched/world.h

ClusterState leased(int gpus_a, int gpus_b) {
  ClusterState s = ClusterState::empty_fleet(world().catalog);
  if (gpus_a)
    s.add_lease(Lease{LeaseId("la"), OrgId("hanshan-sg"), PoolId("sg-a-h100"), gpus_a, t0,
                      t0 + Duration::days(30), *parse_money("3.00 USD")});
  if (gpus_b)
    s.add_lease(Lease{LeaseId("lb"), OrgId("hanshan-sg"), PoolId("sg-b-h100"), gpus_b, t0,
                      t0 + Duration::days(30), *parse_money("5.00 USD")});
  return s;
}

TEST(SchedulerTest, PacksSmallJobsAndGivesBigOnesWholeNodes) {
  Scheduler s(world().catalog, world().engine, world().throughput, {});
  ClusterState state = leased(16, 0);
  Job a = job("a", 4, 4), b = job("b", 4, 4), c = job("c", 8, 8);
  state.pending = {{&a, 4}, {&b, 4}, {&c, 8}};
  Plan plan = s.plan(state, t0);
  ASSERT_EQ(plan.starts.size(), 3u);
  // a takes node 0; b fits best beside it (node 0 has 4 left); c needs a whole node: 1.
  EXPECT_EQ(plan.starts[0].allocation.nodes, (std::vector<std::pair<int, int>>{{0, 4}}));
  EXPECT_EQ(plan.starts[1].allocation.nodes, (std::vector<std::pair<int, int>>{{0, 4}}));
  EXPECT_EQ(plan.starts[2].allocation.nodes, (std::vector<std::pair<int, int>>{{1, 8}}));
  // 1 h on 4 H100 for 4 reference GPU-hours.
  EXPECT_EQ(plan.starts[0].expected_end, t0 + Duration::hours(1));
  EXPECT_EQ(plan.starts[0].must_leave_by, Instant::max());
}

TEST(SchedulerTest, PrefersTheCheaperLeaseAndTheOrderedSite) {
  Scheduler s(world().catalog, world().engine, world().throughput, {});
  ClusterState state = leased(8, 8);
  Job a = job("a", 8, 8);
  state.pending = {{&a, 8}};
  EXPECT_EQ(s.plan(state, t0).starts[0].allocation.pool, 0u);  // la costs 3.00, lb 5.00
  // A changed job is queued anew (the scheduler caches what it derives from it).
  a.preferences.site_order = {SiteId("sg-jurong-1")};
  state.pending = {{&a, 8}};
  EXPECT_EQ(s.plan(state, t0).starts[0].allocation.pool, 1u);  // the preferred site wins
  a.preferences.site_order.clear();
  a.preferences.max_price_per_gpu_hour = *parse_money("2.00 USD");
  state.pending = {{&a, 8}};
  Plan plan = s.plan(state, t0);
  ASSERT_TRUE(plan.starts.empty());
  EXPECT_NE(plan.waiting[0].reason.find("sg-a-h100 costs 3.00 USD per GPU-hour, over the ceiling"),
            std::string::npos)
      << plan.waiting[0].reason;
  EXPECT_TRUE(plan.waiting[0].never);
}

TEST(SchedulerTest, SaysWhyAJobWaits) {
  Scheduler s(world().catalog, world().engine, world().throughput, {});
  ClusterState state = leased(8, 0);
  Job big = job("big", 16, 16);
  state.pending = {{&big, 16}};
  Plan plan = s.plan(state, t0);
  ASSERT_EQ(plan.waiting.size(), 1u);
  EXPECT_EQ(plan.waiting[0].reason, "the lease on sg-a-h100 gives only 8 GPUs");
  EXPECT_TRUE(plan.waiting[0].never);
  // Busy capacity: a job that fits the lease waits for room, and is not "never".
  state = leased(16, 0);
  Job a = job("a", 8, 8), b = job("b", 16, 16);
  state.pending = {{&a, 8}};
  Plan first = s.plan(state, t0);
  state.allocate(a.org, first.starts[0].allocation);
  state.add_running(RunningJob{&a, first.starts[0].allocation, t0, first.starts[0].expected_end,
                               Instant::max(), 8});
  state.pending = {{&b, 16}};
  Plan second = s.plan(state, t0);
  ASSERT_EQ(second.waiting.size(), 1u);
  EXPECT_EQ(second.waiting[0].reason, "sg-a-h100 has 8 GPUs free for it now, needs 16");
  EXPECT_FALSE(second.waiting[0].never);
  // No lease at all.
  ClusterState none = ClusterState::empty_fleet(world().catalog);
  none.pending = {{&a, 8}};
  Plan nowhere = s.plan(none, t0);
  EXPECT_EQ(nowhere.waiting[0].reason,
            "no pool it may use (no lease or own pool with an eligible chip and site)");
  EXPECT_TRUE(nowhere.waiting[0].never);
}

TEST(SchedulerTest, SeesLeasesChangeBetweenPasses) {
  // The scheduler keeps what the leases give each org while they stay.
  Scheduler s(world().catalog, world().engine, world().throughput, {});
  ClusterState state = leased(8, 0);
  Job big = job("big", 16, 16);
  state.pending = {{&big, 16}};
  EXPECT_TRUE(s.plan(state, t0).starts.empty());
  // Changed (the same number of leases): set_leases says so.
  std::vector<Lease> grown = state.leases();
  grown[0].gpus = 16;
  state.set_leases(grown);
  ASSERT_EQ(s.plan(state, t0).starts.size(), 1u);
  state.set_leases({});
  EXPECT_TRUE(s.plan(state, t0).starts.empty());
  // And a state of its own is never taken for another's.
  ClusterState other = leased(8, 0);
  other.pending = {{&big, 16}};
  EXPECT_TRUE(s.plan(other, t0).starts.empty());
}

TEST(SchedulerTest, ForesightCutsAtTheLeaseEndOnlyJobsThatCanCheckpoint) {
  Scheduler s(world().catalog, world().engine, world().throughput, {});
  ClusterState state = ClusterState::empty_fleet(world().catalog);
  state.add_lease(Lease{LeaseId("la"), OrgId("hanshan-sg"), PoolId("sg-a-h100"), 16, t0,
                        t0 + Duration::hours(1), *parse_money("3.00 USD")});
  Job no_ckpt = job("n", 8, 16);  // 2 h of work, no checkpoints
  Job ckpt = job("c", 8, 16);
  ckpt.checkpoint_interval = Duration::hours(1);
  ckpt.checkpoint_gb = 300;
  state.pending = {{&no_ckpt, 16}, {&ckpt, 16}};
  Plan plan = s.plan(state, t0);
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].pending_index, 1u);
  EXPECT_EQ(plan.starts[0].must_leave_by, t0 + Duration::hours(1));
  EXPECT_EQ(plan.starts[0].cut_reason, "lease la ends");
  EXPECT_EQ(plan.waiting[0].reason,
            "would run past 2026-01-01T01:00:00Z at sg-a-h100 (lease la ends) and cannot "
            "checkpoint before");
  EXPECT_EQ(s.checkpoint_time(ckpt), Duration::seconds(60));  // 300 GB at 5 GB/s
}

TEST(SchedulerTest, PeriodicCheckpointsTakeTimeAndSaveWhatWasDoneBeforeThem) {
  Scheduler s(world().catalog, world().engine, world().throughput, {});
  Job j = job("j", 8, 40);  // 5 h on 8 H100
  j.checkpoint_interval = Duration::hours(2);
  j.checkpoint_gb = 300;  // 60 s at 5 GB/s
  // Checkpoints after 2 h and 4 h of work, none at the end.
  EXPECT_EQ(s.wall_time(j, Duration::hours(5)), Duration::hours(5) + Duration::seconds(120));
  EXPECT_EQ(s.wall_time(j, Duration::hours(4)), Duration::hours(4) + Duration::seconds(60));
  ClusterState state = leased(8, 0);
  state.pending = {{&j, 40}};
  EXPECT_EQ(s.plan(state, t0).starts[0].expected_end,
            t0 + Duration::hours(5) + Duration::seconds(120));
  // 3 h in: 2 h computed, 60 s writing, 59 min more; the 2 h are saved, since 2 h 1 m.
  Scheduler::Progress p = s.progress(j, Duration::hours(3));
  EXPECT_EQ(p.computed, Duration::hours(3) - Duration::seconds(60));
  EXPECT_EQ(p.saved, Duration::hours(2));
  EXPECT_EQ(p.saved_at, Duration::hours(2) + Duration::seconds(60));
  // Without checkpoints everything computed counts, and nothing is saved.
  j.checkpoint_interval = Duration();
  EXPECT_EQ(s.wall_time(j, Duration::hours(5)), Duration::hours(5));
  EXPECT_EQ(s.progress(j, Duration::hours(3)).computed, Duration::hours(3));
  EXPECT_EQ(s.progress(j, Duration::hours(3)).saved, Duration());
}

TEST(QueuePolicyTest, PriorityThenFairShareAcrossOrgsAndTeams) {
  SchedulerOptions options;
  options.policy = QueuePolicy::kPriorityFairShare;
  Scheduler s(world().catalog, world().engine, world().throughput, options);
  ClusterState state = ClusterState::empty_fleet(world().catalog);
  state.set_leases({lease_of("l1", "hanshan-sg", "sg-a-h100", 16, "3.00 USD"),
                    lease_of("l2", "hanshan-hk", "sg-a-h100", 8, "3.00 USD")});
  // hanshan-sg already holds 8 GPUs; hanshan-hk none. One node (8 GPUs) is left.
  Job running = job("r", 8, 80);
  Allocation node0{0, {{0, 8}}};
  state.allocate(running.org, node0);
  state.add_running(RunningJob{&running, node0, t0, t0 + Duration::hours(10), Instant::max(), 80});
  Job sg = job("sg", 8, 8), hk = job("hk", 8, 8);
  hk.org = OrgId("hanshan-hk");
  state.pending = {{&sg, 8}, {&hk, 8}};
  Plan plan = s.plan(state, t0);
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].pending_index, 1u);  // hk: 0 GPUs held, below its share
  // Priority comes before shares.
  sg.priority = 5;
  plan = s.plan(state, t0);
  EXPECT_EQ(plan.starts[0].pending_index, 0u);
}

TEST(QueuePolicyTest, QuotasHoldAcrossAllSites) {
  SchedulerOptions options;
  options.quotas[OrgId("hanshan-sg")] = 12;
  Scheduler s(world().catalog, world().engine, world().throughput, options);
  ClusterState state = ClusterState::empty_fleet(world().catalog);
  state.set_leases({lease_of("l1", "hanshan-sg", "sg-a-h100", 16, "3.00 USD"),
                    lease_of("l2", "hanshan-sg", "sg-b-h100", 16, "5.00 USD")});
  Job a = job("a", 8, 8), b = job("b", 8, 8);
  state.pending = {{&a, 8}, {&b, 8}};
  Plan plan = s.plan(state, t0);
  ASSERT_EQ(plan.starts.size(), 1u);  // 8 + 8 > 12, wherever the second would go
  ASSERT_EQ(plan.waiting.size(), 1u);
  EXPECT_EQ(plan.waiting[0].reason, "org hanshan-sg holds 8 GPUs of its quota of 12");
  EXPECT_FALSE(plan.waiting[0].never);
}

TEST(QueuePolicyTest, LeastAttainedServiceGoesFirst) {
  SchedulerOptions options;
  options.policy = QueuePolicy::kLeastAttained;
  Scheduler s(world().catalog, world().engine, world().throughput, options);
  ClusterState state = ClusterState::empty_fleet(world().catalog);
  state.set_leases({lease_of("l1", "hanshan-sg", "sg-a-h100", 8, "3.00 USD")});
  Job old_job = job("old", 8, 80), fresh = job("fresh", 8, 80);
  // `old` arrived first but has had 50 of its 80 GPU-hours; `fresh` none.
  state.pending = {{&old_job, 30}, {&fresh, 80}};
  Plan plan = s.plan(state, t0);
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].pending_index, 1u);
}

TEST(QueuePolicyTest, ThroughputPicksTheFastChipAndCostTheCheapestRunThatMeetsTheDeadline) {
  ClusterState state = ClusterState::empty_fleet(world().catalog);
  // H100 at 3.00 per GPU-hour or A800 (0.3153x as fast) at 0.50.
  state.set_leases({lease_of("l1", "hanshan-sg", "sg-a-h100", 8, "3.00 USD"),
                    lease_of("l3", "hanshan-sg", "sg-c-a800", 8, "0.50 USD")});
  Job j = job("j", 8, 8);  // 1 h on H100, 3.17 h on A800
  state.pending = {{&j, 8}};
  auto pool_under = [&](QueuePolicy policy) {
    SchedulerOptions options;
    options.policy = policy;
    Scheduler s(world().catalog, world().engine, world().throughput, options);
    Plan plan = s.plan(state, t0);
    return plan.starts.empty() ? std::string("none")
                               : world().catalog.pools()[plan.starts[0].allocation.pool].id.str();
  };
  EXPECT_EQ(pool_under(QueuePolicy::kEasyBackfill), "sg-c-a800");  // cheaper per GPU-hour
  EXPECT_EQ(pool_under(QueuePolicy::kThroughput), "sg-a-h100");    // faster
  // Cost: 8 x 1 h x 3.00 = 24 on H100; 8 x 3.17 h x 0.50 = 12.7 on A800.
  EXPECT_EQ(pool_under(QueuePolicy::kCost), "sg-c-a800");
  j.deadline = t0 + Duration::hours(2);  // the A800 run would end at 3.17 h
  EXPECT_EQ(pool_under(QueuePolicy::kCost), "sg-a-h100");
}

// Starts a running job on the given nodes of a pool, as the simulator does.
// A pass's window of 10 jobs, 50 of one org's queued ahead of another org's
// one: in queue order the other org's job is never reached; shared round
// robin by org, it is (9 of the flood's and it), and it starts on its lease.
TEST(SchedulerTest, AWindowSharedByOrgReachesEveryOrgPastAFlood) {
  std::deque<Job> jobs;
  ClusterState state = leased(16, 0);
  state.add_lease(lease_of("lh", "hanshan-hk", "sg-b-h100", 8, "3.00 USD"));
  for (int i = 0; i < 50; ++i) {
    jobs.push_back(job(("f" + std::to_string(100 + i)).c_str(), 16, 16));
    state.pending.push_back({&jobs.back(), 16});
  }
  Job other = job("other", 8, 8);
  other.org = OrgId("hanshan-hk");
  state.pending.push_back({&other, 8});
  auto reason = [](const Plan& plan, std::size_t index) {
    for (const Waiting& w : plan.waiting) {
      if (w.pending_index == index) return w.reason;
    }
    return std::string("started");
  };
  for (bool shared : {false, true}) {
    SchedulerOptions options;
    options.max_jobs_per_pass = 10;
    options.share_window_by_org = shared;
    Scheduler s(world().catalog, world().engine, world().throughput, options);
    Plan plan = s.plan(state, t0);
    ASSERT_GE(plan.starts.size(), 1u) << shared;
    EXPECT_EQ(plan.starts[0].pending_index, 0u) << shared;  // the flood's first job
    if (!shared) {
      EXPECT_EQ(plan.starts.size(), 1u);
      EXPECT_EQ(reason(plan, 50),
                "not reached in this pass (the scheduler considers the first 10 queued jobs)");
      EXPECT_EQ(reason(plan, 9).find("not reached"), std::string::npos) << reason(plan, 9);
      continue;
    }
    ASSERT_EQ(plan.starts.size(), 2u);
    EXPECT_EQ(plan.starts[1].pending_index, 50u);
    EXPECT_EQ(plan.starts[1].allocation.pool, 1u);
    // The flood's jobs 0..8 were in the window, 9.. were not.
    EXPECT_EQ(reason(plan, 8).find("not reached"), std::string::npos) << reason(plan, 8);
    EXPECT_EQ(reason(plan, 9),
              "not reached in this pass (the scheduler considers 10 queued jobs a pass, "
              "shared round robin by org)");
    // The same again: the window depends on the queue alone.
    Plan again = s.plan(state, t0);
    ASSERT_EQ(again.starts.size(), 2u);
    EXPECT_EQ(again.starts[1].pending_index, 50u);
  }
}

void run_on(ClusterState& state, const Job& j, std::uint32_t pool,
            std::vector<std::pair<int, int>> nodes, Duration left) {
  Allocation a{pool, std::move(nodes)};
  state.allocate(j.org, a);
  state.add_running(RunningJob{&j, a, t0, t0 + left, Instant::max(), j.work});
}

TEST(EasyBackfillTest, EachPoolHoldsItsOwnReservation) {
  // hanshan-sg leases sg-a, hanshan-hk sg-b (16 GPUs each); each has a
  // 16-GPU job waiting for its lease to drain: sg-a at 2 h, sg-b at 3 h.
  Scheduler s(world().catalog, world().engine, world().throughput, {});
  ClusterState state = ClusterState::empty_fleet(world().catalog);
  state.set_leases({lease_of("la", "hanshan-sg", "sg-a-h100", 16, "3.00 USD"),
                    lease_of("lb", "hanshan-hk", "sg-b-h100", 16, "3.00 USD")});
  Job ra = job("ra", 8, 16), rb = job("rb", 8, 24);
  rb.org = OrgId("hanshan-hk");
  run_on(state, ra, 0, {{0, 8}}, Duration::hours(2));
  run_on(state, rb, 1, {{0, 8}}, Duration::hours(3));
  Job big_a = job("big-a", 16, 16), big_b = job("big-b", 16, 16);
  big_b.org = OrgId("hanshan-hk");
  Job long_a = job("long-a", 8, 80), long_b = job("long-b", 8, 80), short_b = job("short-b", 8, 8);
  long_b.org = short_b.org = OrgId("hanshan-hk");
  state.pending = {{&big_a, 16}, {&big_b, 16}, {&long_a, 80}, {&long_b, 80}, {&short_b, 8}};
  Plan plan = s.plan(state, t0);
  // long-b (10 h) would delay big-b's start at 3 h on sg-b: with one
  // reservation for the whole fleet (big-a's) it would have started; short-b
  // (1 h) ends before and may.
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].pending_index, 4u);
  EXPECT_EQ(plan.starts[0].allocation, (Allocation{1, {{1, 8}}}));
  EXPECT_EQ(plan.waiting.size(), 4u);
}

TEST(EasyBackfillTest, ALaterJobMayRunPastTheReservationOnNodesItDoesNotNeed) {
  // sg-a (2 nodes of 8, all leased): 4 GPUs busy on node 0 until 5 h and 4
  // on node 1 until 2 h. The head needs a whole node: node 1, at 2 h.
  Scheduler s(world().catalog, world().engine, world().throughput, {});
  ClusterState state = leased(16, 0);
  Job r0 = job("r0", 4, 20), r1 = job("r1", 4, 8);
  run_on(state, r0, 0, {{0, 4}}, Duration::hours(5));
  run_on(state, r1, 0, {{1, 4}}, Duration::hours(2));
  Job head = job("head", 8, 8), small = job("small", 4, 40);  // small: 10 h
  state.pending = {{&head, 8}, {&small, 40}};
  Plan plan = s.plan(state, t0);
  // small runs past 2 h, but on node 0, which the head does not need then.
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].pending_index, 1u);
  EXPECT_EQ(plan.starts[0].allocation, (Allocation{0, {{0, 4}}}));
  // On node 1 instead, it would have delayed the head: with r0 on node 1
  // and r1 on node 0, small's best fit is node 0 again, which the head
  // needs at 2 h, so it waits.
  ClusterState swapped = leased(16, 0);
  run_on(swapped, r0, 0, {{1, 4}}, Duration::hours(5));
  run_on(swapped, r1, 0, {{0, 4}}, Duration::hours(2));
  swapped.pending = {{&head, 8}, {&small, 40}};
  Plan refused = s.plan(swapped, t0);
  EXPECT_TRUE(refused.starts.empty());
  EXPECT_EQ(refused.waiting.size(), 2u);
}

// What the scheduler remembers between passes (a class found unable to
// start stays so while the pools it lacks GPUs on lack them; reservations
// settled only as far as needed) must never change what it decides. An
// explaining pass remembers none of it: two schedulers, one explaining,
// run in lockstep over random arrivals and completions on leases smaller
// than their pools (room limited by the lease, not the nodes) and an
// owned pool, and must start the same jobs at the same places each pass.
class LockstepTest : public ::testing::TestWithParam<QueuePolicy> {};

TEST_P(LockstepTest, RememberingPassesDecideAsPassesThatRememberNothing) {
  SchedulerOptions options;
  options.policy = GetParam();
  options.max_jobs_per_pass = 0;
  Scheduler fast(world().catalog, world().engine, world().throughput, options);
  Scheduler reference(world().catalog, world().engine, world().throughput, options);
  // Leases end along the way: foresight refuses long jobs ever more often.
  std::vector<Lease> leases = {lease_of("la", "hanshan-sg", "sg-a-h100", 12, "3.00 USD"),
                               lease_of("lb", "hanshan-sg", "sg-b-h100", 16, "5.00 USD"),
                               lease_of("lc", "hanshan-hk", "sg-a-h100", 4, "3.00 USD"),
                               lease_of("ld", "hanshan-hk", "sg-c-a800", 8, "1.00 USD")};
  leases[0].end = t0 + Duration::days(7);
  leases[1].end = t0 + Duration::days(10);
  leases[2].end = t0 + Duration::days(13);
  // Each scheduler keeps hints in the PendingJobs it sees: two states.
  ClusterState states[2] = {ClusterState::empty_fleet(world().catalog),
                            ClusterState::empty_fleet(world().catalog)};
  for (auto& st : states) st.set_leases(leases);
  std::deque<Job> jobs;
  std::uint64_t x = 0x2545F4914F6CDD1Dull + static_cast<std::uint64_t>(GetParam());
  auto next = [&x](std::uint64_t n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x % n;
  };
  const char* orgs[] = {"hanshan-sg", "hanshan-hk", "solo"};
  const int sizes[] = {1, 2, 3, 4, 6, 8, 12, 16};
  Instant now = t0;
  std::size_t started = 0;
  std::size_t longest_queue = 0;
  for (int step = 0; step < 2500; ++step) {
    now += Duration::minutes(static_cast<std::int64_t>(1 + next(20)));
    // A job ends, or jobs arrive.
    if (next(20) < 11 && !states[0].running().empty()) {
      const std::size_t at = next(states[0].running().size());
      for (auto& st : states) {
        st.release(st.running()[at].job->org, st.running()[at].allocation);
        st.remove_running(at);
      }
    } else {
      for (std::uint64_t n = 1 + next(2); n > 0; --n) {
        Job& j = jobs.emplace_back(job("j", sizes[next(8)], 1 + static_cast<double>(next(40))));
        j.id = JobId("j" + std::to_string(jobs.size()));
        j.org = OrgId(orgs[next(3)]);
        j.priority = static_cast<int>(next(3));
        j.submit = now;
        for (auto& st : states) st.pending.push_back(PendingJob{&j, j.work});
      }
    }
    Plan got = fast.plan(states[0], now, /*explain=*/false);
    Plan want = reference.plan(states[1], now, /*explain=*/true);
    ASSERT_EQ(got.starts.size(), want.starts.size())
        << "step " << step << " at " << to_iso8601(now);
    for (std::size_t k = 0; k < got.starts.size(); ++k) {
      ASSERT_EQ(got.starts[k].pending_index, want.starts[k].pending_index) << "step " << step;
      ASSERT_EQ(got.starts[k].allocation, want.starts[k].allocation) << "step " << step;
      ASSERT_EQ(got.starts[k].expected_end, want.starts[k].expected_end) << "step " << step;
    }
    std::vector<std::size_t> never_got, never_want;
    for (const Waiting& w : got.waiting)
      if (w.never) never_got.push_back(w.pending_index);
    for (const Waiting& w : want.waiting)
      if (w.never) never_want.push_back(w.pending_index);
    ASSERT_EQ(never_got, never_want) << "step " << step;
    for (auto& st : states) {
      std::vector<std::size_t> gone = never_got;
      for (const Start& start : got.starts) {
        const Job& j = *st.pending[start.pending_index].job;
        st.allocate(j.org, start.allocation);
        st.add_running(
            RunningJob{&j, start.allocation, now, start.expected_end, start.must_leave_by, j.work});
        gone.push_back(start.pending_index);
      }
      std::sort(gone.rbegin(), gone.rend());
      for (std::size_t i : gone) st.pending.erase(st.pending.begin() + static_cast<long>(i));
    }
    started += got.starts.size();
    longest_queue = std::max(longest_queue, states[0].pending.size());
  }
  // The run was a real one: most jobs started, and queues formed.
  EXPECT_GT(started, 1000u);
  EXPECT_GT(longest_queue, 20u);
}

INSTANTIATE_TEST_SUITE_P(Policies, LockstepTest,
                         ::testing::Values(QueuePolicy::kFifo, QueuePolicy::kEasyBackfill,
                                           QueuePolicy::kPriorityFairShare,
                                           QueuePolicy::kLeastAttained, QueuePolicy::kThroughput,
                                           QueuePolicy::kCost));

TEST(ThroughputTest, ChipsRunAtTheirPeakRelativeToTheReference) {
  const auto& c = world().catalog;
  Job j = job("x", 8, 8);
  // A800 BF16 312 vs H100 989.4: 0.3153x; 8 reference GPU-hours on 8 A800 take 3.171 h.
  EXPECT_NEAR(world().throughput.speed(j, *c.find_chip(ChipId("a800"))), 312 / 989.4, 1e-12);
  EXPECT_EQ(world().throughput.run_time(j, *c.find_chip(ChipId("a800")), 8),
            Duration::seconds(static_cast<std::int64_t>(std::ceil(3600 * 989.4 / 312))));
  auto tuned = ThroughputModel::make(c, ChipId("h100-sxm"), {{ChipId("a800"), 0.5}});
  ASSERT_TRUE(tuned);
  EXPECT_NEAR(tuned->speed(j, *c.find_chip(ChipId("a800"))), 0.5 * 312 / 989.4, 1e-12);
  EXPECT_FALSE(ThroughputModel::make(c, ChipId("nope")));
}

}  // namespace
}  // namespace straits::sched
