// An invariant checker independent of the simulator: it reads a run's output
// folder (docs/scenarios.md, "Outputs") and checks, from the files alone and
// the catalog and rule packs named in run.json, that
// - no node ever holds more GPUs than it has;
// - every running interval is one gang inside one pool (node GPUs sum to the
//   job's GPUs) and a job never runs in two places at once;
// - every running interval is covered by a lease of the job's org on that pool
//   (or the org owns the pool), and the org's GPUs in a pool never exceed its
//   leases there;
// - lease and run decisions allow the job on the pool during the whole
//   interval (checked at its start and at every change point inside it);
// - jobs.csv agrees with intervals.csv (GPU-hours, pools, first start, end).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"

namespace straits::sim {

struct Violation {
  std::string check;  // "capacity", "gang", "lease", "policy", "consistency"
  std::string where;  // "intervals.csv:17" or "jobs.csv:4"
  std::string message;
};

struct VerifyReport {
  std::size_t intervals = 0;
  std::size_t jobs = 0;
  std::vector<Violation> violations;  // sorted by check, then where
  bool ok() const { return violations.empty(); }
};

// Errors are for unreadable or malformed folders; broken invariants are
// Violations in the report.
Result<VerifyReport> verify_run(const std::filesystem::path& out_dir);

}  // namespace straits::sim
