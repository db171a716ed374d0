#include "sim/verify.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "catalog/load.h"
#include "policy/engine.h"
#include "sched/job.h"
#include "sim/internal/csv.h"
#include "sim/internal/text.h"
#include "sim/workload.h"

namespace straits::sim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// jobs.csv prints GPU-hours with six decimals: agree to 1e-6 relative, or
// 1e-6 absolute for small values, whichever is looser.
constexpr double kGpuHoursTolerance = 1e-6;

const std::vector<std::string> kIntervalColumns = {"job",   "org", "pool",  "gpus",
                                                   "start", "end", "nodes", "end_reason"};
// The columns of jobs.csv checked here; the others are for people.
const std::vector<std::string> kJobColumns = {"id",  "org",   "gpus",  "first_start",
                                              "end", "state", "pools", "gpu_hours"};
const std::set<std::string> kEndReasons = {"completed", "checkpointed", "preempted",
                                           "stopped",   "failed",       "horizon"};
const std::set<std::string> kStates = {"completed", "running", "pending", "stopped", "never"};

Result<std::string> read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "cannot read " + file.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

using internal::parse_number;

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  for (std::size_t from = 0; !text.empty();) {
    std::size_t at = text.find(separator, from);
    out.push_back(text.substr(from, at - from));
    if (at == std::string::npos) break;
    from = at + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& item : list) {
    if (!out.empty()) out += ';';
    out += item;
  }
  return out;
}

// --- CSV tables ----------------------------------------------------------------

// One row of a CSV table with checked access to its cells by column: a bad
// cell is reported on the row's line and makes the row unusable.
class CsvRow {
 public:
  CsvRow(std::map<std::string, std::string> cells, SourceLocation where, Diagnostics& diagnostics)
      : cells_(std::move(cells)), where_(std::move(where)), diagnostics_(diagnostics) {}

  int line() const { return where_.line; }
  bool ok() const { return ok_; }
  const std::string& text(const std::string& column) const { return cells_.at(column); }
  int integer(const std::string& column) {
    auto n = parse_number<int>(text(column));
    if (!n) bad(column, "an integer");
    return n.value_or(0);
  }
  double number(const std::string& column) {
    auto n = parse_number<double>(text(column));
    if (!n || !std::isfinite(*n)) bad(column, "a number");
    return n.value_or(0);
  }
  std::optional<Instant> instant(const std::string& column, bool may_be_empty) {
    if (may_be_empty && text(column).empty()) return std::nullopt;
    auto t = parse_instant(text(column));
    if (t) return *t;
    diagnostics_.add(where_, "'" + column + "': " + t.error().message());
    ok_ = false;
    return std::nullopt;
  }
  void bad(const std::string& column, const std::string& expected) {
    diagnostics_.add(where_,
                     "'" + column + "' must be " + expected + ", got '" + text(column) + "'");
    ok_ = false;
  }

 private:
  std::map<std::string, std::string> cells_;
  SourceLocation where_;
  Diagnostics& diagnostics_;
  bool ok_ = true;
};

// Reads a CSV table (RFC 4180 quoting) whose header holds at least
// `columns` (others are ignored, so that later versions may add some) and
// hands each row to `read`. Bad quoting is reported and ends reading:
// nothing after it can be trusted.
Status read_table(const fs::path& path, const std::vector<std::string>& columns,
                  Diagnostics& diagnostics, const std::function<void(CsvRow&)>& read) {
  STRAITS_ASSIGN_OR_RETURN(std::string text, read_text(path));
  const std::string file = path.string();
  std::vector<internal::CsvRecord> records = internal::split_csv(text, file, diagnostics);
  if (records.empty()) {
    diagnostics.add({file, 1, 0}, "missing the header row");
    return ok();
  }
  const std::vector<std::string>& header = records.front().fields;
  bool header_ok = true;
  for (const std::string& column : columns) {
    if (std::find(header.begin(), header.end(), column) != header.end()) continue;
    diagnostics.add({file, records.front().line, 0}, "missing column '" + column + "'");
    header_ok = false;
  }
  if (!header_ok) return ok();
  for (std::size_t r = 1; r < records.size(); ++r) {
    auto& fields = records[r].fields;
    if (fields.size() != header.size()) {
      diagnostics.add({file, records[r].line, 0}, "expected " + std::to_string(header.size()) +
                                                      " fields as in the header, got " +
                                                      std::to_string(fields.size()));
      continue;
    }
    std::map<std::string, std::string> cells;
    for (std::size_t c = 0; c < header.size(); ++c) cells[header[c]] = std::move(fields[c]);
    CsvRow row(std::move(cells), {file, records[r].line, 0}, diagnostics);
    read(row);
  }
  return ok();
}

// --- the run's files ---------------------------------------------------------

struct Interval {
  int line = 0;
  std::string job, org, pool;
  int gpus = 0;
  Instant start, end;
  std::vector<std::pair<int, int>> nodes;  // (node index, GPUs)
  std::string end_reason;
};

struct JobRow {
  int line = 0;
  std::string id, org, state;
  int gpus = 0;
  std::optional<Instant> first_start, end;
  std::vector<std::string> pools;
  double gpu_hours = 0;
};

struct RunInfo {
  fs::path catalog;
  std::vector<fs::path> rules;
  policy::ParamOverrides params;
  Instant start;
  std::vector<sched::Lease> leases;
};

Result<RunInfo> read_run(const fs::path& out_dir) {
  const fs::path path = out_dir / "run.json";
  STRAITS_ASSIGN_OR_RETURN(std::string text, read_text(path));
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, path.string() + ": " + why);
  };
  // Paths are written absolute; a relative one is taken from the folder.
  auto dir = [&](const std::string& p) {
    return fs::path(p).is_absolute() ? fs::path(p) : out_dir / p;
  };
  auto instant = [&](const json& v, const std::string& what) -> Result<Instant> {
    if (!v.is_string()) return bad("'" + what + "' must be an ISO 8601 string");
    auto t = parse_instant(v.get<std::string>());
    if (!t) return bad("'" + what + "': " + t.error().message());
    return *t;
  };
  json run = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (run.is_discarded() || !run.is_object()) return bad("not a JSON object");
  RunInfo info;
  if (!run.contains("catalog") || !run["catalog"].is_string()) return bad("'catalog' missing");
  info.catalog = dir(run["catalog"].get<std::string>());
  if (!run.contains("rules") || !run["rules"].is_array()) return bad("'rules' missing");
  for (const json& r : run["rules"]) {
    if (!r.is_string()) return bad("'rules' must be an array of strings");
    info.rules.push_back(dir(r.get<std::string>()));
  }
  if (run.contains("params")) {
    if (!run["params"].is_object()) return bad("'params' must be an object");
    for (const auto& [name, value] : run["params"].items()) {
      if (!value.is_string()) return bad("param '" + name + "' must be a date string");
      info.params[name] = value.get<std::string>();
    }
  }
  if (!run.contains("start")) return bad("'start' missing");
  STRAITS_ASSIGN_OR_RETURN(info.start, instant(run["start"], "start"));
  if (run.contains("leases")) {
    if (!run["leases"].is_array()) return bad("'leases' must be an array");
    for (const json& l : run["leases"]) {
      auto text_of = [&](const char* key) {
        return l.contains(key) && l[key].is_string() ? l[key].get<std::string>() : "";
      };
      if (!l.is_object() || text_of("org").empty() || text_of("pool").empty() ||
          !l.contains("gpus") || !l["gpus"].is_number_integer() || !l.contains("start") ||
          !l.contains("end")) {
        return bad("a lease needs org, pool, gpus (an integer), start and end");
      }
      sched::Lease lease;
      lease.id = LeaseId(text_of("id"));
      lease.org = OrgId(text_of("org"));
      lease.pool = PoolId(text_of("pool"));
      lease.gpus = l["gpus"].get<int>();
      STRAITS_ASSIGN_OR_RETURN(lease.start, instant(l["start"], "lease start"));
      STRAITS_ASSIGN_OR_RETURN(lease.end, instant(l["end"], "lease end"));
      info.leases.push_back(std::move(lease));
    }
  }
  return info;
}

Status read_intervals(const fs::path& path, std::vector<Interval>& out, Diagnostics& diagnostics) {
  return read_table(path, kIntervalColumns, diagnostics, [&](CsvRow& row) {
    Interval iv;
    iv.line = row.line();
    iv.job = row.text("job");
    iv.org = row.text("org");
    iv.pool = row.text("pool");
    iv.gpus = row.integer("gpus");
    iv.start = row.instant("start", false).value_or(Instant());
    iv.end = row.instant("end", false).value_or(Instant());
    for (const std::string& pair : split(row.text("nodes"), ';')) {
      std::size_t colon = pair.find(':');
      auto node = parse_number<int>(std::string_view(pair).substr(0, colon));
      auto gpus = colon == std::string::npos
                      ? std::nullopt
                      : parse_number<int>(std::string_view(pair).substr(colon + 1));
      if (!node || !gpus) {
        row.bad("nodes", "node:gpus pairs joined by ';'");
        break;
      }
      iv.nodes.emplace_back(*node, *gpus);
    }
    iv.end_reason = row.text("end_reason");
    if (row.ok()) out.push_back(std::move(iv));
  });
}

Status read_jobs(const fs::path& path, std::vector<JobRow>& out, Diagnostics& diagnostics) {
  return read_table(path, kJobColumns, diagnostics, [&](CsvRow& row) {
    JobRow job;
    job.line = row.line();
    job.id = row.text("id");
    job.org = row.text("org");
    job.state = row.text("state");
    job.gpus = row.integer("gpus");
    job.first_start = row.instant("first_start", true);
    job.end = row.instant("end", true);
    job.pools = split(row.text("pools"), ';');
    job.gpu_hours = row.number("gpu_hours");
    if (row.ok()) out.push_back(std::move(job));
  });
}

// --- the checks --------------------------------------------------------------

class Checker {
 public:
  Checker(const catalog::Catalog& catalog, const policy::Engine& engine, const RunInfo& run,
          const std::vector<sched::Job>& jobs, const std::vector<Interval>& intervals,
          const std::vector<JobRow>& job_rows)
      : catalog_(catalog), engine_(engine), run_(run), intervals_(intervals), rows_(job_rows) {
    for (const sched::Job& job : jobs) jobs_.emplace(job.id.str(), &job);
  }

  std::vector<Violation> violations() {
    check_intervals();
    check_capacity();
    check_leases();
    check_policy();
    check_jobs();
    std::sort(found_.begin(), found_.end());
    std::vector<Violation> out;
    for (auto& [check, file, line, message] : found_) {
      out.push_back(Violation{check, line > 0 ? file + ":" + std::to_string(line) : file, message});
    }
    return out;
  }

 private:
  void add(const char* check, const char* file, int line, std::string message) {
    found_.emplace_back(check, file, line, std::move(message));
  }
  void at_interval(const char* check, const Interval& iv, std::string message) {
    add(check, "intervals.csv", iv.line, std::move(message));
  }
  const sched::Job* job_of(const std::string& id) const {
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : it->second;
  }
  // An org uses without a lease the pools it or an org above it owns (a
  // group's subsidiary runs on the group's own clusters), as the scheduler does.
  bool owns(const std::string& org, const catalog::Pool& pool) const {
    if (!pool.owner || !catalog_.find_org(OrgId(org))) return false;
    for (const catalog::Org* o : catalog_.ownership_chain(OrgId(org))) {
      if (o->id == *pool.owner) return true;
    }
    return false;
  }

  // Each interval alone, and the intervals of one job against each other.
  void check_intervals() {
    std::map<std::string, std::vector<const Interval*>> by_job;
    for (const Interval& iv : intervals_) {
      const sched::Job* job = job_of(iv.job);
      if (!job) at_interval("consistency", iv, "job '" + iv.job + "' is not in workload.jsonl");
      if (job && job->org.str() != iv.org) {
        at_interval(
            "consistency", iv,
            "job '" + iv.job + "' belongs to org '" + job->org.str() + "', not '" + iv.org + "'");
      }
      if (!catalog_.find_pool(PoolId(iv.pool))) {
        at_interval("consistency", iv, "unknown pool '" + iv.pool + "'");
      }
      if (iv.end < iv.start) at_interval("consistency", iv, "ends before it starts");
      if (!kEndReasons.count(iv.end_reason)) {
        at_interval("consistency", iv, "unknown end_reason '" + iv.end_reason + "'");
      }
      int sum = 0;
      std::set<int> seen;
      for (const auto& [node, gpus] : iv.nodes) {
        sum += gpus;
        if (gpus <= 0) at_interval("gang", iv, "node " + std::to_string(node) + " holds no GPUs");
        if (!seen.insert(node).second) {
          at_interval("gang", iv, "node " + std::to_string(node) + " is listed twice");
        }
      }
      if (sum != iv.gpus) {
        at_interval("gang", iv,
                    "the nodes hold " + std::to_string(sum) + " GPUs, not the " +
                        std::to_string(iv.gpus) + " of the interval");
      }
      if (job && job->gpus != iv.gpus) {
        at_interval("gang", iv,
                    "job '" + iv.job + "' is a gang of " + std::to_string(job->gpus) +
                        " GPUs, the interval holds " + std::to_string(iv.gpus));
      }
      by_job[iv.job].push_back(&iv);
    }
    for (auto& [id, list] : by_job) {
      std::stable_sort(list.begin(), list.end(),
                       [](const Interval* a, const Interval* b) { return a->start < b->start; });
      const Interval* latest = nullptr;  // the one reaching furthest so far
      for (const Interval* iv : list) {
        if (latest && iv->start < latest->end) {
          at_interval("gang", *iv,
                      "job '" + id + "' runs in two places at once: from " + to_iso8601(iv->start) +
                          ", overlapping line " + std::to_string(latest->line));
        }
        if (!latest || iv->end > latest->end) latest = iv;
      }
    }
  }

  // No node over its GPUs at any time; ends before starts at equal times,
  // since intervals are [start, end).
  void check_capacity() {
    using Event = std::tuple<Instant, int, int, const Interval*>;  // time, 0 end / 1 start, GPUs
    std::map<std::pair<std::string, int>, std::vector<Event>> by_node;
    for (const Interval& iv : intervals_) {
      const catalog::Pool* pool = catalog_.find_pool(PoolId(iv.pool));
      if (!pool) continue;
      for (const auto& [node, gpus] : iv.nodes) {
        if (node < 0 || node >= pool->nodes) {
          at_interval("capacity", iv,
                      "node " + std::to_string(node) + " does not exist in pool '" + iv.pool +
                          "' (nodes 0.." + std::to_string(pool->nodes - 1) + ")");
          continue;
        }
        by_node[{iv.pool, node}].emplace_back(iv.start, 1, gpus, &iv);
        by_node[{iv.pool, node}].emplace_back(iv.end, 0, gpus, &iv);
      }
    }
    for (auto& [key, events] : by_node) {
      const int capacity = catalog_.find_pool(PoolId(key.first))->gpus_per_node;
      std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
        return std::tie(std::get<0>(a), std::get<1>(a), std::get<3>(a)->line) <
               std::tie(std::get<0>(b), std::get<1>(b), std::get<3>(b)->line);
      });
      int held = 0;
      for (const auto& [t, starts, gpus, iv] : events) {
        held += starts ? gpus : -gpus;
        if (starts && held > capacity) {
          at_interval("capacity", *iv,
                      "node " + std::to_string(key.second) + " of pool '" + key.first + "' holds " +
                          std::to_string(held) + " GPUs of " + std::to_string(capacity) + " at " +
                          to_iso8601(t));
        }
      }
    }
  }

  // On a pool it does not own, an org holds at most the GPUs its leases
  // there cover at that time, and none outside them.
  void check_leases() {
    struct Change {
      Instant t;
      int used = 0, leased = 0;
      const Interval* interval = nullptr;  // starting (used > 0) or ending
    };
    std::map<std::pair<std::string, std::string>, std::vector<Change>> by_tenant;
    for (const Interval& iv : intervals_) {
      const catalog::Pool* pool = catalog_.find_pool(PoolId(iv.pool));
      if (!pool || owns(iv.org, *pool) || iv.gpus <= 0) continue;
      auto& changes = by_tenant[{iv.org, iv.pool}];
      changes.push_back({iv.start, iv.gpus, 0, &iv});
      changes.push_back({iv.end, -iv.gpus, 0, &iv});
    }
    for (const sched::Lease& lease : run_.leases) {
      auto it = by_tenant.find({lease.org.str(), lease.pool.str()});
      if (it == by_tenant.end()) continue;
      it->second.push_back({lease.start, 0, lease.gpus, nullptr});
      it->second.push_back({lease.end, 0, -lease.gpus, nullptr});
    }
    for (auto& [key, changes] : by_tenant) {
      std::stable_sort(changes.begin(), changes.end(),
                       [](const Change& a, const Change& b) { return a.t < b.t; });
      int used = 0, leased = 0;
      bool over = false;
      std::map<int, const Interval*> active;  // by line: the first is blamed
      for (std::size_t i = 0; i < changes.size();) {
        // Everything at one instant first: the state then holds until the next.
        const Instant t = changes[i].t;
        const Interval* first_start = nullptr;
        for (; i < changes.size() && changes[i].t == t; ++i) {
          const Change& c = changes[i];
          used += c.used;
          leased += c.leased;
          if (c.used < 0) active.erase(c.interval->line);
          if (c.used > 0 && c.interval->end > t) {
            active[c.interval->line] = c.interval;
            if (!first_start || c.interval->line < first_start->line) first_start = c.interval;
          }
        }
        if (used > leased && !over && !active.empty()) {
          const Interval& blame = first_start ? *first_start : *active.begin()->second;
          at_interval("lease", blame,
                      "org '" + key.first + "' holds " + std::to_string(used) + " GPUs of pool '" +
                          key.second + "' at " + to_iso8601(t) +
                          (leased > 0 ? ", its leases there cover " + std::to_string(leased)
                                      : ", with no lease there"));
        }
        over = used > leased;
      }
    }
  }

  // Lease (when the org does not own the pool) and run are allowed at the
  // interval's start and at every instant inside it where a decision changes.
  void check_policy() {
    std::map<std::pair<std::string, std::string>, Result<policy::Subject>> leases, runs;
    for (const Interval& iv : intervals_) {
      const catalog::Pool* pool = catalog_.find_pool(PoolId(iv.pool));
      const sched::Job* job = job_of(iv.job);
      if (!pool || !job || job->org.str() != iv.org) continue;  // reported as consistency
      if (!owns(iv.org, *pool)) {
        auto it = leases.find({iv.org, iv.pool});
        if (it == leases.end()) {
          policy::LeaseRequest request{OrgId(iv.org), PoolId(iv.pool), {}, {}, {}};
          it = leases.emplace(std::pair{iv.org, iv.pool}, engine_.resolve(request)).first;
        }
        scan(iv, it->second, "lease of pool '" + iv.pool + "' by org '" + iv.org + "'");
      }
      auto it = runs.find({iv.job, iv.pool});
      if (it == runs.end()) {
        policy::JobSpec spec{job->gpus, 0, job->purpose, job->datasets};
        policy::RunRequest request{job->org, PoolId(iv.pool), spec};
        it = runs.emplace(std::pair{iv.job, iv.pool}, engine_.resolve(request)).first;
      }
      scan(iv, it->second, "run of job '" + iv.job + "' on pool '" + iv.pool + "'");
    }
  }

  void scan(const Interval& iv, const Result<policy::Subject>& subject, const std::string& what) {
    if (!subject) {
      at_interval("policy", iv, what + " cannot be decided: " + subject.error().message());
      return;
    }
    for (Instant t = iv.start;;) {
      policy::Outcome outcome = engine_.evaluate(*subject, t);
      if (outcome != policy::Outcome::kAllow) {
        std::string rules;
        for (const policy::MatchedRule& m : engine_.explain(*subject, t).rules) {
          if (m.effect == policy::EffectKind::kRecord) continue;
          if (!rules.empty()) rules += ", ";
          rules += m.id.str();
        }
        at_interval("policy", iv,
                    what + " is not allowed at " + to_iso8601(t) + " (" +
                        std::string(policy::to_string(outcome)) + ": " + rules + ")");
        return;
      }
      t = engine_.next_change_after(*subject, t);
      if (t >= iv.end) return;
    }
  }

  // jobs.csv against the workload and the intervals.
  void check_jobs() {
    std::map<std::string, std::vector<const Interval*>> by_job;
    for (const Interval& iv : intervals_) by_job[iv.job].push_back(&iv);
    std::map<std::string, int> seen;
    for (const JobRow& row : rows_) {
      auto bad = [&](std::string message) {
        add("consistency", "jobs.csv", row.line, "job '" + row.id + "': " + std::move(message));
      };
      auto [first, inserted] = seen.emplace(row.id, row.line);
      if (!inserted) {
        bad("listed twice (first at line " + std::to_string(first->second) + ")");
        continue;
      }
      const sched::Job* job = job_of(row.id);
      if (!job) {
        bad("not in workload.jsonl");
        continue;
      }
      if (job->org.str() != row.org) {
        bad("org '" + row.org + "', the workload says '" + job->org.str() + "'");
      }
      if (job->gpus != row.gpus) {
        bad(std::to_string(row.gpus) + " GPUs, the workload says " + std::to_string(job->gpus));
      }
      if (!kStates.count(row.state)) bad("unknown state '" + row.state + "'");

      double gpu_hours = 0;
      std::set<std::string> pools;
      std::optional<Instant> first_start, last_end;
      for (const Interval* iv : by_job[row.id]) {
        gpu_hours += iv->gpus * (iv->end - iv->start).to_hours();
        pools.insert(iv->pool);
        if (!first_start || iv->start < *first_start) first_start = iv->start;
        if (!last_end || iv->end > *last_end) last_end = iv->end;
      }
      const double scale = std::max({std::fabs(gpu_hours), std::fabs(row.gpu_hours), 1.0});
      if (std::fabs(gpu_hours - row.gpu_hours) > kGpuHoursTolerance * scale) {
        char buffer[96];
        std::snprintf(buffer, sizeof buffer, "gpu_hours %.6f, its intervals sum to %.6f",
                      row.gpu_hours, gpu_hours);
        bad(buffer);
      }
      // Pools are listed in the order first used; the order is not checked.
      if (std::set<std::string>(row.pools.begin(), row.pools.end()) != pools) {
        bad("pools '" + join(row.pools) + "', its intervals are in '" +
            join({pools.begin(), pools.end()}) + "'");
      }
      auto shown = [](const std::optional<Instant>& t) { return t ? to_iso8601(*t) : "none"; };
      if (row.first_start != first_start) {
        bad("first_start " + shown(row.first_start) + ", its first interval starts at " +
            shown(first_start));
      }
      if (row.state == "completed" && row.end != last_end) {
        bad("completed with end " + shown(row.end) + ", its last interval ends at " +
            shown(last_end));
      }
      if ((row.state == "pending" || row.state == "never") && first_start) {
        bad("state '" + row.state + "' but it ran");
      }
    }
    for (const auto& [id, job] : jobs_) {
      if (!seen.count(id)) add("consistency", "jobs.csv", 0, "job '" + id + "' has no row");
    }
  }

  const catalog::Catalog& catalog_;
  const policy::Engine& engine_;
  const RunInfo& run_;
  const std::vector<Interval>& intervals_;
  const std::vector<JobRow>& rows_;
  std::map<std::string, const sched::Job*> jobs_;
  // (check, file, line, message): sorted, this is the report's order.
  std::vector<std::tuple<std::string, std::string, int, std::string>> found_;
};

}  // namespace

Result<VerifyReport> verify_run(const fs::path& out_dir) {
  for (const char* name : {"run.json", "workload.jsonl", "intervals.csv", "jobs.csv"}) {
    if (!fs::exists(out_dir / name)) {
      return Error(ErrorCode::kNotFound, out_dir.string() + ": missing " + name);
    }
  }
  STRAITS_ASSIGN_OR_RETURN(RunInfo run, read_run(out_dir));
  auto catalog = catalog::load_catalog(run.catalog);
  if (!catalog) return std::move(catalog).error().with_context("run.json catalog");
  auto engine = policy::Engine::load(*catalog, run.rules, run.params);
  if (!engine) return std::move(engine).error().with_context("run.json rules");
  auto jobs = read_workload(out_dir / "workload.jsonl", run.start);
  if (!jobs) return std::move(jobs).error();

  Diagnostics diagnostics;
  std::vector<Interval> intervals;
  std::vector<JobRow> rows;
  STRAITS_TRY(read_intervals(out_dir / "intervals.csv", intervals, diagnostics));
  STRAITS_TRY(read_jobs(out_dir / "jobs.csv", rows, diagnostics));
  if (!diagnostics.empty()) {
    std::size_t n = diagnostics.sorted().size();
    return diagnostics.to_error("run " + out_dir.string() + " has " + std::to_string(n) +
                                (n == 1 ? " malformed row" : " malformed rows"));
  }

  VerifyReport report;
  report.intervals = intervals.size();
  report.jobs = rows.size();
  report.violations = Checker(*catalog, *engine, run, *jobs, intervals, rows).violations();
  return report;
}

}  // namespace straits::sim
