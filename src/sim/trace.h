// Real GPU-cluster traces (docs/traces.md): streaming readers for the formats
// of the public traces, a summary for `straits trace inspect`, and the import
// of a trace into scheduler jobs through a scenario's mapping (trace GPU
// models to catalog chips, users and groups to orgs and teams, durations to
// work in reference GPU-hours).
//
// Readers hold one row at a time: memory does not grow with the trace. A bad
// row is skipped and counted with its file and line, or, when strict, ends
// reading with an error naming it. A file whose columns do not fit its format
// is refused, naming what is missing, or read under an assumption that the
// reader states (TraceStats::assumptions).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/id.h"
#include "core/time.h"
#include "sched/job.h"
#include "sched/throughput.h"

namespace straits::sim {

enum class TraceFormat {
  kAlibabaOpenb,  // Alibaba cluster-trace-gpu-v2023 openb pod lists
  kAlibabaPai,    // Alibaba cluster-trace-gpu-v2020 pai_task_table (headerless)
  kGavel,         // Gavel's tab-separated traces (msr and physical_cluster)
  kHelios,        // Helios cluster_log.csv (SenseTime Venus, Earth, Saturn, Uranus)
  kAcme,          // Acme trace_seren.csv / trace_kalos.csv (Shanghai AI Lab)
  kNative,        // the straits workload format (sim/workload.h)
};

std::string_view trace_format_name(TraceFormat format);
Result<TraceFormat> parse_trace_format(std::string_view name);
// Every format's name, for help texts: "alibaba-openb|alibaba-pai|...".
std::string trace_format_names();

// One job as the trace records it, before it is mapped onto a catalog.
struct TraceJob {
  std::string id;
  double submit_s = 0;            // seconds from the trace's time origin
  std::optional<double> start_s;  // when the traced cluster started it, if recorded
  double duration_s = 0;          // how long it ran there
  double gpus = 1;                // may be a fraction of one GPU (a shared GPU)
  // Trace GPU models it ran on or was constrained to; empty: not recorded.
  std::vector<std::string> gpu_models;
  std::string user;   // empty when the trace has no users
  std::string group;  // virtual cluster, queue or QoS class; empty when none
  std::string model;  // what it trains (Gavel's job types); empty when unknown
  std::string state;  // the trace's final state, lower case ("completed", "failed", ...)
  // Native rows only: the job as the native format gives it.
  std::optional<sched::Job> native;
  std::string file;  // where the row is
  int line = 0;
};

struct TraceReadOptions {
  bool strict = false;  // the first bad row fails the read
  // Gavel traces give steps, not time: durations are steps / isolated
  // throughput (steps/s) of `gavel_worker` GPUs from this table
  // (worker_type,job_type,scale_factor,isolated_throughput_steps_per_sec).
  std::optional<std::filesystem::path> gavel_throughputs;
  std::string gavel_worker = "v100";
};

// What reading found besides the jobs.
struct TraceStats {
  std::size_t rows = 0;     // data rows read (not counting headers and blank lines)
  std::size_t jobs = 0;     // jobs returned
  std::size_t skipped = 0;  // rows that are not jobs to replay (see `skip_reasons`)
  std::map<std::string, std::size_t> skip_reasons;  // "no GPU (CPU-only pod)": 1088
  std::size_t bad_rows = 0;                         // malformed rows, skipped
  std::vector<Diagnostic> first_bad_rows;           // the first kMaxBadRowsKept of them
  std::vector<std::string> assumptions;             // how gaps in the data were filled
  std::string time_origin;       // what submit_s = 0 is, in the trace's own terms
  bool times_are_dates = false;  // submit_s counts from the Unix epoch
  static constexpr std::size_t kMaxBadRowsKept = 20;
};

// Reads a trace file (or, for a folder, its files in name order: Gavel's per
// virtual-cluster traces) one job at a time.
class TraceReader {
 public:
  static Result<TraceReader> open(const std::filesystem::path& path, TraceFormat format,
                                  const TraceReadOptions& options = {});
  TraceReader(TraceReader&&) noexcept;
  TraceReader& operator=(TraceReader&&) noexcept;
  ~TraceReader();

  // The next job in file order; false at the end or, when strict, at the
  // first bad row (then error() says which).
  bool next(TraceJob& job);
  const TraceStats& stats() const;
  const std::optional<Error>& error() const;

 private:
  struct Impl;
  explicit TraceReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `straits trace inspect`: what a trace holds.
struct TraceSummary {
  std::string file;
  TraceFormat format = TraceFormat::kNative;
  TraceStats stats;
  double first_submit_s = 0, last_submit_s = 0;      // time span of arrivals
  double last_end_s = 0;                             // latest submit (or start) + duration
  double gpu_hours = 0;                              // sum of GPUs x duration, as traced
  std::map<std::string, std::size_t> gpu_histogram;  // "1", "2", ..., "<1" for shares
  std::map<std::string, std::size_t> gpu_models;     // jobs naming each model
  std::map<std::string, std::size_t> states;
  std::size_t users = 0, groups = 0;
  std::size_t with_start_times = 0;
  double mean_queue_s = 0, p50_queue_s = 0, p95_queue_s = 0;  // of jobs with start times
  double mean_duration_s = 0, p50_duration_s = 0, p95_duration_s = 0;
};

Result<TraceSummary> inspect_trace(const std::filesystem::path& path, TraceFormat format,
                                   const TraceReadOptions& options = {});

// How a scenario maps a trace onto its catalog (docs/traces.md).
struct TraceMapping {
  std::filesystem::path path;
  TraceFormat format = TraceFormat::kNative;
  TraceReadOptions read;
  // Trace GPU model -> catalog chips a job constrained to that model may use.
  // A job's eligible chips are the union over its models; a model missing
  // here (or a job naming none) gets `default_chips` (empty: any chip).
  std::map<std::string, std::vector<ChipId>> chips;
  std::vector<ChipId> default_chips;
  // Speed of the traced GPUs relative to the scenario's reference chip, per
  // trace model (a job on several models takes the slowest); jobs naming none
  // use `default_speed`. Work = duration x whole GPUs x speed.
  std::map<std::string, double> speed;
  double default_speed = 1;
  // Who runs the jobs: rules tried in order, the first match wins. A rule
  // matches a job when each of its given fields equals the job's ("*": any).
  struct OrgRule {
    std::optional<std::string> user, group, model;
    OrgId org;
    std::string team;  // empty: the job's group, else its user, else "default"
  };
  std::vector<OrgRule> orgs;
  // Which part of the trace, in trace seconds, and how its clock maps:
  // submit = scenario start + (trace submit - from) x time_scale.
  std::optional<double> from_s;  // absent: the first arrival
  std::optional<double> until_s;
  double time_scale = 1;
  std::optional<std::size_t> max_jobs;  // the first N jobs (in file order) of the window
  // Checkpoints: jobs of at least `checkpoint_min_gpus` GPUs checkpoint every
  // `checkpoint_interval`, `checkpoint_gb_per_gpu` GB per GPU.
  Duration checkpoint_interval = Duration::hours(2);
  int checkpoint_min_gpus = 8;
  double checkpoint_gb_per_gpu = 2;
};

struct ImportedTrace {
  std::vector<sched::Job> jobs;  // sorted by (submit, id)
  TraceStats stats;
  std::size_t outside_window = 0;  // jobs of the trace left out by from/until/max_jobs
  std::size_t unmatched = 0;       // jobs no org rule matched (left out)
  std::size_t rounded_up = 0;      // GPU shares given a whole GPU
};

// Reads and maps a trace. `origin` is the scenario's start.
Result<ImportedTrace> import_trace(const TraceMapping& mapping, Instant origin);

// What an import left out or assumed, a line each, for people: rows left out
// by reason, bad rows (the first few with file and line), jobs outside the
// window or matched by no org rule, GPU shares rounded up, assumptions.
std::vector<std::string> import_notes(const TraceMapping& mapping, const ImportedTrace& imported);

}  // namespace straits::sim
