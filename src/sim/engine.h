// The discrete-event simulator: drives the scheduler over a scenario's
// workload, leases and rule changes, and writes the outputs described in
// docs/scenarios.md. Events are ordered by (time, sequence number), so the
// same scenario and seed give byte-identical outputs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "sim/scenario.h"

namespace straits::sim {

struct SimOptions {
  std::optional<std::filesystem::path> workload;  // replaces the scenario's workload
  std::optional<std::uint64_t> seed;              // replaces the scenario's seed
  bool progress = false;                          // a progress bar on stderr
  // Called every few thousand events with how far the run is (0 to 1, as the
  // progress bar shows it); returning false cancels the run, which then fails
  // (Unavailable, "cancelled"). For a server running simulations in the
  // background: progress to show, and a stop that does not wait.
  std::function<bool(double done)> on_progress;
};

struct SimSummary {
  std::size_t jobs = 0, completed = 0, running = 0, pending = 0, stopped = 0, never = 0;
  std::size_t events = 0;
  std::size_t moves = 0;
  double mean_jct_hours = 0;
  double total_cost = 0;
  std::string currency = "USD";
  // What importing a trace left out or assumed (sim/trace.h import_notes);
  // also in run.json as "workload_notes".
  std::vector<std::string> workload_notes;
};

// Runs the scenario and writes run.json, workload.jsonl, intervals.csv,
// jobs.csv, timeseries.csv, moves.csv and summary.json into `out_dir`
// (created).
Result<SimSummary> run_simulation(const Scenario& scenario, const SimOptions& options,
                                  const std::filesystem::path& out_dir);

}  // namespace straits::sim
