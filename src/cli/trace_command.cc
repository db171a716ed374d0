// straits trace inspect|fidelity
#include <CLI/CLI.hpp>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "sim/fidelity.h"
#include "sim/scenario.h"
#include "sim/trace.h"

namespace straits::cli {
namespace {

using nlohmann::json;

struct InspectOptions {
  std::string file, format, throughputs, worker = "v100";
  bool json = false, strict = false;
};

// "3.2 d", "41 min": a span of trace time for a person to read.
std::string span_text(double seconds) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1);
  if (seconds >= 2 * 86400) {
    out << seconds / 86400 << " d";
  } else if (seconds >= 2 * 3600) {
    out << seconds / 3600 << " h";
  } else if (seconds >= 120) {
    out << seconds / 60 << " min";
  } else {
    out << seconds << " s";
  }
  return out.str();
}

// Sizes in numeric order ("<1" first), not text order.
std::vector<std::pair<std::string, std::size_t>> by_size(
    const std::map<std::string, std::size_t>& histogram) {
  std::vector<std::pair<std::string, std::size_t>> out(histogram.begin(), histogram.end());
  auto key = [](const std::string& s) { return s == "<1" ? 0.0 : std::stod(s); };
  std::sort(out.begin(), out.end(),
            [&](const auto& a, const auto& b) { return key(a.first) < key(b.first); });
  return out;
}

json summary_json(const sim::TraceSummary& s) {
  json histogram = json::array();
  for (const auto& [size, jobs] : by_size(s.gpu_histogram)) {
    histogram.push_back({{"gpus", size}, {"jobs", jobs}});
  }
  json bad = json::array();
  for (const auto& d : s.stats.first_bad_rows) {
    bad.push_back({{"file", d.where.file}, {"line", d.where.line}, {"message", d.message}});
  }
  return json{
      {"file", s.file},
      {"format", std::string(sim::trace_format_name(s.format))},
      {"rows", s.stats.rows},
      {"jobs", s.stats.jobs},
      {"skipped", s.stats.skipped},
      {"skip_reasons", s.stats.skip_reasons},
      {"bad_rows", s.stats.bad_rows},
      {"first_bad_rows", bad},
      {"time_origin", s.stats.time_origin},
      {"times_are_dates", s.stats.times_are_dates},
      {"first_submit_s", s.first_submit_s},
      {"last_submit_s", s.last_submit_s},
      {"span_s", s.last_submit_s - s.first_submit_s},
      {"last_end_s", s.last_end_s},
      {"gpu_hours", s.gpu_hours},
      {"gpu_histogram", histogram},
      {"gpu_models", s.gpu_models},
      {"states", s.states},
      {"users", s.users},
      {"groups", s.groups},
      {"with_start_times", s.with_start_times},
      {"queue_s", {{"mean", s.mean_queue_s}, {"p50", s.p50_queue_s}, {"p95", s.p95_queue_s}}},
      {"duration_s",
       {{"mean", s.mean_duration_s}, {"p50", s.p50_duration_s}, {"p95", s.p95_duration_s}}},
      {"assumptions", s.stats.assumptions},
  };
}

// "  states      completed 4, failed 2": one labelled line, nothing when empty.
void print_counts(std::ostream& out, const std::string& label,
                  const std::map<std::string, std::size_t>& counts) {
  if (counts.empty()) return;
  out << "  " << std::left << std::setw(12) << label << std::right;
  const char* separator = "";
  for (const auto& [name, n] : counts) {
    out << separator << name << " " << n;
    separator = ", ";
  }
  out << "\n";
}

void print_summary(std::ostream& out, const sim::TraceSummary& s) {
  out << s.file << " (" << sim::trace_format_name(s.format) << ")\n";
  out << "  jobs        " << s.stats.jobs << " of " << s.stats.rows << " rows";
  if (s.stats.skipped) out << "; " << s.stats.skipped << " left out";
  if (s.stats.bad_rows) out << "; " << s.stats.bad_rows << " bad rows skipped";
  out << "\n";
  for (const auto& [why, n] : s.stats.skip_reasons)
    out << "              " << n << " " << why << "\n";
  out << "  arrivals    over " << span_text(s.last_submit_s - s.first_submit_s);
  if (s.stats.times_are_dates) {
    auto date = [](double seconds) {
      return to_iso8601(Instant::from_unix_microseconds(std::llround(seconds * 1e6)));
    };
    out << " (" << date(s.first_submit_s) << " to " << date(s.last_submit_s) << ")\n";
  } else {
    out << " (second " << static_cast<long long>(s.first_submit_s) << " to "
        << static_cast<long long>(s.last_submit_s) << " from " << s.stats.time_origin << ")\n";
  }
  out << std::fixed << std::setprecision(0);
  out << "  GPU-hours   " << s.gpu_hours << " as traced\n";
  out << "  run time    mean " << span_text(s.mean_duration_s) << ", p50 "
      << span_text(s.p50_duration_s) << ", p95 " << span_text(s.p95_duration_s) << "\n";
  if (s.with_start_times) {
    out << "  queueing    mean " << span_text(s.mean_queue_s) << ", p50 "
        << span_text(s.p50_queue_s) << ", p95 " << span_text(s.p95_queue_s) << " ("
        << s.with_start_times << " jobs with start times)\n";
  } else {
    out << "  queueing    not recorded (no start times)\n";
  }
  out << "  GPUs/job\n";
  std::size_t widest = 1;
  for (const auto& [size, n] : s.gpu_histogram) widest = std::max(widest, n);
  for (const auto& [size, n] : by_size(s.gpu_histogram)) {
    const int bar =
        static_cast<int>(std::lround(40.0 * static_cast<double>(n) / static_cast<double>(widest)));
    out << "  " << std::setw(12) << size << "  " << std::setw(8) << n << "  "
        << std::string(static_cast<std::size_t>(std::max(bar, n ? 1 : 0)), '#') << "\n";
  }
  print_counts(out, "GPU models", s.gpu_models);
  print_counts(out, "states", s.states);
  if (s.users || s.groups) out << "  users       " << s.users << ", groups " << s.groups << "\n";
  for (const auto& a : s.stats.assumptions) out << "  assumed     " << a << "\n";
  for (const auto& d : s.stats.first_bad_rows) out << "  bad row     " << to_string(d) << "\n";
  if (s.stats.bad_rows > s.stats.first_bad_rows.size()) {
    out << "  bad row     ... and " << s.stats.bad_rows - s.stats.first_bad_rows.size()
        << " more\n";
  }
}

void run_inspect(Context& context, const InspectOptions& o) {
  auto format = sim::parse_trace_format(o.format);
  if (!format) return context.fail(format.error().message());
  sim::TraceReadOptions read;
  read.strict = o.strict;
  read.gavel_worker = o.worker;
  if (!o.throughputs.empty()) {
    read.gavel_throughputs = o.throughputs;
  } else if (*format == sim::TraceFormat::kGavel) {
    // The table shipped with the project, from the same Gavel commit as its traces.
    auto shipped = shipped_path(context, "data") / "gavel" / "gavel_isolated_throughputs.csv";
    if (std::filesystem::exists(shipped)) read.gavel_throughputs = shipped;
  }
  auto summary = sim::inspect_trace(o.file, *format, read);
  if (!summary) return context.fail(summary.error().to_string());
  if (read.gavel_throughputs && o.throughputs.empty()) {
    summary->stats.assumptions.push_back("throughputs from " + read.gavel_throughputs->string());
  }
  if (o.json) {
    *context.out << summary_json(*summary).dump(2) << "\n";
  } else {
    print_summary(*context.out, *summary);
  }
}

struct FidelityOptions {
  std::string scenario, out;
  bool json = false;
};

std::string seconds_text(double s) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(s < 100 ? 1 : 0) << s << " s";
  return out.str();
}

void run_fidelity(Context& context, const FidelityOptions& o) {
  std::filesystem::path root = shipped_path(context, "rules").parent_path();
  auto scenario = sim::load_scenario(o.scenario, root);
  if (!scenario) return context.fail(scenario.error().to_string());
  auto report = sim::check_fidelity(*scenario, o.out);
  if (!report) return context.fail(report.error().to_string());
  if (o.json) {
    std::ifstream in(std::filesystem::path(o.out) / "fidelity.json");
    *context.out << in.rdbuf();
    return;
  }
  const auto& r = *report;
  auto& out = *context.out;
  out << "replayed " << r.jobs << " jobs of the trace that record their start, under "
      << sched::to_string(scenario->scheduler.policy) << "\n\n";
  out << "  queueing delay      traced      simulated\n";
  out << "  mean          " << std::setw(12) << seconds_text(r.traced_queue_s.mean) << std::setw(15)
      << seconds_text(r.simulated_queue_s.mean) << "\n";
  for (std::size_t i = 0; i < r.traced_queue_s.quantiles.size(); ++i) {
    const double q = r.traced_queue_s.quantiles[i].first;
    out << "  p" << std::left << std::setw(12) << static_cast<int>(std::lround(q * 100))
        << std::right << std::setw(12) << seconds_text(r.traced_queue_s.quantiles[i].second)
        << std::setw(15) << seconds_text(r.simulated_queue_s.quantiles[i].second) << "\n";
  }
  out << std::setprecision(3) << std::fixed;
  out << "\n  KS distance " << r.ks_distance << "; mean |difference| "
      << seconds_text(r.mean_abs_queue_difference_s) << "; started later " << r.started_later
      << ", earlier " << r.started_earlier << ", same " << r.started_same << "\n";
  out << std::setprecision(4);
  out << "  utilisation over " << std::setprecision(0) << r.window_hours << " h: traced "
      << std::setprecision(4) << r.traced_utilisation << " (whole GPUs), "
      << r.traced_share_utilisation << " (GPU shares); simulated " << r.simulated_utilisation
      << "\n\n  not modelled:\n";
  for (const auto& n : r.not_modelled) out << "  - " << n << "\n";
  out << "\noutputs in " << o.out << " (fidelity.json, jobs.csv, ...)\n";
}

}  // namespace

void add_trace_command(CLI::App& app, Context& context) {
  CLI::App* trace = app.add_subcommand("trace", "Read real GPU-cluster traces");
  trace->require_subcommand(1);
  auto o = std::make_shared<InspectOptions>();
  CLI::App* inspect =
      trace->add_subcommand("inspect", "Summarise a trace: jobs, span, GPU sizes, GPU-hours");
  inspect->add_option("file", o->file, "Trace file, or a folder of trace files")->required();
  inspect->add_option("--format", o->format, sim::trace_format_names())->required();
  inspect->add_flag("--json", o->json, "JSON output");
  inspect->add_flag("--strict", o->strict, "Fail at the first bad row instead of skipping it");
  inspect->add_option("--throughputs", o->throughputs,
                      "gavel: throughput table turning steps into time (default: the shipped "
                      "data/gavel/gavel_isolated_throughputs.csv)");
  inspect->add_option("--worker", o->worker, "gavel: the GPU type the durations are taken on");
  inspect->callback([&context, o] { run_inspect(context, *o); });

  auto f = std::make_shared<FidelityOptions>();
  CLI::App* fidelity = trace->add_subcommand(
      "fidelity", "Replay a trace that records its starts and compare queueing and utilisation");
  fidelity->add_option("scenario", f->scenario, "Scenario whose workload is the trace")->required();
  fidelity->add_option("--out", f->out, "Output folder")->required();
  fidelity->add_flag("--json", f->json, "Print fidelity.json");
  fidelity->callback([&context, f] { run_fidelity(context, *f); });
}

}  // namespace straits::cli
