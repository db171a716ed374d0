// The fidelity check (docs/fidelity.md): replay a trace that records its own
// start times, then set the simulated queueing delays and utilisation beside
// the trace's, job by job.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "sim/scenario.h"

namespace straits::sim {

struct Distribution {
  std::size_t count = 0;
  double mean = 0;
  std::vector<std::pair<double, double>> quantiles;  // (q, value) at kFidelityQuantiles
};

inline constexpr double kFidelityQuantiles[] = {0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0};

struct FidelityReport {
  std::size_t jobs = 0;  // jobs of the trace with a start time, replayed
  Distribution traced_queue_s, simulated_queue_s;
  // Largest gap between the two empirical distribution functions of the
  // queueing delay (Kolmogorov-Smirnov statistic, 0: identical, 1: disjoint).
  double ks_distance = 0;
  double mean_abs_queue_difference_s = 0;  // |simulated - traced|, job by job
  std::size_t started_later = 0, started_earlier = 0, started_same = 0;  // than in the trace
  // GPUs held / GPUs of the fleet over [first arrival, last end of the trace),
  // whole GPUs as straits holds them; the trace also as GPU shares.
  double traced_utilisation = 0, traced_share_utilisation = 0, simulated_utilisation = 0;
  double window_hours = 0;
  std::vector<std::string> not_modelled;  // what the simulator leaves out (for the report)
};

// Runs `scenario` (whose workload is a trace with start times) into
// `out_dir`, then compares. Writes fidelity.json there too.
Result<FidelityReport> check_fidelity(const Scenario& scenario,
                                      const std::filesystem::path& out_dir);

}  // namespace straits::sim
