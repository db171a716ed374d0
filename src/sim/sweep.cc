#include "sim/sweep.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "catalog/load.h"
#include "core/strings.h"
#include "policy/engine.h"
#include "sim/engine.h"
#include "sim/internal/html_page.h"
#include "sim/internal/svg.h"
#include "sim/internal/text.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Error vary_error(const std::string& message) {
  return Error(ErrorCode::kInvalidArgument, message, SourceLocation{"--vary", 0, 0});
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// A pack's folder name: "close-remote-access" for .../scenarios/close-remote-access/.
std::string pack_name(const fs::path& pack) {
  fs::path p = pack;
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

Result<std::vector<std::string>> params_of(const catalog::Catalog& catalog,
                                           const std::vector<fs::path>& packs) {
  auto engine = policy::Engine::load(catalog, packs);
  if (!engine) return std::move(engine).error();
  std::vector<std::string> names;
  for (const auto& [name, at] : engine->params()) names.push_back(name);
  return names;
}

// NAME among `params`: itself, or the one param ending in "_NAME".
Result<std::string> resolve_param(const std::string& name, const std::vector<std::string>& params,
                                  const std::string& where) {
  if (std::find(params.begin(), params.end(), name) != params.end()) return name;
  std::vector<std::string> matches, spellings;
  for (const auto& p : params) {
    if (p.size() > name.size() + 1 && p.compare(p.size() - name.size(), name.size(), name) == 0 &&
        p[p.size() - name.size() - 1] == '_') {
      matches.push_back(p);
    }
    spellings.push_back(p);
    for (std::size_t u = p.find('_'); u != std::string::npos; u = p.find('_', u + 1)) {
      spellings.push_back(p.substr(u + 1));
    }
  }
  if (matches.size() == 1) return matches.front();
  if (matches.size() > 1) {
    return vary_error("'" + name + "' is ambiguous in " + where + ": " + joined(matches) +
                      " all end in '_" + name + "'; name one in full");
  }
  return vary_error(
      "no param '" + name + "' in " + where + did_you_mean(name, spellings) +
      (params.empty() ? " (none is declared there)" : " (declared there: " + joined(params) + ")"));
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// `t` moved by whole calendar months, the day clamped to the month's end
// (2025-01-31 + 1 month = 2025-02-28), the time of day kept.
Instant add_months(Instant t, int months) {
  const Date d = date_of(t);
  const Duration time_of_day = t - Instant::from_date(d.year, d.month, d.day);
  const int index = d.year * 12 + (d.month - 1) + months;
  const int year = index / 12, month = index % 12 + 1;
  return Instant::from_date(year, month, std::min(d.day, days_in_month(year, month))) + time_of_day;
}

std::string label_of(Instant t) {
  const Date d = date_of(t);
  return Instant::from_date(d.year, d.month, d.day) == t ? to_iso_date(t) : to_iso8601(t);
}

Result<Instant> parse_value(std::string_view text) {
  auto t = parse_instant(internal::trim(text));
  if (!t) return vary_error("'" + std::string(text) + "': " + t.error().message());
  return *t;
}

Result<std::vector<Instant>> parse_values(std::string_view text) {
  std::vector<Instant> values;
  auto too_many = [&] {
    return vary_error("more than " + std::to_string(kMaxSweepValues) +
                      " values: a sweep runs one simulation per value; take a larger step");
  };
  if (auto dots = text.find(".."); dots != std::string_view::npos) {
    const std::string_view from_text = text.substr(0, dots);
    std::string_view rest = text.substr(dots + 2);
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
      return vary_error("the range '" + std::string(text) +
                        "' needs a step: FROM..TO/STEP, STEP daily, weekly, monthly, quarterly, "
                        "yearly or a duration such as 30d");
    }
    STRAITS_ASSIGN_OR_RETURN(Instant from, parse_value(from_text));
    STRAITS_ASSIGN_OR_RETURN(Instant to, parse_value(rest.substr(0, slash)));
    if (to < from) {
      return vary_error("the range '" + std::string(text) + "' ends before it starts");
    }
    const std::string step(internal::trim(rest.substr(slash + 1)));
    static const std::map<std::string, int> kMonths = {
        {"monthly", 1}, {"quarterly", 3}, {"yearly", 12}};
    std::optional<Duration> fixed_step;
    int months = 0;
    if (step == "daily") {
      fixed_step = Duration::days(1);
    } else if (step == "weekly") {
      fixed_step = Duration::days(7);
    } else if (auto it = kMonths.find(step); it != kMonths.end()) {
      months = it->second;
    } else {
      auto d = parse_duration(step);
      if (!d) {
        const std::vector<std::string> steps = {"daily", "weekly", "monthly", "quarterly",
                                                "yearly"};
        return vary_error("unknown step '" + step + "'" + did_you_mean(step, steps) +
                          ": daily, weekly, monthly, quarterly, yearly or a duration such as 30d");
      }
      if (*d <= Duration()) return vary_error("the step '" + step + "' must be positive");
      fixed_step = *d;
    }
    for (int k = 0;; ++k) {
      const Instant v = fixed_step ? from + *fixed_step * k : add_months(from, months * k);
      if (v > to) break;
      if (values.size() == kMaxSweepValues) return too_many();
      values.push_back(v);
    }
    return values;
  }
  std::set<Instant> seen;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t comma = text.find(',', begin);
    const std::string_view item = text.substr(
        begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin);
    if (internal::trim(item).empty()) {
      return vary_error("an empty value in '" + std::string(text) +
                        "': give FROM..TO/STEP or dates separated by commas");
    }
    STRAITS_ASSIGN_OR_RETURN(Instant v, parse_value(item));
    if (!seen.insert(v).second) {
      return vary_error("'" + std::string(internal::trim(item)) + "' is listed twice");
    }
    if (values.size() == kMaxSweepValues) return too_many();
    values.push_back(v);
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  return values;
}

}  // namespace

Result<SweepSpec> parse_vary(const Scenario& scenario, std::string_view vary) {
  const auto eq = vary.find('=');
  if (eq == std::string_view::npos) {
    return vary_error(
        "takes KEY=VALUES (e.g. rules.close-remote-access.from=2026-01-01..2027-01-01/"
        "quarterly), got '" +
        std::string(vary) + "'");
  }
  SweepSpec spec;
  spec.key = std::string(internal::trim(vary.substr(0, eq)));
  const std::string_view values_text = vary.substr(eq + 1);

  auto catalog = catalog::load_catalog(scenario.catalog_dir);
  if (!catalog) return std::move(catalog).error();
  constexpr std::string_view kParams = "params.", kRules = "rules.";
  if (spec.key.starts_with(kParams)) {
    const std::string name = spec.key.substr(kParams.size());
    STRAITS_ASSIGN_OR_RETURN(auto params, params_of(*catalog, scenario.rules));
    STRAITS_ASSIGN_OR_RETURN(spec.param,
                             resolve_param(name, params, "the packs of scenario " + scenario.name));
  } else if (spec.key.starts_with(kRules)) {
    const std::string rest = spec.key.substr(kRules.size());
    const auto dot = rest.rfind('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size()) {
      return vary_error("'" + spec.key +
                        "': a rules key is rules.PACK.NAME (PACK a rule pack of "
                        "the scenario, NAME one of its params)");
    }
    const std::string pack = rest.substr(0, dot), name = rest.substr(dot + 1);
    std::vector<std::string> packs;
    for (const auto& p : scenario.rules) packs.push_back(pack_name(p));
    const auto it = std::find(packs.begin(), packs.end(), pack);
    if (it == packs.end()) {
      return vary_error("scenario " + scenario.name + " has no rule pack '" + pack + "'" +
                        did_you_mean(pack, packs) + " (its packs: " + joined(packs) + ")");
    }
    // The params a pack declares: those its prefix of packs adds (a param
    // is declared once among the loaded packs).
    const auto index = static_cast<std::size_t>(it - packs.begin());
    const std::vector<fs::path> upto(scenario.rules.begin(),
                                     scenario.rules.begin() + static_cast<long>(index) + 1);
    STRAITS_ASSIGN_OR_RETURN(auto with, params_of(*catalog, upto));
    std::vector<std::string> before;
    if (index > 0) {
      const std::vector<fs::path> prefix(upto.begin(), upto.end() - 1);
      STRAITS_ASSIGN_OR_RETURN(before, params_of(*catalog, prefix));
    }
    std::vector<std::string> declared;
    for (const auto& p : with) {
      if (std::find(before.begin(), before.end(), p) == before.end()) declared.push_back(p);
    }
    STRAITS_ASSIGN_OR_RETURN(spec.param, resolve_param(name, declared, "pack " + pack));
  } else {
    return vary_error("'" + spec.key + "': KEY is params.NAME or rules.PACK.NAME");
  }

  STRAITS_ASSIGN_OR_RETURN(spec.values, parse_values(values_text));
  for (Instant v : spec.values) spec.labels.push_back(label_of(v));
  return spec;
}

Result<Sweep> run_sweep(const Scenario& scenario, const SweepSpec& spec, const fs::path& out_dir,
                        const SweepOptions& options) {
  const std::size_t n = spec.values.size();
  if (n == 0 || spec.labels.size() != n) return vary_error("no values to sweep");
  const std::uint64_t seed = options.seed.value_or(scenario.seed);
  auto scenario_for = [&](std::size_t i) {
    Scenario s = scenario;
    s.params[spec.param] = spec.labels[i];
    return s;
  };
  auto failed_at = [&](std::size_t i, Error e) {
    return std::move(e).with_context(spec.param + "=" + spec.labels[i]);
  };

  // The first value alone: its workload.jsonl is every other run's.
  SimOptions first;
  first.seed = seed;
  auto ran = run_simulation(scenario_for(0), first, out_dir / spec.labels[0]);
  if (!ran) return failed_at(0, std::move(ran).error());
  std::size_t done = 1;
  if (options.on_progress) options.on_progress(done, n);

  SimOptions rest = first;
  rest.workload = out_dir / spec.labels[0] / "workload.jsonl";
  std::vector<std::optional<Error>> errors(n);
  std::atomic<std::size_t> next{1};
  std::atomic<bool> stop{false};
  std::mutex progress_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < n && !stop; i = next++) {
      auto result = run_simulation(scenario_for(i), rest, out_dir / spec.labels[i]);
      if (!result) {
        errors[i] = std::move(result).error();
        stop = true;
      }
      const std::lock_guard<std::mutex> lock(progress_mutex);
      ++done;
      if (options.on_progress) options.on_progress(done, n);
    }
  };
  unsigned threads = options.threads > 0 ? options.threads : std::thread::hardware_concurrency();
  threads =
      static_cast<unsigned>(std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(n - 1, 1)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (std::size_t i = 0; i < n; ++i) {
    if (errors[i]) return failed_at(i, std::move(*errors[i]));
  }

  Sweep sweep;
  sweep.scenario = scenario.name;
  sweep.key = spec.key;
  sweep.param = spec.param;
  sweep.seed = seed;
  sweep.start = scenario.start;
  sweep.horizon_end = scenario.start + scenario.horizon;
  for (std::size_t i = 0; i < n; ++i) {
    auto metrics = read_run_metrics(out_dir / spec.labels[i]);
    if (!metrics) return failed_at(i, std::move(metrics).error());
    sweep.rows.push_back(SweepRow{spec.labels[i], spec.values[i], std::move(metrics).value()});
  }
  const std::pair<const char*, std::string> files[] = {{"sweep.csv", sweep_csv(sweep)},
                                                       {"sweep.json", sweep_json(sweep)},
                                                       {"sweep.html", sweep_html(sweep)}};
  for (const auto& [name, text] : files) {
    std::ofstream out(out_dir / name, std::ios::binary);
    out << text;
    out.close();
    if (!out) return Error(ErrorCode::kUnavailable, "cannot write " + (out_dir / name).string());
  }
  return sweep;
}

// ---------------------------------------------------------------------------
// Outputs

namespace {

// One outcome of a run, as the CSV, the JSON and the charts name it.
struct Outcome {
  const char* key;
  int decimals;
  double value(const RunMetrics& m) const;
};

constexpr Outcome kOutcomes[] = {
    {"jobs", 0},
    {"completed", 0},
    {"running", 0},
    {"pending", 0},
    {"stopped", 0},
    {"never", 0},
    {"mean_jct_hours", 3},
    {"p95_jct_hours", 3},
    {"mean_queue_hours", 3},
    {"p95_queue_hours", 3},
    {"total_cost", 2},
    {"moves", 0},
    {"gpu_hours_lost", 3},
    {"could_never_run", 0},
};

double Outcome::value(const RunMetrics& m) const {
  const std::string_view k = key;
  auto count = [](std::size_t n) { return static_cast<double>(n); };
  if (k == "jobs") return count(m.jobs);
  if (k == "completed") return count(m.completed);
  if (k == "running") return count(m.running);
  if (k == "pending") return count(m.pending);
  if (k == "stopped") return count(m.stopped);
  if (k == "never") return count(m.never);
  if (k == "mean_jct_hours") return m.mean_jct_hours;
  if (k == "p95_jct_hours") return m.p95_jct_hours;
  if (k == "mean_queue_hours") return m.mean_queue_hours;
  if (k == "p95_queue_hours") return m.p95_queue_hours;
  if (k == "total_cost") return m.total_cost;
  if (k == "moves") return count(m.moves);
  if (k == "gpu_hours_lost") return m.gpu_hours_lost;
  return count(m.could_never_run());
}

double rounded(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  const double r = std::round(v * scale) / scale;
  return r == 0 ? 0 : r;
}

}  // namespace

std::string sweep_csv(const Sweep& sweep) {
  std::string out = "value";
  for (const auto& o : kOutcomes) {
    out += ',';
    out += o.key;
  }
  out += '\n';
  for (const auto& row : sweep.rows) {
    out += row.label;
    for (const auto& o : kOutcomes) {
      out += ',';
      out += internal::fixed(o.value(row.metrics), o.decimals);
    }
    out += '\n';
  }
  return out;
}

std::string sweep_json(const Sweep& sweep) {
  json rows = json::array();
  for (const auto& row : sweep.rows) {
    json r = {{"value", row.label}};
    for (const auto& o : kOutcomes) r[o.key] = rounded(o.value(row.metrics), o.decimals);
    rows.push_back(r);
  }
  json out = {{"scenario", sweep.scenario},
              {"key", sweep.key},
              {"param", sweep.param},
              {"seed", sweep.seed},
              {"start", to_iso8601(sweep.start)},
              {"horizon_end", to_iso8601(sweep.horizon_end)},
              {"currency", sweep.rows.empty() ? "USD" : sweep.rows.front().metrics.currency},
              {"rows", rows}};
  return out.dump(2) + "\n";
}

namespace {

// An outcome (one series a line) against the swept date.
internal::LineChart outcome_chart(
    const Sweep& sweep, std::string id, std::string title, std::string y_title,
    const std::vector<std::pair<std::string, const Outcome*>>& lines) {
  internal::LineChart chart;
  chart.id = std::move(id);
  chart.title = std::move(title);
  chart.x.title = sweep.param + " (date, UTC)";
  chart.x.kind = internal::AxisKind::kTime;
  double lo = static_cast<double>(sweep.rows.front().value.unix_seconds()), hi = lo;
  for (const auto& row : sweep.rows) {
    lo = std::min(lo, static_cast<double>(row.value.unix_seconds()));
    hi = std::max(hi, static_cast<double>(row.value.unix_seconds()));
  }
  if (hi == lo) {  // one value: a day either side
    lo -= 86400;
    hi += 86400;
  }
  chart.x.min = lo;
  chart.x.max = hi;
  chart.y.title = std::move(y_title);
  for (const auto& [name, outcome] : lines) {
    internal::Series s;
    s.name = name;
    s.dots = true;
    std::vector<internal::Point> points;
    for (const auto& row : sweep.rows) {
      points.push_back(
          {static_cast<double>(row.value.unix_seconds()), outcome->value(row.metrics)});
    }
    std::sort(points.begin(), points.end(),
              [](const internal::Point& a, const internal::Point& b) { return a.x < b.x; });
    s.points = std::move(points);
    chart.series.push_back(std::move(s));
  }
  chart.markers = {
      {static_cast<double>(sweep.start.unix_seconds()), "start",
       to_iso_date(sweep.start) + ": the simulation starts"},
      {static_cast<double>(sweep.horizon_end.unix_seconds()), "horizon",
       to_iso8601(sweep.horizon_end) + ": the simulation ends; later dates change nothing"}};
  chart.plot_height = 200;
  return chart;
}

const Outcome* outcome(std::string_view key) {
  for (const auto& o : kOutcomes) {
    if (key == o.key) return &o;
  }
  return nullptr;
}

}  // namespace

std::string sweep_html(const Sweep& sweep) {
  std::string subtitle =
      "Scenario <b>" + internal::escape_xml(sweep.scenario) + "</b> run once per value of <code>" +
      internal::escape_xml(sweep.param) + "</code> (" + internal::escape_xml(sweep.key) + "), " +
      std::to_string(sweep.rows.size()) + " runs on the same " +
      (sweep.rows.empty() ? std::string("0") : std::to_string(sweep.rows.front().metrics.jobs)) +
      " jobs, seed " + std::to_string(sweep.seed) + "; simulated window " +
      to_iso_date(sweep.start) + " to " + to_iso_date(sweep.horizon_end) + ".";
  std::string out =
      internal::page_begin("Sweep: " + sweep.scenario + " by " + sweep.param, subtitle);
  if (!sweep.rows.empty()) {
    const std::string currency = sweep.rows.front().metrics.currency;
    out += internal::render(outcome_chart(
        sweep, "jct", "Job completion time (completed jobs)", "JCT (hours)",
        {{"mean", outcome("mean_jct_hours")}, {"95th percentile", outcome("p95_jct_hours")}}));
    out += internal::render(outcome_chart(
        sweep, "queue", "Queueing delay (jobs that started)", "Queueing delay (hours)",
        {{"mean", outcome("mean_queue_hours")}, {"95th percentile", outcome("p95_queue_hours")}}));
    out += internal::render(outcome_chart(sweep, "not-done", "Jobs not completed by the horizon",
                                          "Jobs",
                                          {{"running at the horizon", outcome("running")},
                                           {"pending at the horizon", outcome("pending")},
                                           {"stopped", outcome("stopped")},
                                           {"never ran", outcome("never")}}));
    out += internal::render(outcome_chart(sweep, "cost", "Total cost", "Cost (" + currency + ")",
                                          {{"total cost", outcome("total_cost")}}));
    out += internal::render(
        outcome_chart(sweep, "moves", "Moves", "Moves", {{"moves", outcome("moves")}}));
    out += internal::render(outcome_chart(sweep, "lost", "GPU-hours lost to moves", "GPU-hours",
                                          {{"GPU-hours lost", outcome("gpu_hours_lost")}}));
  }
  internal::HtmlTable table;
  table.headers = {sweep.param, "Completed",    "Running",     "Pending",        "Stopped",
                   "Never",     "Mean JCT (h)", "p95 JCT (h)", "Mean queue (h)", "p95 queue (h)",
                   "Cost",      "Moves",        "GPU-h lost"};
  for (const auto& row : sweep.rows) {
    const RunMetrics& m = row.metrics;
    table.rows.push_back({row.label, std::to_string(m.completed), std::to_string(m.running),
                          std::to_string(m.pending), std::to_string(m.stopped),
                          std::to_string(m.never), internal::fixed(m.mean_jct_hours, 2),
                          internal::fixed(m.p95_jct_hours, 2),
                          internal::fixed(m.mean_queue_hours, 2),
                          internal::fixed(m.p95_queue_hours, 2), internal::grouped(m.total_cost, 0),
                          std::to_string(m.moves), internal::fixed(m.gpu_hours_lost, 1)});
  }
  table.caption =
      "One row per run (folder OUT/<value>/); every figure is in sweep.csv and "
      "sweep.json.";
  out += "<h2>Runs</h2>\n" + internal::render(table);
  out += internal::page_end();
  return out;
}

}  // namespace straits::sim
