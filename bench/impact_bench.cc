// The impact of a proposed rule set on the server-scale fleet (issue 17,
// part 4; target <= 2 s): the bench fleet (server_fleet.h, 10,000 jobs on
// 1,000 pools) after one EASY pass's starts, so that part of its jobs run
// and the rest wait; the rules in force are the default pack, the proposal
// the default pack with the close-remote-access scenario laid over it, its
// date moved to the fleet's `now` (its jobs run for hours). The orgs with a China-parented
// group lose their leases of 3A090-class pools abroad, their jobs there move
// or have nowhere to go.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "sched/impact.h"
#include "server_fleet.h"

namespace straits::sched {
namespace {

namespace fs = std::filesystem;

struct ImpactFleet {
  ClusterState state;
  policy::Engine proposed;
};

ImpactFleet& impact_fleet() {
  static ImpactFleet* f = [] {
    bench::ServerFleet& fleet = bench::server_fleet();
    SchedulerOptions options;
    options.max_jobs_per_pass = 0;
    Scheduler s(fleet.catalog, *fleet.engine, *fleet.throughput, options);
    ClusterState state = fleet.state;
    const Plan plan = s.plan(state, fleet.now, false);
    bench::apply_starts(state, plan, fleet.now);
    const fs::path rules = fs::path(STRAITS_SOURCE_DIR) / "rules";
    // fleet.now is 2026-11-28 00:00: the rule bites at once, before the running jobs end.
    auto proposed = policy::Engine::load(
        fleet.catalog, {rules / "default", rules / "scenarios" / "close-remote-access"},
        {{"close_from", "2026-11-28"}});
    return new ImpactFleet{std::move(state), std::move(*proposed)};
  }();
  return *f;
}

void BM_RuleChangeImpact10kJobs1kPools(benchmark::State& state) {
  bench::ServerFleet& fleet = bench::server_fleet();
  ImpactFleet& f = impact_fleet();
  Impact impact;
  for (auto _ : state) {
    impact = rule_change_impact(f.state, *fleet.engine, f.proposed, fleet.now);
    benchmark::DoNotOptimize(impact);
  }
  state.counters["running"] = static_cast<double>(f.state.running().size());
  state.counters["queued"] = static_cast<double>(f.state.pending.size());
  state.counters["leases"] = static_cast<double>(f.state.leases().size());
  state.counters["leases_hit"] = static_cast<double>(impact.leases.size());
  state.counters["running_hit"] = static_cast<double>(impact.running.size());
  state.counters["queued_hit"] = static_cast<double>(impact.queued.size());
  state.counters["orgs_hit"] = static_cast<double>(impact.orgs.size());
}
BENCHMARK(BM_RuleChangeImpact10kJobs1kPools)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace straits::sched
