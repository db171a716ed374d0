// straits sim compare|sweep: what-if comparisons and parameter sweeps
// (docs/scenarios.md, docs/what-if.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/table.h"
#include "sim/compare.h"
#include "sim/sweep.h"

namespace straits::cli {
namespace {

struct CompareCliOptions {
  std::string baseline, whatif, out = "what-if";
  std::optional<std::uint64_t> seed;
  bool json = false, quiet = false;
};

struct SweepCliOptions {
  std::string scenario, vary, out = "sweep";
  std::optional<std::uint64_t> seed;
  unsigned jobs = 0;
  bool json = false, quiet = false;
};

using sim::human_delay;
using sim::short_time;

// "6,832,347", "97.00": thousands separated, for the long figures (cost).
std::string grouped(double v, int decimals) {
  std::string text = format_number(v, decimals);
  if (text.find_first_not_of("-0.") == std::string::npos) return format_number(0, decimals);
  const std::size_t begin = text.front() == '-' ? 1 : 0;
  std::size_t end = text.find('.');
  if (end == std::string::npos) end = text.size();
  for (std::size_t at = end; at > begin + 3; at -= 3) text.insert(at - 3, ",");
  return text;
}

std::string signed_number(double v, int decimals) {
  std::string text = grouped(v, decimals);
  return v > 0 && text.find_first_not_of("0.,") != std::string::npos ? "+" + text : text;
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void print_comparison(std::ostream& out, const sim::Comparison& c, const std::string& dir) {
  out << "What-if " << c.whatif_scenario << " against baseline " << c.baseline_scenario << ": "
      << c.baseline.jobs << " jobs, seed " << c.seed << ", " << to_iso_date(c.start) << " to "
      << to_iso_date(c.horizon_end) << "\n\n";
  using A = Table::Align;
  Table headline({"", "baseline", "what-if", "delta", "ratio"},
                 {A::kLeft, A::kRight, A::kRight, A::kRight, A::kRight});
  for (const auto& m : c.metrics) {
    headline.add_row({m.label + (m.unit.empty() ? "" : " (" + m.unit + ")"),
                      grouped(m.baseline, m.decimals), grouped(m.whatif, m.decimals),
                      signed_number(m.delta, m.decimals),
                      !m.ratio         ? ""
                      : *m.ratio > 100 ? ">100x"  // the baseline is next to nothing
                                       : format_number(*m.ratio, 2) + "x"});
  }
  for (const auto& m : c.states) {
    headline.add_row({"jobs " + m.label, grouped(m.baseline, 0), grouped(m.whatif, 0),
                      signed_number(m.delta, 0), ""});
  }
  headline.print(out);

  out << "\nJobs that could no longer run anywhere in the what-if: " << c.no_longer_run.size();
  if (!c.no_longer_run.empty()) {
    out << " (" << c.no_longer_run_completed_in_baseline << " had completed in the baseline)";
  }
  if (c.ran_nowhere_in_both > 0) {
    out << "; " << c.ran_nowhere_in_both << " more ran nowhere in either run";
  }
  out << "\n";
  constexpr std::size_t kShown = 10;
  for (std::size_t i = 0; i < c.no_longer_run.size() && i < kShown; ++i) {
    const auto& l = c.no_longer_run[i];
    out << "  " << l.id << " (" << l.org << "/" << l.team << ", " << l.gpus
        << (l.gpus == 1 ? " GPU): " : " GPUs): ") << l.state << ", " << l.reason
        << "; baseline: " << l.baseline_state << "\n";
  }
  if (c.no_longer_run.size() > kShown) {
    out << "  ... and " << c.no_longer_run.size() - kShown << " more (compare.json lists all)\n";
  }

  out << "\n";
  Table countries({"utilisation", "baseline (%)", "what-if (%)", "delta (points)"},
                  {A::kLeft, A::kRight, A::kRight, A::kRight});
  for (const auto& u : c.countries) {
    countries.add_row({u.country, format_number(u.baseline * 100, 2),
                       format_number(u.whatif * 100, 2),
                       signed_number((u.whatif - u.baseline) * 100, 2)});
  }
  countries.print(out);

  out << "\n";
  auto done = [](const sim::TeamProgress& p) {
    if (p.finished) return short_time(*p.finished);
    return std::to_string(p.jobs_left) + (p.jobs_left == 1 ? " job left" : " jobs left");
  };
  auto p95 = [](const sim::TeamProgress& p) { return p.p95_done ? short_time(*p.p95_done) : "-"; };
  Table teams({"team", "jobs", "baseline done", "what-if done", "delay", "baseline 95%",
               "what-if 95%", "delay"},
              {A::kLeft, A::kRight, A::kLeft, A::kLeft, A::kRight, A::kLeft, A::kLeft, A::kRight});
  for (const auto& t : c.teams) {
    auto delay = t.delay();
    auto p95_delay = t.p95_delay();
    teams.add_row({t.org + "/" + t.team, std::to_string(t.jobs), done(t.baseline), done(t.whatif),
                   delay ? human_delay(*delay) : "", p95(t.baseline), p95(t.whatif),
                   p95_delay ? human_delay(*p95_delay) : ""});
  }
  teams.print(out);
  out << "(times UTC; \"done\": every job of the team completed; \"95%\": 95% of its jobs had)\n\n"
      << "outputs in " << dir << ": compare.html, compare.json, baseline/, whatif/\n";
}

void run_compare(Context& context, const CompareCliOptions& o) {
  const std::filesystem::path root = shipped_path(context, "rules").parent_path();
  auto baseline = sim::load_scenario(o.baseline, root);
  if (!baseline) return context.fail(baseline.error().to_string());
  auto whatif = sim::load_scenario(o.whatif, root);
  if (!whatif) return context.fail(whatif.error().to_string());
  sim::CompareOptions options;
  options.seed = o.seed;
  options.progress = !o.quiet && ::isatty(2);
  if (options.progress) {
    options.on_run = [](int run, const std::string& name) {
      std::fprintf(stderr, "%s %s (run %d of 2)\n", run == 0 ? "baseline" : "what-if", name.c_str(),
                   run + 1);
    };
  }
  auto comparison = sim::compare_scenarios(*baseline, *whatif, o.out, options);
  if (!comparison) return context.fail(comparison.error().to_string());
  if (o.json) {
    *context.out << read_file(std::filesystem::path(o.out) / "compare.json");
    return;
  }
  if (o.quiet) return;
  print_comparison(*context.out, *comparison, o.out);
}

void print_sweep(std::ostream& out, const sim::Sweep& s, const std::string& dir) {
  out << "Sweep of " << s.param << " (" << s.key << ") over scenario " << s.scenario << ": "
      << s.rows.size() << (s.rows.size() == 1 ? " run, " : " runs, ")
      << (s.rows.empty() ? 0 : s.rows.front().metrics.jobs) << " jobs each, seed " << s.seed << ", "
      << to_iso_date(s.start) << " to " << to_iso_date(s.horizon_end) << "\n\n";
  using A = Table::Align;
  Table table({s.param, "completed", "running", "pending", "stopped", "never", "mean JCT h",
               "p95 JCT h", "mean queue h", "p95 queue h", "cost", "moves", "GPU-h lost"},
              {A::kLeft, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight,
               A::kRight, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight});
  for (const auto& row : s.rows) {
    const auto& m = row.metrics;
    table.add_row({row.label, std::to_string(m.completed), std::to_string(m.running),
                   std::to_string(m.pending), std::to_string(m.stopped), std::to_string(m.never),
                   format_number(m.mean_jct_hours, 2), format_number(m.p95_jct_hours, 2),
                   format_number(m.mean_queue_hours, 2), format_number(m.p95_queue_hours, 2),
                   grouped(m.total_cost, 0), std::to_string(m.moves),
                   format_number(m.gpu_hours_lost, 1)});
  }
  table.print(out);
  out << "\noutputs in " << dir << ": sweep.html, sweep.csv, sweep.json, one folder per value\n";
}

void run_sweep(Context& context, const SweepCliOptions& o) {
  const std::filesystem::path root = shipped_path(context, "rules").parent_path();
  auto scenario = sim::load_scenario(o.scenario, root);
  if (!scenario) return context.fail(scenario.error().to_string());
  auto spec = sim::parse_vary(*scenario, o.vary);
  if (!spec) return context.fail(spec.error().to_string());
  sim::SweepOptions options;
  options.seed = o.seed;
  options.threads = o.jobs;
  // One bar for the whole sweep (the runs' own bars would interleave).
  const bool bar = !o.quiet && ::isatty(2);
  if (bar) {
    options.on_progress = [](std::size_t done, std::size_t total) {
      const int width = 30;
      const int filled = static_cast<int>(done * width / total);
      std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu runs ", filled, "##############################",
                   width - filled, "", done, total);
      std::fflush(stderr);
    };
    std::fprintf(stderr, "\r[%*s] 0/%zu runs ", 30, "", spec->values.size());
    std::fflush(stderr);
  }
  auto sweep = sim::run_sweep(*scenario, *spec, o.out, options);
  if (bar) std::fprintf(stderr, "\r%-60s\r", "");
  if (!sweep) return context.fail(sweep.error().to_string());
  if (o.json) {
    *context.out << read_file(std::filesystem::path(o.out) / "sweep.json");
    return;
  }
  if (o.quiet) return;
  print_sweep(*context.out, *sweep, o.out);
}

}  // namespace

void add_sim_whatif_commands(CLI::App& sim, Context& context) {
  auto c = std::make_shared<CompareCliOptions>();
  CLI::App* compare = sim.add_subcommand(
      "compare", "Run a baseline and a what-if on the same jobs and seed, side by side");
  compare->add_option("baseline", c->baseline, "Baseline scenario (YAML)")->required();
  compare->add_option("whatif", c->whatif, "What-if scenario (YAML)")->required();
  compare->add_option("--out", c->out, "Output folder (default: what-if)");
  compare->add_option("--seed", c->seed, "Seed replacing the baseline's (both runs)");
  compare->add_flag("--json", c->json, "Print compare.json instead of the tables");
  compare->add_flag("--quiet", c->quiet, "No progress, no tables");
  compare->callback([&context, c] { run_compare(context, *c); });

  auto s = std::make_shared<SweepCliOptions>();
  CLI::App* sweep =
      sim.add_subcommand("sweep", "Run a scenario once per value of a rule param and chart it");
  sweep->add_option("scenario", s->scenario, "Scenario file (YAML)")->required();
  sweep
      ->add_option("--vary", s->vary,
                   "KEY=VALUES: KEY params.NAME or rules.PACK.NAME; VALUES FROM..TO/STEP "
                   "(daily, weekly, monthly, quarterly, yearly, or a duration like 30d) or a "
                   "comma list of dates")
      ->required();
  sweep->add_option("--out", s->out, "Output folder (default: sweep)");
  sweep->add_option("--jobs", s->jobs, "Simulations at once (default: one per core)")
      ->check(CLI::PositiveNumber);
  sweep->add_option("--seed", s->seed, "Seed replacing the scenario's (every run)");
  sweep->add_flag("--json", s->json, "Print sweep.json instead of the table");
  sweep->add_flag("--quiet", s->quiet, "No progress, no table");
  sweep->callback([&context, s] { run_sweep(context, *s); });
}

}  // namespace straits::cli
