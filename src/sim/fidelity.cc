#include "sim/fidelity.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "catalog/load.h"
#include "sim/engine.h"
#include "sim/internal/csv.h"
#include "sim/internal/stats.h"
#include "sim/internal/text.h"
#include "sim/trace.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Distribution distribution(std::vector<double> values) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  d.mean = sum / static_cast<double>(values.size());
  for (double q : kFidelityQuantiles) {
    d.quantiles.emplace_back(q, internal::percentile(values, q));
  }
  return d;
}

// The largest gap between the empirical distribution functions of a and b.
double ks_distance(std::vector<double> a, std::vector<double> b) {
  if (a.empty() || b.empty()) return 0;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::size_t i = 0, j = 0;
  double gap = 0;
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    gap = std::max(gap, std::fabs(static_cast<double>(i) / static_cast<double>(a.size()) -
                                  static_cast<double>(j) / static_cast<double>(b.size())));
  }
  return gap;
}

json to_json(const Distribution& d) {
  json q = json::object();
  for (const auto& [at, value] : d.quantiles) {
    std::string key = "p";  // built in two steps: g++ 12 warns (-Wrestrict) on "p" + string
    key += std::to_string(static_cast<int>(std::lround(at * 100)));
    q[key] = value;
  }
  return {{"count", d.count}, {"mean", d.mean}, {"quantiles", q}};
}

struct SimulatedJob {
  std::optional<double> queue_s;
  double gpu_hours = 0;
};

// jobs.csv of a run: id -> queueing delay (none if it never started) and GPU-hours.
Result<std::map<std::string, SimulatedJob>> read_jobs(const fs::path& file) {
  internal::CsvFileReader csv;
  STRAITS_TRY(csv.open(file, {"id", "queue_delay_s", "gpu_hours"}));
  std::map<std::string, SimulatedJob> out;
  while (const internal::CsvRecord* row = csv.next()) {
    SimulatedJob job;
    if (!csv.cell(*row, "queue_delay_s").empty()) job.queue_s = csv.number(*row, "queue_delay_s");
    job.gpu_hours = csv.number(*row, "gpu_hours");
    out.emplace(csv.cell(*row, "id"), job);
  }
  STRAITS_TRY(csv.finish());
  return out;
}

}  // namespace

Result<FidelityReport> check_fidelity(const Scenario& scenario, const fs::path& out_dir) {
  if (!scenario.trace || scenario.trace->format == TraceFormat::kNative) {
    return Error(ErrorCode::kInvalidArgument,
                 "the fidelity check replays a trace: the scenario's workload must be a "
                 "'trace' with start times (alibaba-openb, helios or acme)");
  }
  const TraceMapping& m = *scenario.trace;
  auto catalog = catalog::load_catalog(scenario.catalog_dir);
  if (!catalog) return std::move(catalog).error();
  double fleet_gpus = 0;
  for (const auto& pool : catalog->pools()) fleet_gpus += pool.gpus();

  auto summary = run_simulation(scenario, SimOptions{}, out_dir);
  if (!summary) return std::move(summary).error();
  auto simulated = read_jobs(out_dir / "jobs.csv");
  if (!simulated) return std::move(simulated).error();

  auto reader = TraceReader::open(m.path, m.format, m.read);
  if (!reader) return std::move(reader).error();
  FidelityReport report;
  std::vector<double> traced_queue, simulated_queue;
  double first = 1e300, last_end = -1e300, traced_gpu_s = 0, traced_share_s = 0;
  double abs_difference = 0;
  TraceJob t;
  while (reader->next(t)) {
    auto it = simulated->find(t.id);
    if (it == simulated->end() || !t.start_s) continue;
    first = std::min(first, t.submit_s);
    last_end = std::max(last_end, *t.start_s + t.duration_s);
    traced_gpu_s += std::ceil(t.gpus - 1e-9) * t.duration_s;
    traced_share_s += t.gpus * t.duration_s;
    if (!it->second.queue_s) continue;  // never started in the simulation
    const double traced = (*t.start_s - t.submit_s) * m.time_scale;
    const double sim = *it->second.queue_s;
    traced_queue.push_back(traced);
    simulated_queue.push_back(sim);
    abs_difference += std::fabs(sim - traced);
    if (sim > traced + 1e-6) {
      ++report.started_later;
    } else if (sim < traced - 1e-6) {
      ++report.started_earlier;
    } else {
      ++report.started_same;
    }
  }
  if (reader->error()) return *reader->error();
  report.jobs = traced_queue.size();
  if (report.jobs == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "no replayed job of " + m.path.string() + " has a start time to compare");
  }
  report.mean_abs_queue_difference_s = abs_difference / static_cast<double>(report.jobs);
  report.ks_distance = ks_distance(traced_queue, simulated_queue);
  report.traced_queue_s = distribution(std::move(traced_queue));
  report.simulated_queue_s = distribution(std::move(simulated_queue));
  const double window_s = (last_end - first) * m.time_scale;
  report.window_hours = window_s / 3600;
  double simulated_gpu_hours = 0;
  for (const auto& [id, job] : *simulated) simulated_gpu_hours += job.gpu_hours;
  if (window_s > 0 && fleet_gpus > 0) {
    report.traced_utilisation = traced_gpu_s / (fleet_gpus * window_s / m.time_scale);
    report.traced_share_utilisation = traced_share_s / (fleet_gpus * window_s / m.time_scale);
    report.simulated_utilisation = simulated_gpu_hours * 3600 / (fleet_gpus * window_s);
  }
  report.not_modelled = {
      "the time a scheduler takes to decide and a pod to start: straits starts a job in the "
      "instant it fits",
      "GPU sharing: a pod holding a share of a GPU holds a whole GPU in straits (its runs are "
      "as long; the GPU is not shared)",
      "CPU and memory: only GPUs are scheduled",
      "the traced scheduler's own policy and node scoring: the replay uses the scenario's "
      "queue policy",
      "failures, evictions and restarts that the trace does not record",
  };
  json out = {
      {"scenario", scenario.name},
      {"trace", m.path.string()},
      {"jobs", report.jobs},
      {"queue_s",
       {{"traced", to_json(report.traced_queue_s)},
        {"simulated", to_json(report.simulated_queue_s)}}},
      {"ks_distance", report.ks_distance},
      {"mean_abs_queue_difference_s", report.mean_abs_queue_difference_s},
      {"started",
       {{"later", report.started_later},
        {"earlier", report.started_earlier},
        {"same", report.started_same}}},
      {"utilisation",
       {{"traced_whole_gpus", report.traced_utilisation},
        {"traced_gpu_shares", report.traced_share_utilisation},
        {"simulated", report.simulated_utilisation},
        {"window_hours", report.window_hours},
        {"fleet_gpus", fleet_gpus}}},
      {"not_modelled", report.not_modelled},
  };
  std::ofstream file(out_dir / "fidelity.json", std::ios::binary);
  file << out.dump(2) << "\n";
  if (!file)
    return Error(ErrorCode::kUnavailable, "cannot write " + (out_dir / "fidelity.json").string());
  return report;
}

}  // namespace straits::sim
