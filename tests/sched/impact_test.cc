// The impact of a proposed rule set on a small real fleet: the shipped
// catalog under the default pack, and as the proposal the default pack with
// the close-remote-access scenario laid over it (its date moved to
// 2026-12-20, a Sunday), or the default pack over a copy without its China
// data rules (the dataset case).
#include "sched/impact.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "catalog/load.h"

namespace straits::sched {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

const fs::path kSource(STRAITS_SOURCE_DIR);
const Instant kNow = Instant::from_date(2026, 12, 7);     // a Monday
const Instant kClose = Instant::from_date(2026, 12, 20);  // a Sunday

struct Fleet {
  catalog::Catalog catalog = *catalog::load_catalog(kSource / "catalog");
  policy::Engine in_force = *policy::Engine::load(catalog, {kSource / "rules" / "default"});
  policy::Engine closing = *policy::Engine::load(
      catalog,
      {kSource / "rules" / "default", kSource / "rules" / "scenarios" / "close-remote-access"},
      {{"close_from", "2026-12-20"}});
  std::vector<Job> jobs;
  ClusterState state = ClusterState::empty_fleet(catalog);

  Fleet() { jobs.reserve(16); }

  std::uint32_t pool(const char* id) const {
    for (std::uint32_t p = 0; p < catalog.pools().size(); ++p) {
      if (catalog.pools()[p].id.str() == id) return p;
    }
    ADD_FAILURE() << "no pool " << id;
    return 0;
  }
  Job& job(const char* id, const char* org, int gpus, std::vector<ChipId> chips) {
    Job& j = jobs.emplace_back();
    j.id = JobId(id);
    j.org = OrgId(org);
    j.gpus = gpus;
    j.work = 1000;
    j.eligible_chips = std::move(chips);
    j.submit = kNow - Duration::days(1);
    return j;
  }
  void run(const Job& j, const char* at, Instant expected_end) {
    Allocation a{pool(at), {{0, j.gpus}}};
    state.allocate(j.org, a);
    state.add_running({&j, a, kNow - Duration::hours(5), expected_end, Instant::max(), j.work});
  }
  void queue(const Job& j) { state.pending.push_back({&j, j.work}); }
  void lease(const char* id, const char* org, const char* at, int gpus, Instant end) {
    state.add_lease({LeaseId(id), OrgId(org), PoolId(at), gpus, kNow - Duration::days(10), end,
                     *parse_money("4.0000 USD")});
  }
};

// hanshan-sg (Singapore, parent in China) leases H100 and H200 in Singapore;
// bellhollow (US) leases H100 beside it.
Fleet& closing_fleet() {
  static Fleet* f = [] {
    auto* fleet = new Fleet;
    fleet->lease("l-1", "hanshan-sg", "sg-tuas-1-h100", 16, Instant::from_date(2026, 12, 30));
    fleet->lease("l-2", "hanshan-sg", "sg-jurong-1-h200", 8, Instant::from_date(2027, 2, 1));
    fleet->lease("l-3", "hanshan-sg", "my-sedenak-1-h200", 8, Instant::from_date(2026, 12, 18));
    fleet->lease("l-4", "bellhollow", "sg-tuas-1-h100", 8, Instant::from_date(2027, 2, 1));
    // Runs on its lease in Singapore; may use H100 or its group's own H800.
    Job& moving = fleet->job("j-1", "hanshan-sg", 8, {ChipId("h100-sxm"), ChipId("h800")});
    moving.checkpoint_gb = 600;  // 120 s at 5 GB/s
    fleet->run(moving, "sg-tuas-1-h100", Instant::from_date(2026, 12, 23));
    // Ends before the rule bites.
    fleet->run(fleet->job("j-2", "hanshan-sg", 8, {ChipId("h200")}), "sg-jurong-1-h200",
               Instant::from_date(2026, 12, 15));
    fleet->run(fleet->job("j-3", "bellhollow", 8, {}), "sg-tuas-1-h100",
               Instant::from_date(2027, 1, 10));
    fleet->queue(fleet->job("j-4", "hanshan-sg", 8, {ChipId("h100-sxm")}));
    fleet->queue(fleet->job("j-5", "hanshan-sg", 8, {ChipId("h100-sxm"), ChipId("h800")}));
    fleet->queue(fleet->job("j-6", "bellhollow", 8, {ChipId("h100-sxm")}));
    return fleet;
  }();
  return *f;
}

TEST(RuleChangeImpact, LeasesOfTheChinaParentedOrgAreDeniedFromTheDate) {
  Fleet& f = closing_fleet();
  const Impact impact = rule_change_impact(f.state, f.in_force, f.closing, kNow);
  EXPECT_EQ(impact.from, kNow);
  ASSERT_EQ(impact.leases.size(), 2u);  // l-3 ends before; bellhollow's l-4 is not hit
  EXPECT_EQ(impact.leases[0].lease, LeaseId("l-1"));
  EXPECT_EQ(impact.leases[1].lease, LeaseId("l-2"));
  for (const LeaseHit& l : impact.leases) {
    EXPECT_EQ(l.org, OrgId("hanshan-sg"));
    EXPECT_EQ(l.bite.at, kClose);
    EXPECT_EQ(l.bite.outcome, policy::Outcome::kDeny);
    EXPECT_EQ(l.bite.rule, RuleId("scenario.close-remote-access.lease-run"));
    EXPECT_THAT(l.bite.reason, ::testing::HasSubstr("forbids"));
  }
}

TEST(RuleChangeImpact, TheRunningJobMovesToItsGroupsOwnPool) {
  Fleet& f = closing_fleet();
  const Impact impact = rule_change_impact(f.state, f.in_force, f.closing, kNow);
  ASSERT_EQ(impact.running.size(), 1u);  // j-2 ends before the date, j-3 is bellhollow's
  const RunningHit& r = impact.running[0];
  EXPECT_EQ(r.job, JobId("j-1"));
  EXPECT_EQ(r.pool, PoolId("sg-tuas-1-h100"));
  EXPECT_EQ(r.bite.at, kClose);
  EXPECT_EQ(r.checkpoint_by, kClose - Duration::seconds(120));
  // Not the other H100 pools (leased or not, the proposal forbids them), but
  // the group's own H800 in Ulanqab.
  EXPECT_THAT(r.could_go, ElementsAre(PoolId("cn-ulanqab-1-h800")));
}

TEST(RuleChangeImpact, AFullPoolIsNowhereToGo) {
  Fleet f;
  f.lease("l-1", "hanshan-sg", "sg-tuas-1-h100", 16, Instant::from_date(2027, 2, 1));
  Job& moving = f.job("j-1", "hanshan-sg", 8, {ChipId("h100-sxm"), ChipId("h800")});
  f.run(moving, "sg-tuas-1-h100", Instant::from_date(2027, 1, 10));
  // The group's H800s (32 nodes of 8) hold one GPU of hanshan's on each node.
  Job& small = f.job("j-2", "hanshan", 1, {ChipId("h800")});
  for (std::int32_t node = 0; node < 32; ++node) {
    Allocation a{f.pool("cn-ulanqab-1-h800"), {{node, 1}}};
    f.state.allocate(small.org, a);
    f.state.add_running(
        {&small, a, kNow, Instant::from_date(2027, 1, 10), Instant::max(), small.work});
  }
  const Impact impact = rule_change_impact(f.state, f.in_force, f.closing, kNow);
  ASSERT_EQ(impact.running.size(), 1u);
  EXPECT_EQ(impact.running[0].job, JobId("j-1"));
  // 224 GPUs are free there, but no node has 8.
  EXPECT_TRUE(impact.running[0].could_go.empty());
}

TEST(RuleChangeImpact, AQueuedJobEligibleOnlyOnH100HasNowhereToRun) {
  Fleet& f = closing_fleet();
  const Impact impact = rule_change_impact(f.state, f.in_force, f.closing, kNow);
  // j-5 may use its group's H800; bellhollow's j-6 is not concerned.
  ASSERT_EQ(impact.queued.size(), 1u);
  EXPECT_EQ(impact.queued[0].job, JobId("j-4"));
  EXPECT_EQ(impact.queued[0].nowhere_from, kClose);
  EXPECT_EQ(impact.queued[0].rule, RuleId("scenario.close-remote-access.lease-run"));
  ASSERT_EQ(impact.orgs.size(), 1u);
  EXPECT_EQ(impact.orgs[0].org, OrgId("hanshan-sg"));
  EXPECT_EQ(impact.orgs[0].leases, 2u);
  EXPECT_EQ(impact.orgs[0].running, 1u);
  EXPECT_EQ(impact.orgs[0].queued, 1u);
}

TEST(RuleChangeImpact, AdoptingAfterTheDateCountsFromAdoption) {
  Fleet& f = closing_fleet();
  const Instant later = Instant::from_date(2026, 12, 22);
  const Impact impact = rule_change_impact(f.state, f.in_force, f.closing, later);
  ASSERT_EQ(impact.leases.size(), 2u);
  EXPECT_EQ(impact.leases[0].bite.at, later);
  ASSERT_EQ(impact.running.size(), 1u);
  EXPECT_EQ(impact.running[0].bite.at, later);
}

TEST(RuleChangeImpact, TheSameRulesHitNothing) {
  Fleet& f = closing_fleet();
  const Impact impact = rule_change_impact(f.state, f.closing, f.closing, kNow);
  EXPECT_TRUE(impact.leases.empty());
  EXPECT_TRUE(impact.running.empty());
  EXPECT_TRUE(impact.queued.empty());
  EXPECT_TRUE(impact.orgs.empty());
  EXPECT_TRUE(impact.weeks.empty());
}

// By hand: l-1 (16 GPUs) from Sun 2026-12-20 to Wed 2026-12-30, j-1 (8 GPUs)
// from 12-20 to Wed 12-23, l-2 (8 GPUs) from 12-20 to 2027-02-01; the pools'
// list prices: sg-tuas-1-h100 4.2008 USD, sg-jurong-1-h200 4.5753 USD.
TEST(RuleChangeImpact, GpuHoursAndMoneyPerWeekAddUp) {
  Fleet& f = closing_fleet();
  const Impact impact = rule_change_impact(f.state, f.in_force, f.closing, kNow);
  ASSERT_GE(impact.weeks.size(), 3u);
  const WeekAtRisk& first = impact.weeks[0];
  EXPECT_EQ(first.week, Instant::from_date(2026, 12, 14));
  EXPECT_EQ(iso_week_name(first.week), "2026-W51");
  EXPECT_DOUBLE_EQ(first.lease_gpu_hours, 16 * 24 + 8 * 24);
  EXPECT_DOUBLE_EQ(first.job_gpu_hours, 8 * 24);
  ASSERT_EQ(first.lease_money.size(), 1u);
  EXPECT_NEAR(first.lease_money[0].units(), 16 * 24 * 4.2008 + 8 * 24 * 4.5753, 1e-4);
  ASSERT_EQ(first.job_money.size(), 1u);
  EXPECT_NEAR(first.job_money[0].units(), 8 * 24 * 4.2008, 1e-4);
  const WeekAtRisk& second = impact.weeks[1];
  EXPECT_EQ(second.week, Instant::from_date(2026, 12, 21));
  EXPECT_DOUBLE_EQ(second.lease_gpu_hours, 16 * 168 + 8 * 168);
  EXPECT_DOUBLE_EQ(second.job_gpu_hours, 8 * 48);
  const WeekAtRisk& third = impact.weeks[2];
  EXPECT_EQ(iso_week_name(third.week), "2026-W53");
  EXPECT_DOUBLE_EQ(third.lease_gpu_hours, 16 * 48 + 8 * 168);
  EXPECT_DOUBLE_EQ(third.job_gpu_hours, 0);
  double lease_hours = 0;
  for (const WeekAtRisk& w : impact.weeks) lease_hours += w.lease_gpu_hours;
  const double days_l2 = (Instant::from_date(2027, 2, 1) - kClose).to_hours() / 24;
  EXPECT_DOUBLE_EQ(lease_hours, 16 * 24 * 10 + 8 * 24 * days_l2);
  EXPECT_EQ(iso_week_name(impact.weeks.back().week), "2027-W04");
}

TEST(RuleChangeImpact, IsoWeeks) {
  EXPECT_EQ(iso_week_start(Instant::from_date(2027, 1, 3) + Duration::hours(23)),
            Instant::from_date(2026, 12, 28));
  EXPECT_EQ(iso_week_name(Instant::from_date(2026, 12, 28)), "2026-W53");
  EXPECT_EQ(iso_week_name(Instant::from_date(2027, 1, 4)), "2027-W01");
  EXPECT_EQ(iso_week_name(Instant::from_date(2024, 12, 30)), "2025-W01");
  EXPECT_EQ(iso_week_start(Instant::from_date(1969, 12, 31)), Instant::from_date(1969, 12, 29));
}

// The China data rules as the proposal: the default pack against a copy of
// it without them. hanshan-sg's job on its own dialogue data in Singapore
// then needs the CAC export route, which no licence gives it.
TEST(RuleChangeImpact, ADatasetNeedsAnApprovalTheOrgDoesNotHold) {
  const fs::path dir = fs::path(::testing::TempDir()) / "impact-without-cn-data";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(kSource / "rules" / "default")) {
    if (e.path().filename() != "cn-data.rules") fs::copy_file(e.path(), dir / e.path().filename());
  }
  Fleet f;
  auto without = policy::Engine::load(f.catalog, {dir});
  ASSERT_TRUE(without.has_value()) << without.error().message();
  f.lease("l-1", "hanshan-sg", "sg-tuas-1-h100", 16, Instant::from_date(2027, 2, 1));
  Job& running = f.job("j-1", "hanshan-sg", 8, {ChipId("h100-sxm")});
  running.datasets = {DatasetId("hanshan-user-dialogues"), DatasetId("bellhollow-web-crawl-2025")};
  f.run(running, "sg-tuas-1-h100", Instant::from_date(2026, 12, 23));
  Job& queued = f.job("j-2", "hanshan-sg", 8, {ChipId("h100-sxm")});
  queued.datasets = {DatasetId("hanshan-user-dialogues")};
  f.queue(queued);
  const Impact impact = rule_change_impact(f.state, *without, f.in_force, kNow);
  ASSERT_EQ(impact.datasets.size(), 1u);
  const DatasetHit& d = impact.datasets[0];
  EXPECT_EQ(d.dataset, DatasetId("hanshan-user-dialogues"));
  EXPECT_EQ(d.org, OrgId("hanshan-sg"));
  EXPECT_EQ(d.licence, "CN-CAC-PI-EXPORT");
  EXPECT_EQ(d.rule, RuleId("cn.pipl.nov2021.personal-export"));
  EXPECT_EQ(d.from, kNow);
  EXPECT_THAT(d.pools, ElementsAre(PoolId("sg-tuas-1-h100")));
  EXPECT_THAT(d.jobs, ElementsAre(JobId("j-1"), JobId("j-2")));
  // The run itself needs the licence from now: the job must leave at once.
  ASSERT_EQ(impact.running.size(), 1u);
  EXPECT_EQ(impact.running[0].bite.outcome, policy::Outcome::kLicenceRequired);
  EXPECT_EQ(impact.running[0].bite.at, kNow);
  ASSERT_EQ(impact.orgs.size(), 1u);
  EXPECT_EQ(impact.orgs[0].datasets, 1u);
}

}  // namespace
}  // namespace straits::sched
