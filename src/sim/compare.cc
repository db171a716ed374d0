#include "sim/compare.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sim/engine.h"
#include "sim/internal/csv.h"
#include "sim/internal/html_page.h"
#include "sim/internal/stats.h"
#include "sim/internal/svg.h"
#include "sim/internal/text.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ojson = nlohmann::ordered_json;  // outputs keep the order written

const char* const kRunNames[] = {"baseline", "what-if"};

// ---------------------------------------------------------------------------
// Reading a run's files

Result<std::string> read_text_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "cannot read " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Status write_text_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  out.close();
  if (!out) return Error(ErrorCode::kUnavailable, "cannot write " + file.string());
  return ok();
}

// Whether two files hold the same bytes, read in chunks (a workload of a
// million jobs is hundreds of MB).
Result<bool> same_bytes(const fs::path& a, const fs::path& b) {
  std::ifstream in_a(a, std::ios::binary), in_b(b, std::ios::binary);
  if (!in_a) return Error(ErrorCode::kNotFound, "cannot read " + a.string());
  if (!in_b) return Error(ErrorCode::kNotFound, "cannot read " + b.string());
  std::string chunk_a(1 << 16, '\0'), chunk_b(1 << 16, '\0');
  for (;;) {
    in_a.read(chunk_a.data(), static_cast<std::streamsize>(chunk_a.size()));
    in_b.read(chunk_b.data(), static_cast<std::streamsize>(chunk_b.size()));
    const auto n_a = in_a.gcount(), n_b = in_b.gcount();
    if (n_a != n_b || chunk_a.compare(0, static_cast<std::size_t>(n_a), chunk_b, 0,
                                      static_cast<std::size_t>(n_b)) != 0) {
      return false;
    }
    if (n_a == 0) return true;
  }
}

Result<json> read_json_file(const fs::path& file) {
  STRAITS_ASSIGN_OR_RETURN(std::string text, read_text_file(file));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(ErrorCode::kInvalidArgument, "not a JSON object",
                 SourceLocation{file.string(), 0, 0});
  }
  return j;
}

// A decimal number with at most six decimals ("137.33", "0.000000") in
// millionths, exactly: sums of a million rows lose nothing.
std::optional<std::int64_t> parse_millionths(std::string_view text) {
  bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  std::size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || fraction.size() > 6 || (dot != std::string_view::npos && fraction.empty())) {
    return std::nullopt;
  }
  auto units = internal::parse_number<std::int64_t>(whole);
  if (!units || *units > 9'000'000'000'000) return std::nullopt;
  std::int64_t micros = *units * 1'000'000;
  std::int64_t scale = 100'000;
  for (char ch : fraction) {
    if (ch < '0' || ch > '9') return std::nullopt;
    micros += (ch - '0') * scale;
    scale /= 10;
  }
  return negative ? -micros : micros;
}

// One row of jobs.csv, with the columns compare reads.
struct JobRow {
  std::string id, org, team, state, reason;
  int gpus = 0;
  std::optional<Instant> end;
  std::optional<std::int64_t> queue_delay_s, jct_s;
  std::int64_t cost_micros = 0, lost_micro_gpu_hours = 0;
  std::int64_t moves = 0;
};

// Reads jobs.csv as a stream, finding its columns by name; bad cells are
// reported as FILE:LINE (up to CsvFileReader::kMaxProblems).
Result<std::vector<JobRow>> read_jobs_csv(const fs::path& file) {
  internal::CsvFileReader csv;
  STRAITS_TRY(csv.open(file, {"id", "org", "team", "gpus", "end", "state", "reason",
                              "queue_delay_s", "jct_s", "cost", "moves", "lost_gpu_hours"}));
  std::vector<JobRow> rows;
  while (const internal::CsvRecord* row = csv.next()) {
    auto cell = [&](const char* column) -> const std::string& { return csv.cell(*row, column); };
    auto bad = [&](const char* column) {
      csv.bad(*row, std::string(column) + ": bad value '" + cell(column) + "'");
    };
    auto whole = [&](const char* column, bool may_be_empty) -> std::optional<std::int64_t> {
      if (may_be_empty && cell(column).empty()) return std::nullopt;
      auto v = internal::parse_number<std::int64_t>(cell(column));
      if (!v) bad(column);
      return v;
    };
    auto millionths = [&](const char* column) -> std::int64_t {
      auto v = parse_millionths(cell(column));
      if (!v) bad(column);
      return v.value_or(0);
    };
    JobRow r;
    r.id = cell("id");
    r.org = cell("org");
    r.team = cell("team");
    r.state = cell("state");
    r.reason = cell("reason");
    r.gpus = static_cast<int>(whole("gpus", false).value_or(0));
    r.end = csv.instant(*row, "end", /*may_be_empty=*/true);
    r.queue_delay_s = whole("queue_delay_s", true);
    r.jct_s = whole("jct_s", true);
    r.cost_micros = millionths("cost");
    r.lost_micro_gpu_hours = millionths("lost_gpu_hours");
    r.moves = whole("moves", false).value_or(0);
    static const char* const kStates[] = {"completed", "running", "pending", "stopped", "never"};
    if (std::find_if(std::begin(kStates), std::end(kStates),
                     [&](const char* s) { return r.state == s; }) == std::end(kStates)) {
      bad("state");
    }
    rows.push_back(std::move(r));
  }
  STRAITS_TRY(csv.finish());
  return rows;
}

using internal::percentile;

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

RunMetrics metrics_of(const std::vector<JobRow>& rows, const json& summary) {
  RunMetrics m;
  m.scenario = summary.value("scenario", "");
  m.currency = summary.value("currency", "USD");
  m.jobs = rows.size();
  std::int64_t cost = 0, lost = 0;
  for (const auto& r : rows) {
    if (r.state == "completed") {
      ++m.completed;
      if (r.jct_s) m.jct_hours.push_back(static_cast<double>(*r.jct_s) / 3600);
    } else if (r.state == "running") {
      ++m.running;
    } else if (r.state == "pending") {
      ++m.pending;
    } else if (r.state == "stopped") {
      ++m.stopped;
    } else {
      ++m.never;
    }
    if (r.queue_delay_s) m.queue_hours.push_back(static_cast<double>(*r.queue_delay_s) / 3600);
    cost += r.cost_micros;
    lost += r.lost_micro_gpu_hours;
    m.moves += static_cast<std::size_t>(r.moves);
  }
  m.mean_jct_hours = mean(m.jct_hours);
  m.mean_queue_hours = mean(m.queue_hours);
  std::sort(m.jct_hours.begin(), m.jct_hours.end());
  std::sort(m.queue_hours.begin(), m.queue_hours.end());
  m.p95_jct_hours = percentile(m.jct_hours, 0.95);
  m.p95_queue_hours = percentile(m.queue_hours, 0.95);
  m.total_cost = static_cast<double>(cost) / 1e6;
  m.gpu_hours_lost = static_cast<double>(lost) / 1e6;
  return m;
}

struct RunWindow {
  Instant start, end;
  std::uint64_t seed = 0;
};

// The simulated window and seed, from run.json.
Result<RunWindow> run_window(const json& run, const fs::path& file) {
  RunWindow w;
  const SourceLocation where{file.string(), 0, 0};
  for (auto [key, field] : {std::pair{"start", &w.start}, std::pair{"horizon_end", &w.end}}) {
    if (!run.contains(key) || !run[key].is_string()) {
      return Error(ErrorCode::kInvalidArgument, std::string("no '") + key + "' date", where);
    }
    auto t = parse_instant(run[key].get<std::string>());
    if (!t)
      return Error(ErrorCode::kInvalidArgument, std::string(key) + ": " + t.error().message(),
                   where);
    *field = *t;
  }
  if (!run.contains("seed") || !run["seed"].is_number_unsigned()) {
    return Error(ErrorCode::kInvalidArgument, "no 'seed'", where);
  }
  w.seed = run["seed"].get<std::uint64_t>();
  return w;
}

double round_to(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  double r = std::round(v * scale) / scale;
  return r == 0 ? 0 : r;  // no -0 in the JSON
}

MetricDelta metric(std::string key, std::string label, std::string unit, double baseline,
                   double whatif, int decimals) {
  MetricDelta m;
  m.key = std::move(key);
  m.label = std::move(label);
  m.unit = std::move(unit);
  m.baseline = baseline;
  m.whatif = whatif;
  m.delta = whatif - baseline;
  if (baseline != 0) m.ratio = whatif / baseline;
  m.decimals = decimals;
  return m;
}

// How far one team got in one run.
TeamProgress progress_of(const std::vector<const JobRow*>& rows) {
  TeamProgress p;
  std::vector<Instant> ends;
  for (const JobRow* r : rows) {
    if (r->state == "completed" && r->end) ends.push_back(*r->end);
  }
  std::sort(ends.begin(), ends.end());
  p.jobs_left = rows.size() - ends.size();
  if (p.jobs_left == 0 && !ends.empty()) p.finished = ends.back();
  // ceil(0.95 n) without floating point: (95 n + 99) / 100.
  const std::size_t needed = (95 * rows.size() + 99) / 100;
  if (needed > 0 && ends.size() >= needed) p.p95_done = ends[needed - 1];
  return p;
}

std::optional<Duration> difference(const std::optional<Instant>& a,
                                   const std::optional<Instant>& b) {
  if (!a || !b) return std::nullopt;
  return *b - *a;
}

}  // namespace

std::optional<Duration> TeamFinish::delay() const {
  return difference(baseline.finished, whatif.finished);
}

std::optional<Duration> TeamFinish::p95_delay() const {
  return difference(baseline.p95_done, whatif.p95_done);
}

Result<RunMetrics> read_run_metrics(const fs::path& run_dir) {
  STRAITS_ASSIGN_OR_RETURN(auto rows, read_jobs_csv(run_dir / "jobs.csv"));
  STRAITS_ASSIGN_OR_RETURN(json summary, read_json_file(run_dir / "summary.json"));
  return metrics_of(rows, summary);
}

Result<Comparison> compare_runs(const fs::path& baseline_dir, const fs::path& whatif_dir) {
  STRAITS_ASSIGN_OR_RETURN(
      bool same, same_bytes(baseline_dir / "workload.jsonl", whatif_dir / "workload.jsonl"));
  if (!same) {
    return Error(ErrorCode::kFailedPrecondition,
                 "the runs saw different jobs: " + (baseline_dir / "workload.jsonl").string() +
                     " and " + (whatif_dir / "workload.jsonl").string() + " differ");
  }
  std::vector<JobRow> rows[2];
  json summary[2], run[2];
  const fs::path dirs[2] = {baseline_dir, whatif_dir};
  for (int k = 0; k < 2; ++k) {
    STRAITS_ASSIGN_OR_RETURN(rows[k], read_jobs_csv(dirs[k] / "jobs.csv"));
    STRAITS_ASSIGN_OR_RETURN(summary[k], read_json_file(dirs[k] / "summary.json"));
    STRAITS_ASSIGN_OR_RETURN(run[k], read_json_file(dirs[k] / "run.json"));
  }

  Comparison c;
  c.baseline = metrics_of(rows[0], summary[0]);
  c.whatif = metrics_of(rows[1], summary[1]);
  c.baseline_scenario = c.baseline.scenario;
  c.whatif_scenario = c.whatif.scenario;
  STRAITS_ASSIGN_OR_RETURN(auto window_a, run_window(run[0], dirs[0] / "run.json"));
  STRAITS_ASSIGN_OR_RETURN(auto window_b, run_window(run[1], dirs[1] / "run.json"));
  c.start = std::min(window_a.start, window_b.start);
  c.horizon_end = std::max(window_a.end, window_b.end);
  c.seed = window_a.seed;

  const RunMetrics& a = c.baseline;
  const RunMetrics& b = c.whatif;
  c.metrics = {
      metric("mean_jct_hours", "Mean JCT", "h", a.mean_jct_hours, b.mean_jct_hours, 2),
      metric("p95_jct_hours", "p95 JCT", "h", a.p95_jct_hours, b.p95_jct_hours, 2),
      metric("mean_queue_hours", "Mean queueing delay", "h", a.mean_queue_hours, b.mean_queue_hours,
             2),
      metric("p95_queue_hours", "p95 queueing delay", "h", a.p95_queue_hours, b.p95_queue_hours, 2),
      metric("total_cost", "Total cost", a.currency, a.total_cost, b.total_cost, 0),
      metric("gpu_hours_lost", "GPU-hours lost to moves", "GPU-h", a.gpu_hours_lost,
             b.gpu_hours_lost, 1),
      metric("moves", "Moves", "", static_cast<double>(a.moves), static_cast<double>(b.moves), 0),
      metric("could_never_run", "Jobs with nowhere to run", "",
             static_cast<double>(a.could_never_run()), static_cast<double>(b.could_never_run()), 0),
  };
  auto count = [](std::size_t n) { return static_cast<double>(n); };
  c.states = {
      metric("completed", "completed", "", count(a.completed), count(b.completed), 0),
      metric("running", "running at the horizon", "", count(a.running), count(b.running), 0),
      metric("pending", "pending at the horizon", "", count(a.pending), count(b.pending), 0),
      metric("stopped", "stopped", "", count(a.stopped), count(b.stopped), 0),
      metric("never", "never ran", "", count(a.never), count(b.never), 0),
  };

  // Jobs that ran nowhere in the what-if, with what they did in the baseline.
  std::map<std::string, const JobRow*> baseline_by_id;
  for (const auto& r : rows[0]) baseline_by_id.emplace(r.id, &r);
  auto runs_nowhere = [](const std::string& state) {
    return state == "stopped" || state == "never";
  };
  for (const auto& r : rows[1]) {
    if (!runs_nowhere(r.state)) continue;
    LostJob lost{r.id, r.org, r.team, r.gpus, r.state, r.reason, ""};
    auto it = baseline_by_id.find(r.id);
    if (it != baseline_by_id.end()) lost.baseline_state = it->second->state;
    if (runs_nowhere(lost.baseline_state)) {
      ++c.ran_nowhere_in_both;  // not the what-if's doing
      continue;
    }
    if (lost.baseline_state == "completed") ++c.no_longer_run_completed_in_baseline;
    c.no_longer_run.push_back(std::move(lost));
  }
  std::sort(c.no_longer_run.begin(), c.no_longer_run.end(),
            [](const LostJob& x, const LostJob& y) { return x.id < y.id; });

  // Utilisation per country, from each run's summary.json.
  std::map<std::string, CountryUtilisation> countries;
  for (int k = 0; k < 2; ++k) {
    const json& by_country = summary[k]["utilisation"]["countries"];
    if (!by_country.is_object()) {
      return Error(ErrorCode::kInvalidArgument, "no utilisation.countries object",
                   SourceLocation{(dirs[k] / "summary.json").string(), 0, 0});
    }
    for (const auto& [country, value] : by_country.items()) {
      if (!value.is_number()) {
        return Error(ErrorCode::kInvalidArgument,
                     "utilisation.countries." + country + " is not a number",
                     SourceLocation{(dirs[k] / "summary.json").string(), 0, 0});
      }
      CountryUtilisation& u = countries[country];
      u.country = country;
      (k == 0 ? u.baseline : u.whatif) = value.get<double>();
    }
  }
  for (auto& [code, u] : countries) c.countries.push_back(u);

  // Teams: when each one's work was done in each run.
  std::map<std::pair<std::string, std::string>, std::vector<const JobRow*>> teams[2];
  for (int k = 0; k < 2; ++k) {
    for (const auto& r : rows[k]) teams[k][{r.org, r.team}].push_back(&r);
  }
  for (const auto& [key, members] : teams[0]) {
    TeamFinish t;
    t.org = key.first;
    t.team = key.second;
    t.jobs = members.size();
    t.baseline = progress_of(members);
    t.whatif = progress_of(teams[1][key]);
    c.teams.push_back(std::move(t));
  }
  return c;
}

Result<Comparison> compare_scenarios(const Scenario& baseline, const Scenario& whatif,
                                     const fs::path& out_dir, const CompareOptions& options) {
  const std::uint64_t seed = options.seed.value_or(baseline.seed);
  const fs::path baseline_dir = out_dir / "baseline";
  const fs::path whatif_dir = out_dir / "whatif";

  SimOptions run_options;
  run_options.seed = seed;
  run_options.progress = options.progress;
  auto progress_of_run = [&options](int run) -> std::function<bool(double)> {
    if (!options.on_progress) return nullptr;
    return [&options, run](double done) { return options.on_progress(run, done); };
  };
  run_options.on_progress = progress_of_run(0);
  if (options.on_run) options.on_run(0, baseline.name);
  auto first = run_simulation(baseline, run_options, baseline_dir);
  if (!first) return std::move(first).error().with_context("baseline " + baseline.name);

  // The what-if replays the very jobs the baseline simulated, with its seed.
  run_options.workload = baseline_dir / "workload.jsonl";
  run_options.on_progress = progress_of_run(1);
  if (options.on_run) options.on_run(1, whatif.name);
  auto second = run_simulation(whatif, run_options, whatif_dir);
  if (!second) return std::move(second).error().with_context("what-if " + whatif.name);

  STRAITS_ASSIGN_OR_RETURN(Comparison c, compare_runs(baseline_dir, whatif_dir));
  c.baseline_file = baseline.file.filename().string();
  c.whatif_file = whatif.file.filename().string();
  STRAITS_TRY(write_text_file(out_dir / "compare.json", comparison_json(c)));
  STRAITS_TRY(write_text_file(out_dir / "compare.html", comparison_html(c)));
  return c;
}

// ---------------------------------------------------------------------------
// compare.json

namespace {

ojson optional_instant(const std::optional<Instant>& t) {
  return t ? ojson(to_iso8601(*t)) : ojson(nullptr);
}

ojson optional_hours(const std::optional<Duration>& d) {
  return d ? ojson(round_to(d->to_hours(), 3)) : ojson(nullptr);
}

// Counts (no unit) as integers, other figures to three decimals.
ojson figure(const MetricDelta& m, double v) {
  if (m.unit.empty()) return ojson(static_cast<std::int64_t>(std::llround(v)));
  return ojson(round_to(v, 3));
}

ojson delta_json(const MetricDelta& m) {
  ojson j = {{"baseline", figure(m, m.baseline)},
             {"whatif", figure(m, m.whatif)},
             {"delta", figure(m, m.delta)}};
  j["ratio"] = m.ratio ? ojson(round_to(*m.ratio, 4)) : ojson(nullptr);
  return j;
}

ojson team_side(const TeamProgress& p) {
  return {{"finished", optional_instant(p.finished)},
          {"jobs_left", p.jobs_left},
          {"p95_done", optional_instant(p.p95_done)}};
}

}  // namespace

std::string comparison_json(const Comparison& c) {
  ojson metrics = ojson::object();
  for (const auto& m : c.metrics) {
    ojson j = delta_json(m);
    j["unit"] = m.unit;
    metrics[m.key] = j;
  }
  ojson states = ojson::object();
  for (const auto& m : c.states) states[m.key] = delta_json(m);
  ojson lost = ojson::array();
  std::map<std::string, std::size_t> lost_by_reason;
  for (const auto& l : c.no_longer_run) {
    lost.push_back({{"id", l.id},
                    {"org", l.org},
                    {"team", l.team},
                    {"gpus", l.gpus},
                    {"state", l.state},
                    {"reason", l.reason},
                    {"baseline_state", l.baseline_state}});
    ++lost_by_reason[l.reason];
  }
  ojson countries = ojson::object();
  for (const auto& u : c.countries) {
    countries[u.country] = {{"baseline", round_to(u.baseline, 4)},
                            {"whatif", round_to(u.whatif, 4)},
                            {"delta", round_to(u.whatif - u.baseline, 4)}};
  }
  ojson teams = ojson::array();
  for (const auto& t : c.teams) {
    teams.push_back({{"org", t.org},
                     {"team", t.team},
                     {"jobs", t.jobs},
                     {"baseline", team_side(t.baseline)},
                     {"whatif", team_side(t.whatif)},
                     {"delay_hours", optional_hours(t.delay())},
                     {"p95_delay_hours", optional_hours(t.p95_delay())}});
  }
  ojson out = {
      {"baseline",
       {{"scenario", c.baseline_scenario}, {"file", c.baseline_file}, {"dir", "baseline"}}},
      {"whatif", {{"scenario", c.whatif_scenario}, {"file", c.whatif_file}, {"dir", "whatif"}}},
      {"seed", c.seed},
      {"jobs", c.baseline.jobs},
      {"same_workload", true},
      {"start", to_iso8601(c.start)},
      {"horizon_end", to_iso8601(c.horizon_end)},
      {"currency", c.baseline.currency},
      {"metrics", metrics},
      {"states", states},
      {"no_longer_run",
       {{"count", c.no_longer_run.size()},
        {"completed_in_baseline", c.no_longer_run_completed_in_baseline},
        {"ran_nowhere_in_both", c.ran_nowhere_in_both},
        {"by_reason", lost_by_reason},
        {"jobs", lost}}},
      {"utilisation_by_country", countries},
      {"teams", teams}};
  return out.dump(2) + "\n";
}

// ---------------------------------------------------------------------------
// compare.html

namespace {

using internal::BarChart;
using internal::BarSeries;
using internal::HtmlTable;
using internal::LineChart;
using internal::Series;

std::string team_cell(const TeamProgress& p, bool p95) {
  if (p95) return p.p95_done ? short_time(*p.p95_done) : "not reached";
  if (p.finished) return short_time(*p.finished);
  return "not done: " + std::to_string(p.jobs_left) + (p.jobs_left == 1 ? " job" : " jobs") +
         " left";
}

std::string ratio_cell(const MetricDelta& m) {
  if (!m.ratio) return "";
  // Past 100x the baseline is next to nothing: the delta says more.
  return *m.ratio > 100 ? ">100x" : internal::fixed(*m.ratio, 2) + "x";
}

std::string value_cell(double v, int decimals) {
  return internal::grouped(v, decimals);
}

// Two runs, one colour each, on every chart of the page.
BarChart two_bars(std::string id, std::string title, std::string unit_title, double a, double b,
                  const std::string& category) {
  BarChart chart;
  chart.id = std::move(id);
  chart.title = std::move(title);
  chart.categories = {category};
  chart.value.title = std::move(unit_title);
  chart.series = {BarSeries{kRunNames[0], {a}}, BarSeries{kRunNames[1], {b}}};
  chart.width = 230;  // four a row
  chart.plot_height = 120;
  return chart;
}

LineChart cdf_chart(std::string id, std::string title, std::string x_title,
                    const std::vector<double>& a, const std::vector<double>& b) {
  LineChart chart;
  chart.id = std::move(id);
  chart.title = std::move(title);
  chart.x.title = std::move(x_title);
  chart.x.scale = internal::Scale::kLog;
  chart.x.min = 0.01;
  chart.y.title = "Jobs at or below (%)";
  chart.y.min = 0;
  chart.y.max = 100;
  const std::vector<double>* samples[2] = {&a, &b};
  for (int k = 0; k < 2; ++k) {
    Series s;
    s.name = std::string(kRunNames[k]) + " (" + std::to_string(samples[k]->size()) + " jobs)";
    s.points = internal::cdf_points(*samples[k]);
    s.step = true;
    chart.series.push_back(std::move(s));
  }
  chart.note = "Log scale; values below 0.01 h (36 s) are drawn at the left edge.";
  return chart;
}

BarChart team_chart(const Comparison& c, bool p95) {
  BarChart chart;
  chart.id = p95 ? "team-p95" : "team-finish";
  chart.title = p95 ? "When 95% of each team's jobs had completed"
                    : "When each team's work was done (its last job's end)";
  chart.category_title = "Team";
  chart.value.title = "Date (UTC)";
  chart.value.kind = internal::AxisKind::kTime;
  chart.value.min = static_cast<double>(c.start.unix_seconds());
  chart.value.max = static_cast<double>(c.horizon_end.unix_seconds());
  chart.horizontal = true;
  chart.value_labels = false;
  chart.series = {BarSeries{kRunNames[0], {}}, BarSeries{kRunNames[1], {}}};
  std::size_t missing = 0;
  for (const auto& t : c.teams) {
    chart.categories.push_back(t.org + "/" + t.team);
    const TeamProgress* sides[2] = {&t.baseline, &t.whatif};
    for (int k = 0; k < 2; ++k) {
      const auto& at = p95 ? sides[k]->p95_done : sides[k]->finished;
      chart.series[k].values.push_back(at ? static_cast<double>(at->unix_seconds()) : std::nan(""));
      if (!at) ++missing;
    }
  }
  if (missing > 0) {
    chart.note = p95 ? "No bar: fewer than 95% of the team's jobs completed by the horizon."
                     : "No bar: the team still had jobs left at the horizon (see the table).";
  }
  return chart;
}

}  // namespace

std::string comparison_html(const Comparison& c) {
  std::string subtitle = "Baseline <b>" + internal::escape_xml(c.baseline_scenario) +
                         "</b> against what-if <b>" + internal::escape_xml(c.whatif_scenario) +
                         "</b>: the same " + std::to_string(c.baseline.jobs) + " jobs, seed " +
                         std::to_string(c.seed) + ", simulated from " + to_iso_date(c.start) +
                         " to " + to_iso_date(c.horizon_end) + ".";
  std::string out = internal::page_begin(
      "What-if: " + c.whatif_scenario + " against " + c.baseline_scenario, subtitle);

  // Headline figures: small charts, then the table with the exact numbers.
  out += "<h2>Headline figures</h2>\n<div class=\"grid\">\n";
  for (const auto& m : c.metrics) {
    std::string unit_title = m.unit.empty() ? "Jobs" : m.unit == "h" ? "Hours" : m.unit;
    if (m.key == "moves") unit_title = "Moves";
    out += internal::render(two_bars("m-" + m.key, m.label, unit_title, m.baseline, m.whatif, ""));
  }
  out += "</div>\n";
  HtmlTable headline;
  headline.headers = {"Figure", "Baseline", "What-if", "Delta", "Ratio"};
  for (const auto& m : c.metrics) {
    headline.rows.push_back({m.label + (m.unit.empty() ? "" : " (" + m.unit + ")"),
                             value_cell(m.baseline, m.decimals), value_cell(m.whatif, m.decimals),
                             internal::signed_grouped(m.delta, m.decimals), ratio_cell(m)});
  }
  headline.caption =
      "p95: 95th percentile. JCT over the jobs that completed; queueing delay over the jobs that "
      "started. GPU-hours "
      "lost: checkpoints written and restarts paid when jobs moved (and preemptions, failures).";
  out += internal::render(headline);

  HtmlTable states;
  states.headers = {"Jobs", "Baseline", "What-if", "Delta"};
  for (const auto& m : c.states) {
    states.rows.push_back({m.label, value_cell(m.baseline, 0), value_cell(m.whatif, 0),
                           internal::signed_grouped(m.delta, 0)});
  }
  out += internal::render(states);

  out += "<h2>Job completion time and queueing delay</h2>\n";
  out += internal::render(
      cdf_chart("cdf-jct", "Job completion time (submit to end), completed jobs",
                "JCT (hours, log scale)", c.baseline.jct_hours, c.whatif.jct_hours));
  out += internal::render(cdf_chart("cdf-queue", "Queueing delay (submit to first start)",
                                    "Queueing delay (hours, log scale)", c.baseline.queue_hours,
                                    c.whatif.queue_hours));

  out += "<h2>Jobs that could no longer run anywhere</h2>\n";
  const std::string in_both =
      c.ran_nowhere_in_both == 0
          ? ""
          : " (" + std::to_string(c.ran_nowhere_in_both) +
                " more ran nowhere in either run: not the what-if's doing, not listed)";
  if (c.no_longer_run.empty()) {
    out +=
        "<p>None: every job that ran in the baseline found somewhere to run in the "
        "what-if" +
        in_both + ".</p>\n";
  } else {
    out += "<p>" + std::to_string(c.no_longer_run.size()) +
           " jobs that ran in the baseline were stopped or never started in the what-if because "
           "no pool they may use would take them; " +
           std::to_string(c.no_longer_run_completed_in_baseline) +
           " of them had completed in the baseline" + in_both + ".</p>\n";
    HtmlTable lost;
    lost.headers = {"Job", "Org/team", "What-if", "Why", "Baseline", "GPUs"};
    lost.text_columns = 5;
    lost.wrap_column = 3;
    constexpr std::size_t kShown = 100;
    for (std::size_t i = 0; i < c.no_longer_run.size() && i < kShown; ++i) {
      const auto& l = c.no_longer_run[i];
      lost.rows.push_back({l.id, l.org + "/" + l.team, l.state, l.reason, l.baseline_state,
                           std::to_string(l.gpus)});
    }
    if (c.no_longer_run.size() > kShown) {
      lost.caption = "The first " + std::to_string(kShown) + " by id; compare.json lists all " +
                     std::to_string(c.no_longer_run.size()) + ".";
    }
    out += internal::render(lost);
  }

  out += "<h2>Utilisation by country</h2>\n";
  BarChart util;
  util.id = "util-country";
  util.title = "Busy GPU-hours over the GPU-hours of every pool in the country";
  util.category_title = "Country";
  util.value.title = "Utilisation (%)";
  util.series = {BarSeries{kRunNames[0], {}}, BarSeries{kRunNames[1], {}}};
  HtmlTable util_table;
  util_table.headers = {"Country", "Baseline (%)", "What-if (%)", "Delta (points)"};
  for (const auto& u : c.countries) {
    util.categories.push_back(u.country);
    util.series[0].values.push_back(u.baseline * 100);
    util.series[1].values.push_back(u.whatif * 100);
    util_table.rows.push_back({u.country, internal::fixed(u.baseline * 100, 2),
                               internal::fixed(u.whatif * 100, 2),
                               internal::signed_grouped((u.whatif - u.baseline) * 100, 2)});
  }
  out += internal::render(util);
  out += internal::render(util_table);

  out += "<h2>When each team's work was done</h2>\n";
  out += internal::render(team_chart(c, false));
  out += internal::render(team_chart(c, true));
  HtmlTable teams;
  teams.headers = {"Team",  "Jobs",          "Baseline: all done", "What-if: all done",
                   "Delay", "Baseline: 95%", "What-if: 95%",       "Delay (95%)"};
  for (const auto& t : c.teams) {
    auto delay = t.delay();
    auto p95_delay = t.p95_delay();
    teams.rows.push_back({t.org + "/" + t.team, std::to_string(t.jobs),
                          team_cell(t.baseline, false), team_cell(t.whatif, false),
                          delay ? human_delay(*delay) : "", team_cell(t.baseline, true),
                          team_cell(t.whatif, true), p95_delay ? human_delay(*p95_delay) : ""});
  }
  teams.caption =
      "Times in UTC. A team is done when every one of its jobs has completed (not done: jobs "
      "still running, pending, stopped or never run at the horizon).";
  out += internal::render(teams);

  out +=
      "<p class=\"note\">Computed from the two runs' jobs.csv and summary.json (folders "
      "<code>baseline/</code> and <code>whatif/</code>); every figure is in "
      "<code>compare.json</code>.</p>\n";
  out += internal::page_end();
  return out;
}

// "2025-07-25 02:57" (UTC): minutes are enough to read a finish time.
std::string short_time(Instant t) {
  std::string text = to_iso8601(t);
  if (text.size() >= 16) {
    text[10] = ' ';
    text.resize(16);
  }
  return text;
}

// "+3d4h", "-45m", "0": a delay as people read it, to the minute.
std::string human_delay(Duration d) {
  const std::int64_t minutes =
      (d.count_microseconds() + (d.count_microseconds() < 0 ? -30'000'000 : 30'000'000)) /
      60'000'000;
  if (minutes == 0) return "0";
  const std::string text = to_human(Duration::minutes(minutes < 0 ? -minutes : minutes));
  return (minutes < 0 ? "-" : "+") + text;
}

}  // namespace straits::sim
