// straits sim run|generate|verify|report|policies
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/commands.h"
#include "sched/queue_policy.h"
#include "sim/engine.h"
#include "sim/generator.h"
#include "sim/report.h"
#include "sim/verify.h"
#include "sim/workload.h"

namespace straits::cli {
namespace {

struct RunOptions {
  std::string scenario, out, workload;
  std::optional<std::uint64_t> seed;
  bool quiet = false;
  bool report = false;
};

struct GenerateOptions {
  std::size_t jobs = 1000;
  std::uint64_t seed = 1;
  std::string out, start = "2026-01-01";
  std::vector<std::string> orgs;
  double load = 0.8, median_hours = 1.0;
  int fleet_gpus = 10000, max_gpus = 1024;
};

struct VerifyOptions {
  std::string dir;
};

struct ReportOptions {
  std::string dir, out;
};

void run_sim(Context& context, const RunOptions& o) {
  std::filesystem::path root = shipped_path(context, "rules").parent_path();
  auto scenario = sim::load_scenario(o.scenario, root);
  if (!scenario) return context.fail(scenario.error().to_string());
  sim::SimOptions options;
  if (!o.workload.empty()) options.workload = o.workload;
  options.seed = o.seed;
  options.progress = !o.quiet && ::isatty(2);
  auto summary = sim::run_simulation(*scenario, options, o.out);
  if (!summary) return context.fail(summary.error().to_string());
  const std::filesystem::path report = std::filesystem::path(o.out) / "report.html";
  if (o.report) {
    auto written = sim::write_report(o.out, report);
    if (!written) return context.fail(written.error().to_string());
  }
  if (o.quiet) return;
  const auto& s = *summary;
  for (const auto& note : s.workload_notes) *context.err << "note: " << note << "\n";
  *context.out << "simulated " << s.jobs << " jobs (" << s.events << " events): " << s.completed
               << " completed, " << s.running << " running at the horizon, " << s.pending
               << " pending, " << s.stopped << " stopped, " << s.never << " could never run; "
               << s.moves << " moves; mean JCT " << s.mean_jct_hours << " h; cost "
               << static_cast<long long>(s.total_cost) << " " << s.currency << "\n"
               << "outputs in " << o.out << " (summary.json, jobs.csv, intervals.csv, "
               << "timeseries.csv, moves.csv)\n";
  if (o.report) *context.out << "report in " << report.string() << "\n";
}

void run_generate(Context& context, const GenerateOptions& o) {
  sim::GeneratorOptions g;
  g.jobs = o.jobs;
  g.seed = o.seed;
  auto start = parse_instant(o.start);
  if (!start) return context.fail("--start: " + start.error().message());
  g.start = *start;
  g.load = o.load;
  g.median_hours = o.median_hours;
  g.fleet_gpus = o.fleet_gpus;
  g.max_gpus = o.max_gpus;
  for (const auto& spec : o.orgs) {
    auto eq = spec.find('=');
    double weight = 1;
    if (eq != std::string::npos) {
      try {
        weight = std::stod(spec.substr(eq + 1));
      } catch (...) {
        return context.fail("--orgs takes ORG or ORG=WEIGHT, got '" + spec + "'");
      }
    }
    g.orgs.emplace_back(OrgId(spec.substr(0, eq)), weight);
  }
  auto jobs = sim::generate_workload(g);
  auto written = sim::write_workload(o.out, jobs);
  if (!written) return context.fail(written.error().to_string());
  *context.out << "wrote " << jobs.size() << " jobs to " << o.out << "\n";
}

void run_report(Context& context, const ReportOptions& o) {
  const std::filesystem::path file =
      o.out.empty() ? std::filesystem::path(o.dir) / "report.html" : std::filesystem::path(o.out);
  auto written = sim::write_report(o.dir, file);
  if (!written) return context.fail(written.error().to_string());
  *context.out << "report in " << file.string() << "\n";
}

void run_verify(Context& context, const VerifyOptions& o) {
  auto report = sim::verify_run(o.dir);
  if (!report) return context.fail(report.error().to_string());
  for (const auto& v : report->violations) {
    *context.err << v.where << ": " << v.check << ": " << v.message << "\n";
  }
  if (!report->ok()) {
    context.fail(std::to_string(report->violations.size()) + " invariant violations in " + o.dir);
    return;
  }
  *context.out << "verified " << report->intervals << " intervals of " << report->jobs
               << " jobs: capacity, gangs, leases, policy and consistency hold\n";
}

}  // namespace

void add_sim_command(CLI::App& app, Context& context) {
  CLI::App* sim = app.add_subcommand("sim", "Simulate workloads over fleets and rule changes");
  sim->require_subcommand(1);

  auto run_options = std::make_shared<RunOptions>();
  CLI::App* run = sim->add_subcommand("run", "Run a scenario and write its outputs");
  run->add_option("scenario", run_options->scenario, "Scenario file (YAML)")->required();
  run->add_option("--out", run_options->out, "Output folder")->required();
  run->add_option("--workload", run_options->workload,
                  "A native workload replacing the scenario's");
  run->add_option("--seed", run_options->seed, "Seed replacing the scenario's");
  run->add_flag("--quiet", run_options->quiet, "No progress bar, no summary");
  run->add_flag("--report", run_options->report,
                "Also write DIR/report.html: charts of the run, one self-contained page");
  run->callback([&context, run_options] { run_sim(context, *run_options); });

  auto gen_options = std::make_shared<GenerateOptions>();
  CLI::App* gen = sim->add_subcommand("generate", "Write a synthetic workload (native format)");
  gen->add_option("--jobs", gen_options->jobs, "Number of jobs")->check(CLI::PositiveNumber);
  gen->add_option("--seed", gen_options->seed, "Seed");
  gen->add_option("--out", gen_options->out, "Output file (.jsonl or .csv)")->required();
  gen->add_option("--start", gen_options->start, "First arrival date");
  gen->add_option("--orgs", gen_options->orgs, "Orgs as ORG or ORG=WEIGHT");
  gen->add_option("--load", gen_options->load, "Offered load, fraction of the fleet");
  gen->add_option("--fleet-gpus", gen_options->fleet_gpus, "Fleet size the load refers to");
  gen->add_option("--max-gpus", gen_options->max_gpus, "Largest gang");
  gen->add_option("--median-hours", gen_options->median_hours,
                  "Median run time on the reference chip");
  gen->callback([&context, gen_options] { run_generate(context, *gen_options); });

  auto verify_options = std::make_shared<VerifyOptions>();
  CLI::App* verify = sim->add_subcommand("verify", "Check a run's outputs against the invariants");
  verify->add_option("dir", verify_options->dir, "Output folder of sim run")->required();
  verify->callback([&context, verify_options] { run_verify(context, *verify_options); });

  auto report_options = std::make_shared<ReportOptions>();
  CLI::App* report =
      sim->add_subcommand("report", "Write the HTML report of a run from its output folder");
  report->add_option("dir", report_options->dir, "Output folder of sim run")->required();
  report->add_option("--out", report_options->out, "The page to write (default DIR/report.html)");
  report->callback([&context, report_options] { run_report(context, *report_options); });

  CLI::App* policies =
      sim->add_subcommand("policies", "Print the queue policies as docs/scenarios.md's table");
  policies->callback([&context] { *context.out << sched::queue_policy_table(); });

  add_sim_whatif_commands(*sim, context);
}

}  // namespace straits::cli
