// What-if comparisons: a baseline scenario and a what-if run on the same
// jobs and seed, and what changed between them (docs/scenarios.md, "What-if
// comparisons and sweeps"; walk-through in docs/what-if.md).
//
// Everything is computed from the runs' output files (jobs.csv, summary.json,
// run.json), so a comparison can be redone from two run folders alone, and
// the same two runs always give the same bytes.
//
// Example:
//   auto c = compare_scenarios(*baseline, *whatif, "out/what-if", {});
//   // out/what-if/{baseline,whatif}/ (the runs), compare.json, compare.html
//   c->metrics[0].delta;  // what-if minus baseline, mean JCT in hours
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "sim/scenario.h"

namespace straits::sim {

// The outcome of one run, read back from its output folder.
struct RunMetrics {
  std::string scenario;  // summary.json "scenario"
  std::size_t jobs = 0;
  // Jobs by state (jobs.csv "state"): each job in exactly one.
  std::size_t completed = 0, running = 0, pending = 0, stopped = 0, never = 0;
  // Job completion time (submit to end) of the completed jobs, and queueing
  // delay (submit to first start) of the jobs that started, in hours: the
  // mean and the 95th percentile (linear between ranks, as summary.json).
  // Jobs that never started or never completed are not in these: read them
  // with the counts above.
  double mean_jct_hours = 0, p95_jct_hours = 0;
  double mean_queue_hours = 0, p95_queue_hours = 0;
  std::vector<double> jct_hours, queue_hours;  // the samples, sorted
  double total_cost = 0;                       // summed exactly from jobs.csv cents
  std::string currency = "USD";
  // GPU-hours lost to checkpoints and restarts (moves, preemptions, failures).
  double gpu_hours_lost = 0;
  std::size_t moves = 0;

  // Jobs no allowed capacity could take: stopped once started, or never started.
  std::size_t could_never_run() const { return stopped + never; }
};

// Reads jobs.csv and summary.json of a `sim run` folder. Columns are found
// by name in the header, so added columns do not matter. Errors name the
// file and line.
Result<RunMetrics> read_run_metrics(const std::filesystem::path& run_dir);

// One headline figure of both runs.
struct MetricDelta {
  std::string key;    // compare.json name: "mean_jct_hours"
  std::string label;  // for people: "Mean JCT"
  std::string unit;   // "h", "USD", "GPU-h", "" for counts
  double baseline = 0, whatif = 0;
  double delta = 0;             // what-if - baseline
  std::optional<double> ratio;  // what-if / baseline, when the baseline is not 0
  int decimals = 0;             // how many to print
};

// A job that ran nowhere in the what-if (stopped or never) but did in the baseline.
struct LostJob {
  std::string id, org, team;
  int gpus = 0;
  std::string state, reason;  // in the what-if
  std::string baseline_state;
};

// Utilisation of one country's pools (busy GPU-hours / GPU-hours of all its
// pools over the run), as summary.json gives it: fractions, 0 to 1.
struct CountryUtilisation {
  std::string country;
  double baseline = 0, whatif = 0;
};

// When one team's work was done in one run.
struct TeamProgress {
  std::optional<Instant> finished;  // the last end, when every job completed
  std::size_t jobs_left = 0;        // jobs not completed by the horizon
  // When 95% of its jobs (rounded up) had completed, if they did: says how
  // far a team got even when a few long jobs run past the horizon.
  std::optional<Instant> p95_done;
};

struct TeamFinish {
  std::string org, team;
  std::size_t jobs = 0;
  TeamProgress baseline, whatif;
  // What-if minus baseline, when both finished (resp. reached 95%).
  std::optional<Duration> delay() const;
  std::optional<Duration> p95_delay() const;
};

struct Comparison {
  std::string baseline_scenario, whatif_scenario;
  std::string baseline_file, whatif_file;  // scenario file names, without folders
  std::uint64_t seed = 0;
  Instant start, horizon_end;  // the baseline's simulated window
  RunMetrics baseline, whatif;
  std::vector<MetricDelta> metrics;  // the headline figures, in display order
  // Jobs by state, in the order completed, running, pending, stopped, never.
  std::vector<MetricDelta> states;
  // Jobs that ran nowhere in the what-if (stopped or never) but did in the
  // baseline, sorted by id; how many of them completed there; and how many
  // ran nowhere in either run (not the what-if's doing, so not listed).
  std::vector<LostJob> no_longer_run;
  std::size_t no_longer_run_completed_in_baseline = 0;
  std::size_t ran_nowhere_in_both = 0;
  std::vector<CountryUtilisation> countries;  // sorted by country code
  std::vector<TeamFinish> teams;              // sorted by org, then team
};

// Compares two finished runs. Fails (FailedPrecondition) unless both saw the
// same jobs: byte-identical workload.jsonl files.
Result<Comparison> compare_runs(const std::filesystem::path& baseline_dir,
                                const std::filesystem::path& whatif_dir);

struct CompareOptions {
  std::optional<std::uint64_t> seed;  // replaces the baseline's seed (both runs)
  bool progress = false;              // each run's progress bar on stderr
  // Called before each run starts: 0 baseline, 1 what-if.
  std::function<void(int run, const std::string& scenario)> on_run;
  // Each run's progress (SimOptions::on_progress): run 0 baseline, 1 what-if;
  // returning false cancels the comparison.
  std::function<bool(int run, double done)> on_progress;
};

// Runs `baseline` into OUT/baseline, then `whatif` into OUT/whatif on the
// baseline's workload.jsonl and seed, compares them and writes
// OUT/compare.json and OUT/compare.html.
Result<Comparison> compare_scenarios(const Scenario& baseline, const Scenario& whatif,
                                     const std::filesystem::path& out_dir,
                                     const CompareOptions& options);

// The text of compare.json and compare.html (what compare_scenarios writes).
std::string comparison_json(const Comparison& comparison);
// How the comparison writes times: "2025-07-25 02:57" (UTC, to the minute)
// and delays "+3d4h", "-45m", "0" (to the minute).
std::string short_time(Instant t);
std::string human_delay(Duration d);
std::string comparison_html(const Comparison& comparison);

}  // namespace straits::sim
