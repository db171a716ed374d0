// The symbolic diff of two rule sets (policy/diff.h) as `straits policy diff`
// runs it: the shipped catalog, `default` against `default` plus each of the
// four scenario packs, from 2022 to 2028. Target (issue 17): the four diffs
// together in 1 s or less. Engines are loaded once: the diff alone is timed.
#include <benchmark/benchmark.h>

#include "catalog/load.h"
#include "policy/diff.h"
#include "server_fleet.h"

namespace straits::policy {
namespace {

namespace fs = std::filesystem;

struct World {
  catalog::Catalog catalog;
  std::optional<Engine> base;
  std::vector<Engine> with;
};

World& world() {
  static World* w = [] {
    auto* out = new World;
    const fs::path rules = fs::path(STRAITS_SOURCE_DIR) / "rules";
    out->catalog = *catalog::load_catalog(fs::path(STRAITS_SOURCE_DIR) / "catalog");
    out->base = *Engine::load(out->catalog, {rules / "default"});
    for (const char* pack :
         {"close-remote-access", "domestic-only-cn", "malaysia-tightens", "tier-caps"}) {
      out->with.push_back(
          *Engine::load(out->catalog, {rules / "default", rules / "scenarios" / pack}));
    }
    return out;
  }();
  return *w;
}

DiffOptions range_2022_2028() {
  DiffOptions options;
  options.from = Instant::from_date(2022, 1, 1);
  options.to = Instant::from_date(2028, 1, 1);
  return options;
}

// All four diffs, one iteration.
void BM_DiffDefaultAgainstFourScenarios(benchmark::State& state) {
  World& w = world();
  const DiffOptions options = range_2022_2028();
  std::size_t rows = 0;
  for (auto _ : state) {
    rows = 0;
    for (const Engine& with : w.with) {
      auto diff = diff_policies(w.catalog, *w.base, with, options);
      rows += diff->rows.size();
      benchmark::DoNotOptimize(diff);
    }
  }
  state.counters["rows"] = static_cast<double>(rows);
}
BENCHMARK(BM_DiffDefaultAgainstFourScenarios)->Unit(benchmark::kMillisecond);

// The diff of a rule set against itself: every subject followed through time
// on both sides, nothing kept.
void BM_DiffDefaultAgainstItself(benchmark::State& state) {
  World& w = world();
  const DiffOptions options = range_2022_2028();
  for (auto _ : state) {
    auto diff = diff_policies(w.catalog, *w.base, *w.base, options);
    benchmark::DoNotOptimize(diff);
  }
}
BENCHMARK(BM_DiffDefaultAgainstItself)->Unit(benchmark::kMillisecond);

// The server's scale (bench/server_fleet.h: 50 sites, 1,000 pools, 20 orgs):
// what `POST /v1/rulesets/{id}/diff` costs on a large world, `default`
// against `default` plus close-remote-access.
void BM_DiffServerFleet(benchmark::State& state) {
  auto& fleet = sched::bench::server_fleet();
  const fs::path rules = fs::path(STRAITS_SOURCE_DIR) / "rules";
  Engine with = *Engine::load(fleet.catalog,
                              {rules / "default", rules / "scenarios" / "close-remote-access"});
  const DiffOptions options = range_2022_2028();
  for (auto _ : state) {
    auto diff = diff_policies(fleet.catalog, *fleet.engine, with, options);
    state.counters["subjects"] = static_cast<double>(diff->subjects);
    state.counters["rows"] = static_cast<double>(diff->rows.size());
    state.counters["groups"] = static_cast<double>(diff->groups.size());
  }
}
BENCHMARK(BM_DiffServerFleet)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace straits::policy
