// The web console's calls (issue 18) on the server-scale world: 10,000 jobs
// on 1,000 pools with 1,250 leases (server_world.h), after one scheduling
// pass, through Server::handle (routing, auth, the handler and its JSON; no
// socket). Budget: every page under 300 ms from a warm server; each call
// here well under 100 ms.
//
// Usage: straits_console_api_bench [benchmark flags]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "server_world.h"

namespace straits::bench {
namespace {

struct Console {
  std::unique_ptr<ServerWorld> world;
  std::string queued_job;  // one that waits, for explain=true
};

Console& console() {
  static Console c = [] {
    Console made;
    made.world = make_server_world("console-bench", 10'000, 1'000);
    if (!made.world || !made.world->server->schedule_now()) std::abort();
    auto page =
        made.world->server->handle("GET", "/v1/jobs?state=queued&limit=1", made.world->auth, "");
    made.queued_job = nlohmann::json::parse(page.body)["items"][0].value("id", "");
    std::printf("console bench: %zu leases, setup %.1f s, %d refused\n", made.world->leases,
                made.world->setup_s, made.world->refused);
    return made;
  }();
  return c;
}

void get(benchmark::State& state, const std::string& path) {
  Console& c = console();
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto answer = c.world->server->handle("GET", path, c.world->auth, "");
    if (answer.status != 200) {
      state.SkipWithError(("GET " + path + ": " + answer.body.substr(0, 200)).c_str());
      return;
    }
    bytes = answer.body.size();
    benchmark::DoNotOptimize(answer);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

void BM_Fleet(benchmark::State& s) {
  get(s, "/v1/fleet");
}
void BM_Upcoming30Days(benchmark::State& s) {
  get(s, "/v1/upcoming?days=30");
}
// Every lease ends within the year: 1,250 lease ends, each with its jobs.
void BM_Upcoming365Days(benchmark::State& s) {
  get(s, "/v1/upcoming?days=365");
}
void BM_JobsFirstPageById(benchmark::State& s) {
  get(s, "/v1/jobs?limit=50");
}
void BM_JobsByPosition(benchmark::State& s) {
  get(s, "/v1/jobs?sort=position&limit=50");
}
void BM_JobsByGpusDesc(benchmark::State& s) {
  get(s, "/v1/jobs?sort=gpus&order=desc&limit=50");
}
void BM_JobsAtASite(benchmark::State& s) {
  get(s, "/v1/jobs?site=site7&sort=submitted&limit=50");
}
void BM_JobsSearch(benchmark::State& s) {
  get(s, "/v1/jobs?q=j-00009&limit=50");
}
void BM_JobExplained(benchmark::State& s) {
  get(s, "/v1/jobs/" + console().queued_job + "?explain=true");
}
void BM_RuleChanges(benchmark::State& s) {
  get(s, "/v1/rules/changes?from=2026-01-01T00:00:00Z&days=365");
}

BENCHMARK(BM_Fleet)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Upcoming30Days)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Upcoming365Days)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JobsFirstPageById)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JobsByPosition)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JobsByGpusDesc)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JobsAtASite)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JobsSearch)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JobExplained)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RuleChanges)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace straits::bench

BENCHMARK_MAIN();
