// A synthetic workload with realistic heavy-tailed job sizes and durations,
// deterministic for a seed on every machine (no std:: distributions, whose
// output differs between standard libraries).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/id.h"
#include "core/time.h"
#include "sched/job.h"

namespace straits::sim {

struct GeneratorOptions {
  std::size_t jobs = 1000;
  std::uint64_t seed = 1;
  Instant start = Instant::from_date(2026, 1, 1);
  // Tenants the jobs belong to, with relative weights (default: one org "org-1").
  std::vector<std::pair<OrgId, double>> orgs;
  int teams_per_org = 4;
  // Arrival rate is set so that the offered load (GPU-hours of work per hour,
  // on reference chips) is `load` x `fleet_gpus`.
  double load = 0.8;
  int fleet_gpus = 10000;
  int max_gpus = 1024;              // largest gang
  double median_hours = 1.0;        // median run time on the reference chip
  std::vector<ChipId> chips;        // eligible chips to draw from; empty: any
  std::vector<DatasetId> datasets;  // datasets a job may use
};

// Job sizes: powers of two from 1 to max_gpus, heavy-tailed (most jobs small,
// most GPU-hours in large ones); durations log-normal; arrivals Poisson.
std::vector<sched::Job> generate_workload(const GeneratorOptions& options);

}  // namespace straits::sim
