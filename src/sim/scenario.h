// A scenario: the unit of simulation (docs/scenarios.md): catalog, rule packs
// and their dates, leases, workload, scheduler settings, seed and horizon.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "policy/engine.h"
#include "sched/job.h"
#include "sched/scheduler.h"
#include "sim/generator.h"
#include "sim/trace.h"

namespace straits::sim {

// Node failures: each node of a pool fails as a Poisson process with the
// pool's mean time between failures, and is repaired after `repair`. Jobs on
// a failed node restart from their last periodic checkpoint. `injected`
// failures happen at given instants (for tests and what-ifs).
struct FailureModel {
  double mtbf_hours = 0;                     // every pool; 0: no random failures
  std::map<PoolId, double> pool_mtbf_hours;  // per pool, overriding
  Duration repair = Duration::hours(2);
  struct Injected {
    PoolId pool;
    int node = 0;
    Instant at;
  };
  std::vector<Injected> injected;
};

// A pool's list price from an instant on (leases keep their contracted price).
struct PriceChange {
  PoolId pool;
  Instant at;
  Money price;
};

struct Scenario {
  std::string name;
  std::filesystem::path file;
  std::filesystem::path catalog_dir;         // absolute
  std::vector<std::filesystem::path> rules;  // absolute, base first
  policy::ParamOverrides params;
  Instant start;
  Duration horizon = Duration::days(30);
  std::uint64_t seed = 1;
  std::vector<sched::Lease> leases;   // prices resolved when the catalog is known
  std::vector<bool> lease_has_price;  // false: the pool's list price applies
  std::optional<std::filesystem::path> workload_file;
  std::optional<GeneratorOptions> synthetic;
  std::optional<TraceMapping> trace;  // a real trace (sim/trace.h)
  sched::SchedulerOptions scheduler;
  ChipId reference_chip = ChipId("h100-sxm");
  std::map<ChipId, double> efficiency;
  FailureModel failures;
  std::vector<PriceChange> price_changes;
};

// Reads a scenario file; every problem is reported as file:line:column.
// `shipped_root` is where the names of shipped rule packs ("default",
// "scenarios/x") and the default catalog resolve.
Result<Scenario> load_scenario(const std::filesystem::path& file,
                               const std::filesystem::path& shipped_root);

}  // namespace straits::sim
