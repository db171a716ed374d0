// Policy decisions as the scheduler and the simulator ask for them: lease and
// run decisions over the default pack on pre-resolved subjects (the fast
// path), with explanations, from ids, and next_change_after.
#include <benchmark/benchmark.h>

#include "catalog/load.h"
#include "policy/engine.h"

namespace straits::policy {
namespace {

namespace fs = std::filesystem;

struct World {
  catalog::Catalog catalog;
  std::optional<Engine> engine;
  std::vector<Request> requests;
  std::vector<Subject> subjects;
};

World& world() {
  static World* w = [] {
    auto* out = new World;
    out->catalog = *catalog::load_catalog(fs::path(STRAITS_SOURCE_DIR) / "catalog");
    out->engine = *Engine::load(out->catalog, {fs::path(STRAITS_SOURCE_DIR) / "rules" / "default"});
    for (const auto& org : out->catalog.orgs()) {
      for (const auto& pool : out->catalog.pools()) {
        out->requests.push_back(LeaseRequest{org.id, pool.id, {}, {}, {}});
        std::vector<DatasetId> data;
        for (const auto& d : out->catalog.datasets()) {
          if (out->catalog.ultimate_parent(d.owner).id == out->catalog.ultimate_parent(org.id).id) {
            data.push_back(d.id);
          }
        }
        out->requests.push_back(RunRequest{org.id, pool.id, JobSpec{64, 3e24, "training", data}});
      }
    }
    for (const auto& r : out->requests) out->subjects.push_back(*out->engine->resolve(r));
    return out;
  }();
  return *w;
}

const Instant kDates[] = {Instant::from_date(2022, 12, 1),  Instant::from_date(2023, 12, 1),
                          Instant::from_date(2025, 3, 1),   Instant::from_date(2025, 6, 1),
                          Instant::from_date(2025, 9, 1),   Instant::from_date(2026, 2, 1),
                          Instant::from_date(2026, 11, 28), Instant::from_date(2027, 6, 1)};

void BM_EvaluateLeaseRun(benchmark::State& state) {
  World& w = world();
  std::size_t i = 0, n = w.subjects.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.engine->evaluate(w.subjects[i % n], kDates[(i / n) % 8]));
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_EvaluateLeaseRun);

void BM_DecideWithExplanation(benchmark::State& state) {
  World& w = world();
  std::size_t i = 0, n = w.subjects.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.engine->explain(w.subjects[i % n], kDates[(i / n) % 8]));
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_DecideWithExplanation);

void BM_DecideWithValidUntil(benchmark::State& state) {
  World& w = world();
  std::size_t i = 0, n = w.subjects.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.engine->decide(w.subjects[i % n], kDates[(i / n) % 8]));
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_DecideWithValidUntil);

void BM_ResolveAndEvaluateFromIds(benchmark::State& state) {
  World& w = world();
  std::size_t i = 0, n = w.requests.size();
  for (auto _ : state) {
    auto subject = w.engine->resolve(w.requests[i % n]);
    benchmark::DoNotOptimize(w.engine->evaluate(*subject, kDates[(i / n) % 8]));
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_ResolveAndEvaluateFromIds);

void BM_NextChangeAfter(benchmark::State& state) {
  World& w = world();
  std::size_t i = 0, n = w.subjects.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.engine->next_change_after(w.subjects[i % n], kDates[(i / n) % 8]));
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_NextChangeAfter);

void BM_LoadDefaultPack(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        Engine::load(w.catalog, {fs::path(STRAITS_SOURCE_DIR) / "rules" / "default"}));
  }
}
BENCHMARK(BM_LoadDefaultPack)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace straits::policy
