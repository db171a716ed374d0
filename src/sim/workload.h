// The native workload format: one job per JSONL line or CSV row (format by
// the file's extension, .jsonl or .csv), documented in docs/scenarios.md.
// Reading reports bad rows with file and line and never half-reads: a file
// with errors gives an Error listing every bad row.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "sched/job.h"

namespace straits::sim {

// Reads a native workload file. `origin` is the instant that numeric submit
// times (seconds) count from; ISO 8601 submit times are taken as they are.
// Jobs are returned sorted by (submit, id).
Result<std::vector<sched::Job>> read_workload(const std::filesystem::path& file, Instant origin);

// Writes jobs in the native format (JSONL or CSV by the extension), submit
// times as ISO 8601; byte-identical for the same jobs.
Status write_workload(const std::filesystem::path& file, const std::vector<sched::Job>& jobs);

}  // namespace straits::sim
