// Loading and validating the shipped catalog: done at every CLI start.
#include <benchmark/benchmark.h>

#include "catalog/load.h"

namespace straits::catalog {
namespace {

void BM_LoadShippedCatalog(benchmark::State& state) {
  const auto dir = std::filesystem::path(STRAITS_SOURCE_DIR) / "catalog";
  for (auto _ : state) {
    auto catalog = load_catalog(dir);
    if (!catalog) state.SkipWithError(catalog.error().to_string().c_str());
    benchmark::DoNotOptimize(catalog);
  }
}
BENCHMARK(BM_LoadShippedCatalog)->Unit(benchmark::kMillisecond);

void BM_UltimateParent(benchmark::State& state) {
  auto catalog = load_catalog(std::filesystem::path(STRAITS_SOURCE_DIR) / "catalog");
  const OrgId id("qingluan-ventures-sg");
  for (auto _ : state) benchmark::DoNotOptimize(catalog->ultimate_parent(id).hq);
}
BENCHMARK(BM_UltimateParent);

}  // namespace
}  // namespace straits::catalog
