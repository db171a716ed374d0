// Trace import and replay speed (docs/benchmarks.md):
// - rows/s reading the shipped traces (Alibaba openb pod list, Gavel's 15 msr
//   traces) through TraceReader, best of 5;
// - rows/s and peak memory importing a 10^6-row openb file made by repeating
//   the shipped rows with shifted times and names (the reader streams: memory
//   must not grow with the rows);
// - the wall time of simulating the largest shipped trace, Gavel's 15,264
//   jobs, as examples/scenarios/hybrid-2025.yaml replays it.
//
//   build/bench/straits_trace_bench [ROWS]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/scenario.h"
#include "sim/trace.h"

namespace {

namespace fs = std::filesystem;
using straits::sim::TraceFormat;
using Clock = std::chrono::steady_clock;

const fs::path kRoot = STRAITS_SOURCE_DIR;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

struct Read {
  std::size_t rows = 0, jobs = 0;
  double seconds = 0;
};

Read read_trace(const fs::path& path, TraceFormat format,
                const straits::sim::TraceReadOptions& options) {
  auto start = Clock::now();
  auto reader = straits::sim::TraceReader::open(path, format, options);
  if (!reader) {
    std::fprintf(stderr, "%s\n", reader.error().to_string().c_str());
    std::exit(1);
  }
  straits::sim::TraceJob job;
  Read r;
  while (reader->next(job)) ++r.jobs;
  r.rows = reader->stats().rows;
  r.seconds = seconds_since(start);
  return r;
}

void best_of(const char* name, const fs::path& path, TraceFormat format,
             const straits::sim::TraceReadOptions& options = {}) {
  Read best;
  best.seconds = 1e9;
  for (int i = 0; i < 5; ++i) {
    Read r = read_trace(path, format, options);
    if (r.seconds < best.seconds) best = r;
  }
  std::printf("%-34s %9zu rows %9zu jobs %8.2f ms %12.0f rows/s\n", name, best.rows, best.jobs,
              best.seconds * 1e3, static_cast<double>(best.rows) / best.seconds);
}

// An openb pod list of `rows` rows: the shipped rows again and again, each
// round renamed and shifted by the trace's length.
fs::path replicate_openb(std::size_t rows) {
  const fs::path source = kRoot / "data" / "alibaba-clusterdata" / "openb_pod_list_default.csv";
  std::ifstream in(source);
  std::string header;
  std::getline(in, header);
  std::vector<std::vector<std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f(1);
    for (char c : line) {
      if (c == ',') {
        f.emplace_back();
      } else {
        f.back() += c;
      }
    }
    lines.push_back(std::move(f));
  }
  const fs::path out = fs::temp_directory_path() / "straits-trace-bench.csv";
  std::ofstream file(out);
  file << header << "\n";
  const long long span = 13'000'000;
  for (std::size_t i = 0; i < rows; ++i) {
    const auto& f = lines[i % lines.size()];
    const long long shift = span * static_cast<long long>(i / lines.size());
    auto shifted = [&](const std::string& t) {
      return t.empty() ? t : std::to_string(std::stoll(t) + shift);
    };
    file << f[0] << "-r" << i / lines.size();
    for (std::size_t c = 1; c < f.size(); ++c) {
      file << "," << (c >= 8 ? shifted(f[c]) : f[c]);
    }
    file << "\n";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t big = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  straits::sim::TraceReadOptions gavel;
  gavel.gavel_throughputs = kRoot / "data" / "gavel" / "gavel_isolated_throughputs.csv";
  std::printf("reading (best of 5)\n");
  best_of("alibaba-openb gpuspec33 (shipped)",
          kRoot / "data" / "alibaba-clusterdata" / "openb_pod_list_gpuspec33.csv",
          TraceFormat::kAlibabaOpenb);
  best_of("gavel msr_seed0, 15 files (shipped)", kRoot / "data" / "gavel" / "msr_seed0",
          TraceFormat::kGavel, gavel);

  const long before = peak_rss_kib();
  const fs::path file = replicate_openb(big);
  const long after_write = peak_rss_kib();
  Read r = read_trace(file, TraceFormat::kAlibabaOpenb, {});
  std::printf(
      "alibaba-openb x%zu rows (replicated) %9zu jobs %8.2f s %12.0f rows/s; peak RSS "
      "%ld MiB before reading, %ld MiB after (%.1f MB file)\n",
      r.rows, r.jobs, r.seconds, static_cast<double>(r.rows) / r.seconds, after_write / 1024,
      peak_rss_kib() / 1024, static_cast<double>(fs::file_size(file)) / 1e6);
  fs::remove(file);
  (void)before;

  auto scenario =
      straits::sim::load_scenario(kRoot / "examples" / "scenarios" / "hybrid-2025.yaml", kRoot);
  if (!scenario) {
    std::fprintf(stderr, "%s\n", scenario.error().to_string().c_str());
    return 1;
  }
  const fs::path out = fs::temp_directory_path() / "straits-trace-bench-run";
  auto start = Clock::now();
  auto summary = straits::sim::run_simulation(*scenario, {}, out);
  if (!summary) {
    std::fprintf(stderr, "%s\n", summary.error().to_string().c_str());
    return 1;
  }
  std::printf("simulate hybrid-2025 (gavel, %zu jobs, import included): %.2f s, %zu events\n",
              summary->jobs, seconds_since(start), summary->events);
  fs::remove_all(out);
  return 0;
}
