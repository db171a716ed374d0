// Placement at scale (issue 4): 32,000 pending jobs of 1 to 8 GPUs from 50
// orgs, on 1,000 nodes of 8 GPUs in 20 pools, placed in one planning pass
// until the fleet is full, with a policy decision for every (job, pool) pair
// considered (lease and run, over the default pack). Armada's in-memory
// scheduler is reported at about 0.6 s for 32,000 jobs on 1,000 nodes.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>

#include "catalog/load.h"
#include "sched/scheduler.h"

namespace straits::sched {
namespace {

namespace fs = std::filesystem;

struct Fleet {
  catalog::Catalog catalog;
  std::optional<policy::Engine> engine;
  std::optional<ThroughputModel> throughput;
  std::vector<Job> jobs;
  ClusterState state;
};

// The shipped catalog's countries, groups and chips, with a synthetic fleet:
// 20 pools of 50 nodes x 8 GPUs at 5 sites in SG, MY, JP, US and CN, and 50
// orgs (one in five with a China-headquartered parent), each leasing 80 GPUs
// on two pools.
Fleet& fleet() {
  static Fleet* f = [] {
    auto* out = new Fleet;
    auto shipped = *catalog::load_catalog(fs::path(STRAITS_SOURCE_DIR) / "catalog");
    catalog::CatalogBuilder b;
    for (const auto& c : shipped.countries()) b.add(c);
    for (const auto& g : shipped.groups()) b.add(g);
    for (const auto& c : shipped.chips()) b.add(c);
    const char* countries[] = {"SG", "MY", "JP", "US", "CN"};
    const char* chips[] = {"h100-sxm", "h200", "h100-sxm", "b200", "h800"};
    for (int s = 0; s < 5; ++s) {
      b.add(catalog::Operator{
          OperatorId("op-" + std::to_string(s)), "Operator", CountryCode(countries[s]), {}, ""});
      b.add(catalog::Site{SiteId("site-" + std::to_string(s)), "Site",
                          OperatorId("op-" + std::to_string(s)), CountryCode(countries[s]), "City",
                          false, ""});
    }
    for (int p = 0; p < 20; ++p) {
      catalog::Pool pool;
      pool.id = PoolId("pool-" + std::to_string(p));
      pool.site = SiteId("site-" + std::to_string(p % 5));
      pool.chip = ChipId(chips[p % 5]);
      pool.nodes = 50;
      pool.gpus_per_node = 8;
      pool.interconnect = "IB";
      pool.price_per_gpu_hour = *parse_money("4.00 USD");
      b.add(pool);
    }
    b.add(catalog::Org{OrgId("group-cn"), "Group", CountryCode("CN"), {}, ""});
    for (int o = 0; o < 50; ++o) {
      std::optional<OrgId> parent;
      if (o % 5 == 0) parent = OrgId("group-cn");
      b.add(catalog::Org{OrgId("org-" + std::to_string(o)), "Org", CountryCode("SG"), parent, ""});
    }
    out->catalog = b.build();
    out->engine =
        *policy::Engine::load(out->catalog, {fs::path(STRAITS_SOURCE_DIR) / "rules" / "default"});
    out->throughput = *ThroughputModel::make(out->catalog, ChipId("h100-sxm"));
    out->state = ClusterState::empty_fleet(out->catalog);
    const Instant t0 = Instant::from_date(2026, 11, 28);
    for (int o = 0; o < 50; ++o) {
      for (int k = 0; k < 2; ++k) {
        int p = (o * 2 + k) % 20;
        out->state.leases.push_back(
            Lease{LeaseId("l-" + std::to_string(o) + "-" + std::to_string(k)),
                  OrgId("org-" + std::to_string(o)), PoolId("pool-" + std::to_string(p)), 80,
                  t0 - Duration::days(30), t0 + Duration::days(90), *parse_money("3.50 USD")});
      }
    }
    std::uint64_t x = 42;
    auto next = [&x] {  // splitmix64: deterministic sizes
      x += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      return z ^ (z >> 31);
    };
    out->jobs.resize(32000);
    for (std::size_t i = 0; i < out->jobs.size(); ++i) {
      Job& j = out->jobs[i];
      j.id = JobId("job-" + std::to_string(i));
      j.org = OrgId("org-" + std::to_string(next() % 50));
      j.gpus = 1 << (next() % 4);
      j.work = j.gpus * (1.0 + static_cast<double>(next() % 100) / 10);
      j.submit = t0;
      j.checkpoint_interval = Duration::hours(2);
      j.checkpoint_gb = 2.0 * j.gpus;
    }
    for (const Job& j : out->jobs) out->state.pending.push_back(PendingJob{&j, j.work});
    return out;
  }();
  return *f;
}

void BM_PlaceFleetInOnePass(benchmark::State& state) {
  Fleet& f = fleet();
  const Instant now = Instant::from_date(2026, 11, 28);
  std::size_t started = 0;
  for (auto _ : state) {
    // A fresh scheduler each time: its decision cache starts cold, as in one real pass.
    // One pass over the whole queue (no max_jobs_per_pass), until the fleet is full.
    SchedulerOptions options;
    options.max_jobs_per_pass = 0;
    Scheduler s(f.catalog, *f.engine, *f.throughput, options);
    Plan plan = s.plan(f.state, now, state.range(0) != 0);
    started = plan.starts.size();
    benchmark::DoNotOptimize(plan);
  }
  state.counters["jobs_started"] = static_cast<double>(started);
  state.counters["jobs_pending"] = 32000;
}
BENCHMARK(BM_PlaceFleetInOnePass)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("explain")
    ->Unit(benchmark::kMillisecond);

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

ServerFleet& server_fleet() {
  static ServerFleet* f = [] {
    auto* out = new ServerFleet;
    auto shipped = *catalog::load_catalog(fs::path(STRAITS_SOURCE_DIR) / "catalog");
    catalog::CatalogBuilder b;
    for (const auto& c : shipped.countries()) b.add(c);
    for (const auto& g : shipped.groups()) b.add(g);
    for (const auto& c : shipped.chips()) b.add(c);
    const char* countries[] = {"SG", "MY", "JP", "US", "CN", "DE", "IN", "AE"};
    const std::vector<const char*> chips_abroad = {"h100-sxm", "h200", "b200", "mi300x",
                                                   "a100-sxm"};
    const std::vector<const char*> chips_cn = {"h800", "h20", "a800", "ascend-910b"};
    constexpr int kSites = 50, kPools = 1000, kOrgs = 20, kJobs = 10000;
    for (int s = 0; s < kSites; ++s) {
      const char* country = countries[s % 8];
      b.add(catalog::Operator{
          OperatorId("op-" + std::to_string(s)), "Operator", CountryCode(country), {}, ""});
      b.add(catalog::Site{SiteId("site-" + std::to_string(s)), "Site",
                          OperatorId("op-" + std::to_string(s)), CountryCode(country), "City",
                          false, ""});
    }
    for (int p = 0; p < kPools; ++p) {
      const int site = p % kSites;
      const auto& chips = std::string_view(countries[site % 8]) == "CN" ? chips_cn : chips_abroad;
      catalog::Pool pool;
      pool.id = PoolId("pool-" + std::to_string(p));
      pool.site = SiteId("site-" + std::to_string(site));
      pool.chip = ChipId(chips[static_cast<std::size_t>(p / kSites) % chips.size()]);
      pool.nodes = 8;
      pool.gpus_per_node = 8;
      pool.interconnect = "IB";
      pool.price_per_gpu_hour = *parse_money(p % 2 == 0 ? "4.00 USD" : "3.20 USD");
      if (p % 4 == 3) pool.owner = OrgId("org-" + std::to_string((p / 4) % kOrgs));
      b.add(pool);
    }
    b.add(catalog::Org{OrgId("group-cn"), "Group", CountryCode("CN"), {}, ""});
    const char* org_hq[] = {"SG", "US", "JP", "SG", "SG"};
    for (int o = 0; o < kOrgs; ++o) {
      std::optional<OrgId> parent;
      if (o % 5 == 0) parent = OrgId("group-cn");
      b.add(catalog::Org{OrgId("org-" + std::to_string(o)), "Org", CountryCode(org_hq[o % 5]),
                         parent, ""});
    }
    out->catalog = b.build();
    out->engine =
        *policy::Engine::load(out->catalog, {fs::path(STRAITS_SOURCE_DIR) / "rules" / "default"});
    out->throughput = *ThroughputModel::make(out->catalog, ChipId("h100-sxm"));
    out->state = ClusterState::empty_fleet(out->catalog);
    const Instant t0 = Instant::from_date(2026, 11, 28);
    out->now = t0;
    std::vector<Lease> leases;
    int leasable = 0;
    for (int p = 0; p < kPools; ++p) {
      if (p % 4 == 3) continue;
      const int k = leasable++;
      const Instant start = k % 17 == 0 ? t0 + Duration::days(3) : t0 - Duration::days(30);
      const Instant end = t0 + Duration::days(10 + k % 80);
      auto lease = [&](int org, int gpus, int n) {
        leases.push_back(Lease{LeaseId("l-" + std::to_string(p) + "-" + std::to_string(n)),
                               OrgId("org-" + std::to_string(org)),
                               PoolId("pool-" + std::to_string(p)), gpus, start, end,
                               *parse_money("3.50 USD")});
      };
      if (k % 3 == 0) {
        lease(k % kOrgs, 64, 0);
      } else {
        lease(k % kOrgs, 32, 0);
        lease((k + 7) % kOrgs, 32, 1);
      }
    }
    out->state.set_leases(std::move(leases));
    std::uint64_t x = 6;  // fixed seed
    auto next = [&x] {    // splitmix64
      x += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      return z ^ (z >> 31);
    };
    const std::vector<std::vector<const char*>> chip_sets = {{},
                                                             {},
                                                             {"h100-sxm"},
                                                             {"h200"},
                                                             {"b200"},
                                                             {"h100-sxm", "h200"},
                                                             {"mi300x"},
                                                             {"h800", "h20"},
                                                             {"a100-sxm", "a800"},
                                                             {"ascend-910b"}};
    out->jobs.resize(kJobs);
    for (std::size_t i = 0; i < out->jobs.size(); ++i) {
      Job& j = out->jobs[i];
      j.id = JobId("job-" + std::to_string(i));
      j.org = OrgId("org-" + std::to_string(next() % kOrgs));
      j.team = "team-" + std::to_string(next() % 3);
      j.gpus = 1 << (next() % 7);
      for (const char* c : chip_sets[next() % chip_sets.size()]) j.eligible_chips.emplace_back(c);
      if (next() % 10 == 0) {
        j.preferences.site_order = {SiteId("site-" + std::to_string(next() % kSites)),
                                    SiteId("site-" + std::to_string(next() % kSites))};
      }
      j.work = j.gpus * (1.0 + static_cast<double>(next() % 100) / 10);
      j.submit = t0 - Duration::seconds(static_cast<std::int64_t>(kJobs - i));
      j.checkpoint_interval = Duration::hours(2);
      j.checkpoint_gb = 2.0 * j.gpus;
    }
    for (const Job& j : out->jobs) out->state.pending.push_back(PendingJob{&j, j.work});
    return out;
  }();
  return *f;
}

// The state after a plan's starts, applied as the simulator applies them
// (src/sim/engine.cc): allocate, add_running, and out of the queue.
void apply_starts(ClusterState& state, const Plan& plan, Instant now) {
  std::vector<std::size_t> started;
  for (const Start& s : plan.starts) {
    const PendingJob& p = state.pending[s.pending_index];
    const std::uint32_t slot = state.org_slot(p.job->org);
    state.allocate(slot, s.allocation);
    state.add_running(RunningJob{p.job, s.allocation, now, s.expected_end, s.must_leave_by,
                                 p.remaining_work, slot});
    started.push_back(s.pending_index);
  }
  std::sort(started.rbegin(), started.rend());
  for (std::size_t i : started) {
    state.pending.erase(state.pending.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

// One Scheduler::plan pass as the server runs it: EASY backfill, every queued
// job considered (max_jobs_per_pass = 0), a reason for each waiting job
// (explain). pass:0, cold: a new Scheduler over a queue it has never seen (a
// server pass after a restart), timed from the Scheduler's construction.
// pass:1, warm: the next pass of the same Scheduler, 30 s later, over the
// state with the first pass's starts applied (not timed: the first pass and
// applying it).
void BM_ServerPass10kJobs1kPools(benchmark::State& state) {
  ServerFleet& f = server_fleet();
  const bool warm = state.range(0) != 0;
  const bool explain = state.range(1) != 0;
  SchedulerOptions options;
  options.policy = QueuePolicy::kEasyBackfill;
  options.max_jobs_per_pass = 0;  // all 10,000 considered
  std::size_t started = 0, waiting = 0, queued = 0, running = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // Fresh PendingJobs (their per-scheduler caches empty) for each iteration.
    auto cluster = std::make_unique<ClusterState>(f.state);
    std::unique_ptr<Scheduler> first;
    Instant now = f.now;
    if (warm) {
      first = std::make_unique<Scheduler>(f.catalog, *f.engine, *f.throughput, options);
      Plan plan = first->plan(*cluster, now, explain);
      apply_starts(*cluster, plan, now);
      now = now + Duration::seconds(30);
    }
    state.ResumeTiming();
    std::unique_ptr<Scheduler> s =
        warm ? std::move(first)
             : std::make_unique<Scheduler>(f.catalog, *f.engine, *f.throughput, options);
    Plan plan = s->plan(*cluster, now, explain);
    benchmark::DoNotOptimize(plan);
    state.PauseTiming();
    started = plan.starts.size();
    waiting = plan.waiting.size();
    queued = cluster->pending.size();
    running = cluster->running.size();
    s.reset();
    cluster.reset();
    state.ResumeTiming();
  }
  state.counters["queued"] = static_cast<double>(queued);
  state.counters["running"] = static_cast<double>(running);
  state.counters["started"] = static_cast<double>(started);
  state.counters["waiting"] = static_cast<double>(waiting);
}
BENCHMARK(BM_ServerPass10kJobs1kPools)
    ->Args({0, 1})
    ->Args({1, 1})
    ->ArgNames({"pass", "explain"})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace straits::sched
