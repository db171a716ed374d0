// Parsing costs of the core value types: trace importers and the API parse
// instants and amounts for every row and request.
#include <benchmark/benchmark.h>

#include "core/money.h"
#include "core/time.h"

namespace straits {
namespace {

void BM_ParseDate(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parse_instant("2025-07-14"));
}
BENCHMARK(BM_ParseDate);

void BM_ParseDateTimeWithOffset(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parse_instant("2025-07-14T20:30:15.25+08:00"));
}
BENCHMARK(BM_ParseDateTimeWithOffset);

void BM_FormatInstant(benchmark::State& state) {
  Instant t = Instant::from_date(2025, 7, 14) + Duration::seconds(12345);
  for (auto _ : state) benchmark::DoNotOptimize(to_iso8601(t));
}
BENCHMARK(BM_FormatInstant);

void BM_ParseMoney(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parse_money("4.2008 USD"));
}
BENCHMARK(BM_ParseMoney);

}  // namespace
}  // namespace straits
