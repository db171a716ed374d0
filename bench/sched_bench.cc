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
#include "server_fleet.h"

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
        out->state.add_lease(Lease{LeaseId("l-" + std::to_string(o) + "-" + std::to_string(k)),
                                   OrgId("org-" + std::to_string(o)),
                                   PoolId("pool-" + std::to_string(p)), 80, t0 - Duration::days(30),
                                   t0 + Duration::days(90), *parse_money("3.50 USD")});
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

// One Scheduler::plan pass as the server runs it: EASY backfill, every queued
// job considered (max_jobs_per_pass = 0), a reason for each waiting job
// (explain). pass:0, cold: a new Scheduler over a queue it has never seen (a
// server pass after a restart), timed from the Scheduler's construction.
// pass:1, warm: the next pass of the same Scheduler, 30 s later, over the
// state with the first pass's starts applied (not timed: the first pass and
// applying it).
void BM_ServerPass10kJobs1kPools(benchmark::State& state) {
  using bench::apply_starts;
  using bench::server_fleet;
  using bench::ServerFleet;
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
    running = cluster->running().size();
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
