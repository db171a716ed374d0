// The run report: one HTML page that shows a simulation run, made from its
// output folder alone (docs/scenarios.md, "Outputs" and "Report").
//
// The page is self-contained: inline CSS, charts as inline SVG
// (sim/internal/svg.h), no script it needs, no font, image or anything
// else fetched, so it opens offline and can be mailed as one file. It is
// byte-identical for the same run folder: nothing in it depends on where
// the folder is, the clock or the machine.
//
// What it shows: the scenario, window, seed and main numbers (jobs by
// state, mean and 95th percentile JCT and queueing delay, cost, moves);
// utilisation by site and by country, queue length and cumulative cost
// over time, with every rule change inside the window marked on each time
// axis; the CDFs of JCT and queueing delay; GPU-hours by chip; and, for each
// rule, the jobs it moved, stopped or kept from ever starting.
#pragma once

#include <filesystem>

#include "core/error.h"

namespace straits::sim {

// Reads `run_dir` (run.json, jobs.csv, intervals.csv, timeseries.csv,
// moves.csv, and the catalog named in run.json, a relative path there
// taken from `run_dir`) and writes the page to `html_file`. The CSV files
// are read as streams: a 10^6-job run is never held in memory, only what
// the charts need (two numbers per job for the CDFs, fixed-size series).
//
// Errors name the file: NotFound for a missing one, InvalidArgument for a
// malformed one (every bad row as FILE:LINE: message, up to a limit), the
// catalog's own errors if it does not load, Unavailable if the page
// cannot be written.
Status write_report(const std::filesystem::path& run_dir, const std::filesystem::path& html_file);

}  // namespace straits::sim
