// Sweeps: one scenario run once per value of a rule param (a date), all on
// the same jobs and seed, and each outcome charted against the value: "how
// long does the strategy hold?" (docs/scenarios.md, "What-if comparisons and
// sweeps").
//
// Example:
//   auto spec = parse_vary(*scenario, "rules.close-remote-access.from="
//                                     "2026-01-01..2027-01-01/quarterly");
//   // spec->param == "close_from", 5 values
//   auto sweep = run_sweep(*scenario, *spec, "out/sweep", {});
//   // out/sweep/2026-01-01/ ... (the runs), sweep.csv, sweep.json, sweep.html
//
// Thread safety: run_sweep runs the simulations on its own threads (each
// loads its own catalog and rule engine); progress is reported through one
// callback, never from two threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "sim/compare.h"
#include "sim/scenario.h"

namespace straits::sim {

// The most values one sweep may run.
inline constexpr std::size_t kMaxSweepValues = 100;

struct SweepSpec {
  std::string key;                  // as given: "rules.close-remote-access.from"
  std::string param;                // the param it names: "close_from"
  std::vector<Instant> values;      // in the order given (a range: ascending)
  std::vector<std::string> labels;  // "2026-01-01" (a date-time when not midnight UTC)
};

// Parses `KEY=VALUES` against the scenario's rule packs.
//   KEY:    params.NAME, or rules.PACK.NAME with PACK the folder name of one
//           of the scenario's packs and NAME a param that pack declares.
//           NAME is a param's full name, or the end of exactly one name
//           after an underscore ("from" for close_from).
//   VALUES: FROM..TO/STEP (dates or date-times, both ends included; STEP
//           daily, weekly, monthly, quarterly, yearly or a duration such as
//           30d), or a comma-separated list.
// Errors (InvalidArgument, located at "--vary") say what is wrong: no '=',
// an unknown pack or param (with a did-you-mean), an ambiguous name, a bad
// date or step, a range that ends before it starts, a repeated value, more
// than kMaxSweepValues values. Loads the scenario's catalog and packs.
Result<SweepSpec> parse_vary(const Scenario& scenario, std::string_view vary);

struct SweepOptions {
  std::optional<std::uint64_t> seed;  // replaces the scenario's seed (every run)
  unsigned threads = 0;               // simulations at once; 0: one per core
  // Called after each run ends, with the runs done so far and the total.
  std::function<void(std::size_t done, std::size_t total)> on_progress;
};

struct SweepRow {
  std::string label;
  Instant value;
  RunMetrics metrics;
};

struct Sweep {
  std::string scenario, key, param;
  std::uint64_t seed = 0;
  Instant start, horizon_end;  // the scenario's simulated window
  std::vector<SweepRow> rows;  // one per value, in the spec's order
};

// Runs the scenario with `spec.param` set to each value, into OUT/<label>/:
// the first value alone, then the others on its workload.jsonl, on
// `threads` threads. Writes OUT/sweep.csv, sweep.json and sweep.html, which
// are the same bytes whatever the number of threads. Fails with the error of
// the first value (in the spec's order) whose run failed.
Result<Sweep> run_sweep(const Scenario& scenario, const SweepSpec& spec,
                        const std::filesystem::path& out_dir, const SweepOptions& options);

// The text of sweep.csv, sweep.json and sweep.html (what run_sweep writes).
std::string sweep_csv(const Sweep& sweep);
std::string sweep_json(const Sweep& sweep);
std::string sweep_html(const Sweep& sweep);

}  // namespace straits::sim
