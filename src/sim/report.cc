#include "sim/report.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "catalog/load.h"
#include "sim/internal/csv.h"
#include "sim/internal/svg.h"
#include "sim/internal/text.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;
using internal::CsvFileReader;
using internal::escape_xml;
using nlohmann::json;

constexpr std::size_t kMaxBuckets = 800;  // time buckets of the time charts

Error not_found(const fs::path& path, const std::string& why) {
  return Error(ErrorCode::kNotFound, "cannot read " + path.string() + ": " + why);
}

// An instant cell as microseconds since the epoch (CsvFileReader::instant).
std::optional<std::int64_t> micros(CsvFileReader& csv, const internal::CsvRecord& row,
                                   const std::string& column, bool may_be_empty = false) {
  auto t = csv.instant(row, column, may_be_empty);
  if (!t) return std::nullopt;
  return t->unix_microseconds();
}

// ---- Time buckets ---------------------------------------------------------

// A level that changes by steps (busy GPUs, queued jobs, a spending rate),
// averaged over equal buckets of the window: exact means, O(1) per change.
class Buckets {
 public:
  Buckets() = default;
  Buckets(std::int64_t start, std::int64_t end, std::int64_t width)
      : start_(start), end_(end), width_(width) {
    const auto count = static_cast<std::size_t>((end - start + width - 1) / width);
    steps_.assign(std::max<std::size_t>(count, 1), 0);
    area_.assign(steps_.size(), 0);
  }
  // The level changes by `delta` at `t` (microseconds).
  void add(std::int64_t t, double delta) {
    if (t >= end_) return;
    if (t <= start_) {
      initial_ += delta;
      return;
    }
    const auto k = static_cast<std::size_t>((t - start_) / width_);
    steps_[k] += delta;
    area_[k] += delta * static_cast<double>(bucket_end(k) - t) / 1e6;
  }
  std::size_t size() const { return steps_.size(); }
  std::int64_t bucket_start(std::size_t k) const {
    return start_ + static_cast<std::int64_t>(k) * width_;
  }
  std::int64_t bucket_end(std::size_t k) const { return std::min(end_, bucket_start(k + 1)); }
  // The level's mean over each bucket.
  std::vector<double> means() const {
    std::vector<double> out(steps_.size());
    double level = initial_;
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      const double seconds = static_cast<double>(bucket_end(k) - bucket_start(k)) / 1e6;
      out[k] = seconds > 0 ? level + area_[k] / seconds : level;
      level += steps_[k];
    }
    return out;
  }

 private:
  std::int64_t start_ = 0, end_ = 1, width_ = 1;
  double initial_ = 0;
  std::vector<double> steps_;  // changes inside each bucket
  std::vector<double> area_;   // each change x the seconds from it to its bucket's end
};

// A bucket width people read ("1h", "15m"): the smallest of a few round
// durations that keeps the window within kMaxBuckets buckets.
std::int64_t bucket_width(std::int64_t span) {
  static constexpr std::int64_t kSecond = 1'000'000;
  static constexpr std::int64_t kWidths[] = {
      kSecond,          10 * kSecond,     30 * kSecond,    60 * kSecond,    300 * kSecond,
      600 * kSecond,    900 * kSecond,    1800 * kSecond,  3600 * kSecond,  7200 * kSecond,
      10800 * kSecond,  21600 * kSecond,  43200 * kSecond, 86400 * kSecond, 172800 * kSecond,
      604800 * kSecond, 2419200 * kSecond};
  for (std::int64_t w : kWidths) {
    if (span <= w * static_cast<std::int64_t>(kMaxBuckets)) return w;
  }
  return (span / static_cast<std::int64_t>(kMaxBuckets) / (86400 * kSecond) + 1) * 86400 * kSecond;
}

// ---- The run ----------------------------------------------------------------

struct RuleChangeRow {
  std::string at, change, rule, title, pack;
  std::int64_t at_us = 0;
};

struct RunInfo {
  std::string scenario, policy, reference_chip, straits_version;
  std::uint64_t seed = 0;
  std::int64_t start = 0, end = 0;
  fs::path catalog;
  std::vector<std::string> packs;  // folder names
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t leases = 0;
  std::vector<RuleChangeRow> rule_changes;
};

Result<RunInfo> read_run(const fs::path& dir) {
  const fs::path path = dir / "run.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path, std::error_code(errno, std::generic_category()).message());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, path.string() + ": " + why);
  };
  json run = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (run.is_discarded() || !run.is_object()) return bad("not a JSON object");
  // 'key', appended: GCC 12 warns (-Wrestrict, falsely) on "'" + std::string at -O3.
  auto quoted = [](const char* key) {
    std::string q = "'";
    q += key;
    q += '\'';
    return q;
  };
  auto string_of = [&](const char* key) -> Result<std::string> {
    if (!run.contains(key) || !run[key].is_string()) {
      return bad(quoted(key) + " missing or not a string");
    }
    return run[key].get<std::string>();
  };
  auto instant_of = [&](const char* key) -> Result<std::int64_t> {
    STRAITS_ASSIGN_OR_RETURN(std::string s, string_of(key));
    auto t = parse_instant(s);
    if (!t) return bad(quoted(key) + ": " + t.error().message());
    return t->unix_microseconds();
  };
  RunInfo info;
  STRAITS_ASSIGN_OR_RETURN(info.scenario, string_of("scenario"));
  STRAITS_ASSIGN_OR_RETURN(std::string catalog, string_of("catalog"));
  info.catalog = fs::path(catalog).is_absolute() ? fs::path(catalog) : dir / catalog;
  STRAITS_ASSIGN_OR_RETURN(info.start, instant_of("start"));
  STRAITS_ASSIGN_OR_RETURN(info.end, instant_of("horizon_end"));
  if (info.end <= info.start) return bad("'horizon_end' must be after 'start'");
  if (run.contains("seed") && run["seed"].is_number_unsigned()) {
    info.seed = run["seed"].get<std::uint64_t>();
  }
  for (const char* key : {"policy", "reference_chip", "straits_version"}) {
    if (run.contains(key) && run[key].is_string()) {
      std::string value = run[key].get<std::string>();
      if (std::string_view(key) == "policy") info.policy = value;
      if (std::string_view(key) == "reference_chip") info.reference_chip = value;
      if (std::string_view(key) == "straits_version") info.straits_version = value;
    }
  }
  if (run.contains("rules") && run["rules"].is_array()) {
    for (const auto& r : run["rules"]) {
      if (r.is_string()) info.packs.push_back(fs::path(r.get<std::string>()).filename().string());
    }
  }
  if (run.contains("params") && run["params"].is_object()) {
    for (const auto& [k, v] : run["params"].items()) {
      info.params.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  if (run.contains("leases") && run["leases"].is_array()) info.leases = run["leases"].size();
  if (!run.contains("rule_changes") || !run["rule_changes"].is_array()) {
    return bad("'rule_changes' missing (a run written before reports existed: run it again)");
  }
  for (const auto& c : run["rule_changes"]) {
    RuleChangeRow row;
    for (auto [key, field] :
         {std::pair{"at", &row.at}, std::pair{"change", &row.change}, std::pair{"rule", &row.rule},
          std::pair{"title", &row.title}, std::pair{"pack", &row.pack}}) {
      if (!c.is_object() || !c.contains(key) || !c[key].is_string()) {
        return bad("a rule change without '" + std::string(key) + "'");
      }
      *field = c[key].get<std::string>();
    }
    auto t = parse_instant(row.at);
    if (!t) return bad("rule change '" + row.rule + "': " + t.error().message());
    row.at_us = t->unix_microseconds();
    info.rule_changes.push_back(std::move(row));
  }
  return info;
}

// Where each pool is, as the charts group them.
struct PoolInfo {
  std::string site, country, chip;
};

struct Fleet {
  std::unordered_map<std::string, PoolInfo> pools;
  std::map<std::string, std::int64_t> site_gpus, country_gpus;
};

Result<Fleet> read_fleet(const fs::path& catalog_dir) {
  auto catalog = catalog::load_catalog(catalog_dir);
  if (!catalog) {
    return std::move(catalog).error().with_context("loading the catalog named in run.json");
  }
  Fleet fleet;
  for (const auto& p : catalog->pools()) {
    const catalog::Site* site = catalog->find_site(p.site);
    PoolInfo info{p.site.str(), site != nullptr ? site->country.str() : "?", p.chip.str()};
    fleet.site_gpus[info.site] += p.gpus();
    fleet.country_gpus[info.country] += p.gpus();
    fleet.pools.emplace(p.id.str(), std::move(info));
  }
  return fleet;
}

// Per rule (or, with an empty id, per cause that is no rule).
struct RuleEffect {
  std::size_t moved = 0, stopped = 0, never = 0;
  double lost_gpu_hours = 0;     // checkpoints and restarts of its moves
  double stopped_gpu_hours = 0;  // GPU-hours the jobs it stopped had run
};

struct Numbers {
  std::map<std::string, std::size_t> states;
  std::size_t jobs = 0;
  std::vector<double> jct_hours, delay_hours;
  double cost = 0, lost_gpu_hours = 0;
  std::size_t moved = 0, preempted = 0, failed = 0, stopped = 0;
  std::map<std::string, RuleEffect> by_rule;  // rule id -> effect
  RuleEffect lease_ends, no_rule_stops;
};

// ---- Formatting ------------------------------------------------------------

std::string fixed(double v, int decimals) {
  std::string out;
  if (v < 0) {
    out += '-';
    v = -v;
  }
  internal::append_fixed(out, v, decimals);
  return out;
}

// 11616447 -> "11,616,447".
std::string grouped(double v) {
  const auto n = static_cast<long long>(std::llround(v));
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

// As the simulator's summary.json computes them (linear between ranks).
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = static_cast<std::size_t>(std::ceil(rank));
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

std::string hours_text(double h) {
  if (h < 1.0 / 60) return fixed(h * 3600, 0) + " s";
  if (h < 1) return fixed(h * 60, 1) + " min";
  return fixed(h, h < 100 ? 2 : 0) + " h";
}

double seconds_of(std::int64_t us) {
  return static_cast<double>(us) / 1e6;
}

// ---- The page ----------------------------------------------------------------

constexpr std::string_view kCss = R"(
body{font-family:"DejaVu Sans",Verdana,sans-serif;color:#222;background:#f6f6f4;margin:0}
main{max-width:1000px;margin:0 auto;padding:20px 20px 40px}
h1{font-size:24px;margin:8px 0 4px}
h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #ccc;padding-bottom:4px}
p.meta{color:#555;margin:2px 0;font-size:13px}
p.note{color:#555;font-size:13px;margin:4px 0 10px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;margin-top:14px}
.card{background:#fff;border:1px solid #ddd;border-radius:4px;padding:8px 12px}
.card .label{font-size:12px;color:#666}
.card .value{font-size:18px;font-weight:bold;margin-top:2px}
.card .detail{font-size:12px;color:#555}
svg.chart{display:block;max-width:100%;height:auto;border:1px solid #ddd;margin:12px 0}
table{border-collapse:collapse;background:#fff;font-size:13px;width:100%}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.date{white-space:nowrap}
tr.cause td{color:#555;font-style:italic}
footer{color:#777;font-size:12px;margin-top:30px}
)";

// Not needed to read the page: it only notes, on <body data-rendered>,
// the size each chart was laid out at and how many of its series have
// geometry, for the browser test (tests/sim/report_browser_test.sh).
constexpr std::string_view kScript = R"(
(function(){var out=[];document.querySelectorAll('svg.chart').forEach(function(s){
var b=s.getBoundingClientRect(),n=0;s.querySelectorAll('g.series').forEach(function(g){
var r=g.getBBox();if(r.width>0||r.height>0)n++;});
out.push(s.getAttribute('data-chart')+':'+Math.round(b.width)+'x'+Math.round(b.height)+':'+n+':'+
s.querySelectorAll('g.marker').length);});document.body.setAttribute('data-rendered',out.join(' '));})();
)";

void card(std::string& out, const std::string& label, const std::string& value,
          const std::string& detail) {
  out += "<div class=\"card\"><div class=\"label\">" + escape_xml(label) +
         "</div><div class=\"value\">" + escape_xml(value) + "</div><div class=\"detail\">" +
         escape_xml(detail) + "</div></div>\n";
}

std::string cell(const std::string& text, bool number = false) {
  return std::string(number ? "<td class=\"n\">" : "<td>") + escape_xml(text) + "</td>";
}

// Markers for every rule change, labelled R1, R2, ... as in the table.
std::vector<internal::Marker> markers_of(const RunInfo& run) {
  std::vector<internal::Marker> out;
  for (std::size_t i = 0; i < run.rule_changes.size(); ++i) {
    const auto& c = run.rule_changes[i];
    std::string label = "R";  // (appended: as quoted() in read_run)
    label += std::to_string(i + 1);
    out.push_back({seconds_of(c.at_us), std::move(label),
                   c.at + ": " + c.rule + " " + c.change + " (" + c.pack + ")"});
  }
  return out;
}

internal::LineChart time_chart(const RunInfo& run, std::string id, std::string title,
                               std::string y_title) {
  internal::LineChart c;
  c.id = std::move(id);
  c.title = std::move(title);
  c.x.title = "Date and time (UTC)";
  c.x.kind = internal::AxisKind::kTime;
  c.x.min = seconds_of(run.start);
  c.x.max = seconds_of(run.end);
  c.y.title = std::move(y_title);
  c.markers = markers_of(run);
  return c;
}

// Bucket means as a step series, the last held to the window's end.
internal::Series step_series(std::string name, const Buckets& b, const std::vector<double>& values,
                             double scale) {
  internal::Series s;
  s.name = std::move(name);
  s.step = true;
  for (std::size_t k = 0; k < values.size(); ++k) {
    s.points.push_back({seconds_of(b.bucket_start(k)), values[k] * scale});
  }
  if (!values.empty()) {
    s.points.push_back({seconds_of(b.bucket_end(values.size() - 1)), values.back() * scale});
  }
  return s;
}

internal::LineChart cdf_chart(std::string id, std::string title, std::string x_title,
                              std::string series_name, const std::vector<double>& hours) {
  internal::LineChart c;
  c.id = std::move(id);
  c.title = std::move(title);
  c.x.title = std::move(x_title);
  c.x.scale = internal::Scale::kLog;
  c.x.min = 0.01;  // 36 s: shorter ones are drawn at the left edge
  c.y.title = "Jobs at or below (%)";
  c.y.min = 0;
  c.y.max = 100;
  internal::Series s;
  s.name = std::move(series_name);
  s.step = true;
  s.points = internal::cdf_points(hours);
  c.series.push_back(std::move(s));
  return c;
}

// ---- What the run's files add up to ----------------------------------------

struct Tallies {
  Tallies(std::int64_t start, std::int64_t end, std::int64_t width)
      : blank(start, end, width), queue(blank), spending(blank) {}
  Buckets blank;
  std::map<std::string, Buckets> by_site, by_country;  // busy GPUs
  Buckets queue, spending;                             // queued jobs; USD per second
  std::map<std::string, double> chip_gpu_hours;
  Numbers n;
  std::map<std::string, std::string> titles;  // of the rules changing in the window
};

const PoolInfo* pool_of(const Fleet& fleet, CsvFileReader& csv, const internal::CsvRecord& r) {
  auto it = fleet.pools.find(csv.cell(r, "pool"));
  if (it != fleet.pools.end()) return &it->second;
  csv.bad(r, "unknown pool '" + csv.cell(r, "pool") + "' (not in the run's catalog)");
  return nullptr;
}

// timeseries.csv: busy GPUs per pool at each change.
Status read_timeseries(const fs::path& run_dir, const Fleet& fleet, Tallies& t) {
  CsvFileReader csv;
  STRAITS_TRY(csv.open(run_dir / "timeseries.csv", {"time", "pool", "busy_gpus"}));
  std::unordered_map<std::string, double> busy;  // by pool, as last seen
  while (const internal::CsvRecord* r = csv.next()) {
    const PoolInfo* pool = pool_of(fleet, csv, *r);
    auto at = micros(csv, *r, "time");
    double now = csv.number(*r, "busy_gpus");
    if (pool == nullptr || !at) continue;
    double& last = busy[csv.cell(*r, "pool")];
    const double delta = now - last;
    last = now;
    if (delta == 0) continue;
    t.by_site.try_emplace(pool->site, t.blank).first->second.add(*at, delta);
    t.by_country.try_emplace(pool->country, t.blank).first->second.add(*at, delta);
  }
  return csv.finish();
}

// jobs.csv: the numbers, the CDFs, arrivals to the queue and departures of
// jobs given up on.
Status read_jobs(const fs::path& run_dir, const RunInfo& run, Tallies& t) {
  CsvFileReader csv;
  STRAITS_TRY(csv.open(run_dir / "jobs.csv", {"submit", "end", "state", "queue_delay_s", "jct_s",
                                              "gpu_hours", "cost", "lost_gpu_hours", "rule"}));
  Numbers& n = t.n;
  while (const internal::CsvRecord* r = csv.next()) {
    ++n.jobs;
    const std::string& state = csv.cell(*r, "state");
    ++n.states[state];
    n.cost += csv.number(*r, "cost");
    n.lost_gpu_hours += csv.number(*r, "lost_gpu_hours");
    if (!csv.cell(*r, "queue_delay_s").empty()) {
      n.delay_hours.push_back(csv.number(*r, "queue_delay_s") / 3600);
    }
    if (state == "completed") n.jct_hours.push_back(csv.number(*r, "jct_s") / 3600);
    auto submit = micros(csv, *r, "submit");
    auto end = micros(csv, *r, "end", /*may_be_empty=*/true);
    if (submit && *submit <= run.end) t.queue.add(std::max(*submit, run.start), +1);
    if (state == "stopped" || state == "never") {
      if (end) t.queue.add(*end, -1);
      const std::string& rule = csv.cell(*r, "rule");
      RuleEffect& e = rule.empty() ? n.no_rule_stops : n.by_rule[rule];
      if (state == "never") ++e.never;
      if (state == "stopped") e.stopped_gpu_hours += csv.number(*r, "gpu_hours");
    }
  }
  return csv.finish();
}

// intervals.csv: starts leave the queue, moves and failures rejoin it;
// spending and GPU-hours by chip.
Status read_intervals(const fs::path& run_dir, const Fleet& fleet, Tallies& t) {
  CsvFileReader csv;
  STRAITS_TRY(
      csv.open(run_dir / "intervals.csv", {"pool", "gpus", "start", "end", "end_reason", "cost"}));
  while (const internal::CsvRecord* r = csv.next()) {
    const PoolInfo* pool = pool_of(fleet, csv, *r);
    auto start = micros(csv, *r, "start");
    auto end = micros(csv, *r, "end");
    const double gpus = csv.number(*r, "gpus");
    const double cost = csv.number(*r, "cost");
    if (pool == nullptr || !start || !end) continue;
    t.queue.add(*start, -1);
    const std::string& reason = csv.cell(*r, "end_reason");
    if (reason == "checkpointed" || reason == "preempted" || reason == "failed") {
      t.queue.add(*end, +1);
    }
    if (*end > *start) {
      const double rate = cost / (static_cast<double>(*end - *start) / 1e6);
      t.spending.add(*start, rate);
      t.spending.add(*end, -rate);
    }
    t.chip_gpu_hours[pool->chip] += gpus * static_cast<double>(*end - *start) / 3.6e9;
  }
  return csv.finish();
}

// moves.csv: what each rule (or cause) moved and stopped.
Status read_moves(const fs::path& run_dir, Numbers& n) {
  CsvFileReader csv;
  STRAITS_TRY(csv.open(run_dir / "moves.csv", {"kind", "rule", "lost_gpu_hours"}));
  while (const internal::CsvRecord* r = csv.next()) {
    const std::string& kind = csv.cell(*r, "kind");
    const std::string& rule = csv.cell(*r, "rule");
    const double lost = csv.number(*r, "lost_gpu_hours");
    if (kind == "moved") {
      ++n.moved;
      RuleEffect& e = rule.empty() ? n.lease_ends : n.by_rule[rule];
      ++e.moved;
      e.lost_gpu_hours += lost;
    } else if (kind == "stopped") {
      ++n.stopped;
      ++(rule.empty() ? n.no_rule_stops : n.by_rule[rule]).stopped;
    } else if (kind == "preempted") {
      ++n.preempted;
    } else if (kind == "failed") {
      ++n.failed;
    } else {
      csv.bad(*r, "unknown kind '" + kind + "'");
    }
  }
  return csv.finish();
}

Status tally(const fs::path& run_dir, const RunInfo& run, const Fleet& fleet, Tallies& t) {
  STRAITS_TRY(read_timeseries(run_dir, fleet, t));
  STRAITS_TRY(read_jobs(run_dir, run, t));
  STRAITS_TRY(read_intervals(run_dir, fleet, t));
  STRAITS_TRY(read_moves(run_dir, t.n));
  std::sort(t.n.jct_hours.begin(), t.n.jct_hours.end());
  std::sort(t.n.delay_hours.begin(), t.n.delay_hours.end());
  // Rules changing in the window appear in the table even when they moved nothing.
  for (const auto& c : run.rule_changes) {
    t.titles[c.rule] = c.title;
    t.n.by_rule.try_emplace(c.rule);
  }
  return ok();
}

// ---- The page's parts, in order ---------------------------------------------

void add_head(std::string& page, const RunInfo& run) {
  page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  page += "<title>straits report: " + escape_xml(run.scenario) + "</title>\n";
  page += "<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n<main>\n";
  page += "<h1>Simulation report: " + escape_xml(run.scenario) + "</h1>\n";
  std::string packs, params;
  for (const auto& p : run.packs) packs += (packs.empty() ? "" : ", ") + p;
  for (const auto& [k, v] : run.params) params += (params.empty() ? "" : ", ") + k + " = " + v;
  page += "<p class=\"meta\">Window " +
          escape_xml(to_iso8601(Instant::from_unix_microseconds(run.start))) + " to " +
          escape_xml(to_iso8601(Instant::from_unix_microseconds(run.end))) + " (" +
          escape_xml(to_human(Duration::microseconds(run.end - run.start))) + "), seed " +
          std::to_string(run.seed) + ", policy " + escape_xml(run.policy) + ", " +
          std::to_string(run.leases) + " leases.</p>\n";
  page += "<p class=\"meta\">Rule packs: " + escape_xml(packs) +
          (params.empty() ? "" : "; params: " + escape_xml(params)) +
          ". Catalog: " + escape_xml(run.catalog.filename().string()) + ". Work in GPU-hours of " +
          escape_xml(run.reference_chip) + ".</p>\n";
}

void add_cards(std::string& page, const Numbers& n) {
  auto state = [&](const char* s) {
    auto it = n.states.find(s);
    return it == n.states.end() ? std::size_t{0} : it->second;
  };
  page += "<div class=\"cards\">\n";
  card(page, "Jobs completed",
       grouped(static_cast<double>(state("completed"))) + " of " +
           grouped(static_cast<double>(n.jobs)),
       grouped(static_cast<double>(state("running"))) + " running at the horizon, " +
           grouped(static_cast<double>(state("pending"))) + " pending");
  card(page, "Stopped / never started",
       grouped(static_cast<double>(state("stopped"))) + " / " +
           grouped(static_cast<double>(state("never"))),
       "stopped: no allowed capacity left; never: no pool it may use fits it");
  card(page, "Job completion time", "mean " + hours_text(mean(n.jct_hours)),
       "95th percentile " + hours_text(percentile(n.jct_hours, 0.95)) + ", " +
           grouped(static_cast<double>(n.jct_hours.size())) + " jobs");
  card(page, "Queueing delay", "mean " + hours_text(mean(n.delay_hours)),
       "95th percentile " + hours_text(percentile(n.delay_hours, 0.95)) + ", " +
           grouped(static_cast<double>(n.delay_hours.size())) + " jobs started");
  card(page, "Cost", grouped(n.cost) + " USD", "leases at their price, own pools at list price");
  card(page, "Moves", grouped(static_cast<double>(n.moved)),
       "checkpointed and moved: a lease ended or a rule took effect");
  card(page, "Preemptions / node failures",
       grouped(static_cast<double>(n.preempted)) + " / " + grouped(static_cast<double>(n.failed)),
       "runs cut for a job of higher priority / by a failed node");
  card(page, "GPU-hours lost", fixed(n.lost_gpu_hours, 1),
       "checkpoints and restarts of moves, work lost to failures");
  page += "</div>\n";
}

// Rule changes, numbered as on the charts.
void add_rule_changes(std::string& page, const RunInfo& run) {
  page += "<h2>Rule changes in the window</h2>\n";
  if (run.rule_changes.empty()) {
    page += "<p class=\"note\">No rule starts or ends inside the window.</p>\n";
    return;
  }
  page += "<p class=\"note\">Marked R1, R2, ... on every chart over time (dashed lines).</p>\n";
  page +=
      "<table class=\"rule-changes\">\n<tr><th>Mark</th><th>Date (UTC)</th><th>Change</th>"
      "<th>Rule</th><th>Title</th><th>Pack</th></tr>\n";
  for (std::size_t i = 0; i < run.rule_changes.size(); ++i) {
    const auto& c = run.rule_changes[i];
    page += "<tr>" + cell("R" + std::to_string(i + 1)) + "<td class=\"date\">" + escape_xml(c.at) +
            "</td>" + cell(c.change) + cell(c.rule) + cell(c.title) + cell(c.pack) + "</tr>\n";
  }
  page += "</table>\n";
}

// Busy GPUs of each site (or country) as a share of its GPUs; places where
// no job ran are left out.
internal::LineChart utilisation_chart(const RunInfo& run, const char* id, const char* title,
                                      const char* y_title,
                                      const std::map<std::string, Buckets>& busy,
                                      std::map<std::string, std::int64_t>& gpus,
                                      const std::string& note) {
  auto chart = time_chart(run, id, title, y_title);
  for (const auto& [place, b] : busy) {
    chart.series.push_back(
        step_series(place, b, b.means(), 100.0 / static_cast<double>(gpus[place])));
  }
  chart.y.min = 0;
  chart.note = note;
  return chart;
}

void add_utilisation(std::string& page, const RunInfo& run, Fleet& fleet, const Tallies& t,
                     const std::string& bucket_note) {
  page += "<h2>Utilisation</h2>\n";
  page += internal::render(utilisation_chart(
      run, "utilisation-site", "Utilisation by site", "Busy GPUs (% of the site's GPUs)", t.by_site,
      fleet.site_gpus, bucket_note + " Sites where no job ran are left out."));
  page += internal::render(utilisation_chart(
      run, "utilisation-country", "Utilisation by country", "Busy GPUs (% of the country's GPUs)",
      t.by_country, fleet.country_gpus, bucket_note + " Countries where no job ran are left out."));
}

void add_queue_and_cost(std::string& page, const RunInfo& run, const Tallies& t,
                        const std::string& bucket_note) {
  page += "<h2>Queue and cost</h2>\n";
  auto q = time_chart(run, "queue", "Queue length", "Jobs waiting (count)");
  q.series.push_back(step_series("jobs waiting", t.queue, t.queue.means(), 1));
  q.note = bucket_note + " Waiting: arrived, not running, not given up on.";
  page += internal::render(q);

  auto c = time_chart(run, "cost", "Cumulative cost", "Cost so far (USD)");
  internal::Series s;
  s.name = "all orgs";
  const Buckets& spending = t.spending;
  const std::vector<double> rate = spending.means();  // USD per second
  double total = 0;
  s.points.push_back({seconds_of(run.start), 0});
  for (std::size_t k = 0; k < rate.size(); ++k) {
    total += rate[k] * static_cast<double>(spending.bucket_end(k) - spending.bucket_start(k)) / 1e6;
    s.points.push_back({seconds_of(spending.bucket_end(k)), total});
  }
  c.series.push_back(std::move(s));
  c.note = "Each run's cost accrues evenly over the run.";
  page += internal::render(c);
}

void add_time_cdfs(std::string& page, const Numbers& n) {
  page += "<h2>Job completion time and queueing delay</h2>\n";
  auto jct = cdf_chart("jct-cdf", "Job completion time (completed jobs)",
                       "Job completion time: submit to end (hours, log scale)", "completed jobs",
                       n.jct_hours);
  jct.note = "Read across: the share of jobs that completed within a time.";
  page += internal::render(jct);
  auto delay = cdf_chart("delay-cdf", "Queueing delay (started jobs)",
                         "Queueing delay: submit to first start (hours, log scale)", "started jobs",
                         n.delay_hours);
  const double quick = n.delay_hours.empty()
                           ? 0
                           : 100.0 *
                                 static_cast<double>(std::upper_bound(n.delay_hours.begin(),
                                                                      n.delay_hours.end(), 0.01) -
                                                     n.delay_hours.begin()) /
                                 static_cast<double>(n.delay_hours.size());
  delay.note = fixed(quick, 1) + "% of started jobs waited 36 s or less (drawn at the left edge).";
  page += internal::render(delay);
}

void add_chip_hours(std::string& page, const RunInfo& run, const Tallies& t) {
  page += "<h2>GPU-hours by chip</h2>\n";
  internal::BarChart b;
  b.id = "gpu-hours-chip";
  b.title = "GPU-hours by chip";
  b.category_title = "Chip";
  b.value.title = "GPU-hours";
  internal::BarSeries s;
  s.name = "GPU-hours";
  for (const auto& [chip, hours] : t.chip_gpu_hours) {
    b.categories.push_back(chip);
    s.values.push_back(hours);
  }
  b.series.push_back(std::move(s));
  b.note =
      "GPUs x hours held by all runs, checkpoint writes and restarts included; not "
      "normalised to " +
      run.reference_chip + ".";
  page += internal::render(b);
}

void add_effect_row(std::string& page, const std::string& rule, const std::string& title,
                    const RuleEffect& e, bool cause) {
  page += std::string(cause ? "<tr class=\"cause\"" : "<tr") + " data-rule=\"" + escape_xml(rule) +
          "\" data-moved=\"" + std::to_string(e.moved) + "\" data-stopped=\"" +
          std::to_string(e.stopped) + "\" data-never=\"" + std::to_string(e.never) + "\">" +
          cell(cause ? "(no rule)" : rule) + cell(title) +
          cell(grouped(static_cast<double>(e.moved)), true) +
          cell(grouped(static_cast<double>(e.stopped)), true) +
          cell(grouped(static_cast<double>(e.never)), true) +
          cell(fixed(e.lost_gpu_hours, 1), true) + cell(fixed(e.stopped_gpu_hours, 1), true) +
          "</tr>\n";
}

void add_moves_by_rule(std::string& page, const Tallies& t) {
  const Numbers& n = t.n;
  page += "<h2>Jobs moved or stopped, by rule</h2>\n";
  page +=
      "<p class=\"note\">Moved: checkpointed and sent back to the queue when the rule took "
      "effect. Stopped: given up on, no allowed capacity left, this rule the first to refuse it. "
      "Never started: refused everywhere it fits, this rule first. GPU-hours lost: checkpoints "
      "and restarts of the moves; run by stopped jobs: work that will not finish.</p>\n";
  page +=
      "<table class=\"moves-by-rule\">\n<tr><th>Rule</th><th>Title</th><th>Moved</th>"
      "<th>Stopped</th><th>Never started</th><th>GPU-hours lost</th>"
      "<th>GPU-hours run by stopped jobs</th></tr>\n";
  for (const auto& [rule, e] : n.by_rule) {
    auto title = t.titles.find(rule);
    add_effect_row(page, rule,
                   title == t.titles.end() ? "(in force before the window)" : title->second, e,
                   false);
  }
  if (n.lease_ends.moved > 0) add_effect_row(page, "", "a lease ended", n.lease_ends, true);
  if (n.no_rule_stops.stopped + n.no_rule_stops.never > 0) {
    add_effect_row(page, "", "no rule refused it (leases ended, no pool fits)", n.no_rule_stops,
                   true);
  }
  page += "</table>\n";
}

void add_footer(std::string& page, const RunInfo& run) {
  page +=
      "<footer>Made by straits from the run's files (run.json, jobs.csv, intervals.csv, "
      "timeseries.csv, moves.csv); simulated by straits " +
      escape_xml(run.straits_version) +
      ". One file: no script is needed, nothing is fetched.</footer>\n";
  page += "</main>\n<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
}

}  // namespace

Status write_report(const fs::path& run_dir, const fs::path& html_file) {
  STRAITS_ASSIGN_OR_RETURN(RunInfo run, read_run(run_dir));
  STRAITS_ASSIGN_OR_RETURN(Fleet fleet, read_fleet(run.catalog));
  const std::int64_t width = bucket_width(run.end - run.start);
  Tallies t(run.start, run.end, width);
  STRAITS_TRY(tally(run_dir, run, fleet, t));

  std::string page;
  page.reserve(1 << 20);
  add_head(page, run);
  add_cards(page, t.n);
  add_rule_changes(page, run);
  const std::string bucket_note =
      "Each step is the mean over " + to_human(Duration::microseconds(width)) + ".";
  add_utilisation(page, run, fleet, t, bucket_note);
  add_queue_and_cost(page, run, t, bucket_note);
  add_time_cdfs(page, t.n);
  add_chip_hours(page, run, t);
  add_moves_by_rule(page, t);
  add_footer(page, run);

  std::ofstream out(html_file, std::ios::binary | std::ios::trunc);
  if (!out) {
    return Error(ErrorCode::kUnavailable,
                 "cannot write " + html_file.string() + ": " +
                     std::error_code(errno, std::generic_category()).message());
  }
  out << page;
  out.close();
  if (!out) return Error(ErrorCode::kUnavailable, "cannot write " + html_file.string());
  return ok();
}

}  // namespace straits::sim
