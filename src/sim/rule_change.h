// A rule change replayed (issue 17, part 4): a server's last DAYS of real
// jobs, as a native workload, replayed under the rules in force and under a
// proposed rule set, side by side: the comparison page `sim compare` makes
// (sim/compare.h). Used by `straits rules impact ID --simulate DAYS` (over
// the server's export) and by the server's own what-if runs (issue 18).
//
// The inputs are texts, as the server holds them (its catalog and workload
// as files; the rule sets' files): they are written under OUT/inputs/ so
// that the runs can be redone from the folder alone, and the two scenarios
// built over them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "policy/engine.h"
#include "sched/job.h"
#include "sim/compare.h"

namespace straits::sim {

// A rule pack as text: its name (its folder's, which scenario params and
// reports use) and its files (name -> text).
struct PackFiles {
  std::string name;
  std::map<std::string, std::string> files;
};

// A rule set: packs in order (the first is the base) and params that move
// their dates.
struct RuleSetFiles {
  std::vector<PackFiles> packs;
  policy::ParamOverrides params;
};

struct SimulationInputs {
  std::map<std::string, std::string> catalog_files;  // "pools.yaml" -> text
  std::string workload_jsonl;                        // native format (docs/scenarios.md)
  std::vector<sched::Lease> leases;                  // the leases over the window
  RuleSetFiles in_force, proposed;
  Instant start;                          // the replay's origin: now less DAYS
  Duration horizon = Duration::days(30);  // how long it simulates
  std::uint64_t seed = 1;
};

// Writes the inputs under out_dir/inputs/ (catalog/, in-force/PACK/,
// proposed/PACK/, workload.jsonl), runs both sets on the same jobs (the rules
// in force as the baseline, the proposal as the what-if) into
// out_dir/baseline and out_dir/whatif, and writes out_dir/compare.json and
// out_dir/compare.html. Errors name the file or pack at fault; a pack or file
// name that is not a plain file name is refused before anything is written.
// `options`: progress and cancellation of the two runs (CompareOptions).
Result<Comparison> simulate_rule_change(const SimulationInputs& in,
                                        const std::filesystem::path& out_dir,
                                        const CompareOptions& options = {});

}  // namespace straits::sim
