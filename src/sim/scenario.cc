#include "sim/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <type_traits>

#include "core/strings.h"

namespace straits::sim {
namespace {

namespace fs = std::filesystem;

class Reader {
 public:
  Reader(std::string file, Diagnostics& diagnostics) : file_(std::move(file)), d_(diagnostics) {}

  SourceLocation at(const YAML::Node& n) const {
    return SourceLocation{file_, n.Mark().line + 1, n.Mark().column + 1};
  }
  void error(const YAML::Node& n, const std::string& message) { d_.add(at(n), message); }

  void check_keys(const YAML::Node& map, const std::vector<std::string>& known,
                  const std::string& what) {
    for (const auto& kv : map) {
      std::string key = kv.first.Scalar();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        error(kv.first, "unknown " + what + " field '" + key + "'" + did_you_mean(key, known));
      }
    }
  }

  std::optional<std::string> text(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) {
      error(n, what + " must be text");
      return std::nullopt;
    }
    return n.Scalar();
  }

  // A scalar read with a core parser (parse_instant, parse_duration), its
  // error reported at the node.
  template <typename Parse>
  auto parsed(const YAML::Node& n, const std::string& what, Parse parse)
      -> std::optional<std::decay_t<decltype(*parse(std::string_view()))>> {
    auto t = text(n, what);
    if (!t) return std::nullopt;
    auto value = parse(*t);
    if (!value) {
      error(n, what + ": " + value.error().message());
      return std::nullopt;
    }
    return *value;
  }

  std::optional<Instant> date(const YAML::Node& n, const std::string& what) {
    return parsed(n, what, [](std::string_view t) { return parse_instant(t); });
  }

  std::optional<Duration> duration(const YAML::Node& n, const std::string& what) {
    return parsed(n, what, [](std::string_view t) { return parse_duration(t); });
  }

  template <typename T>
  std::optional<T> number(const YAML::Node& n, const std::string& what, bool positive) {
    T value{};
    if (!n.IsScalar() || !YAML::convert<T>::decode(n, value)) {
      error(n, what + " must be a number");
      return std::nullopt;
    }
    if (positive && !(value > 0)) {
      error(n, what + " must be greater than zero");
      return std::nullopt;
    }
    return value;
  }

 private:
  std::string file_;
  Diagnostics& d_;
};

fs::path resolve_pack(const std::string& name, const fs::path& base, const fs::path& shipped) {
  if (name.find('/') == std::string::npos || name.rfind("scenarios/", 0) == 0) {
    if (name.front() != '.' && !fs::path(name).is_absolute()) {
      fs::path candidate = shipped / "rules" / name;
      std::error_code ec;
      if (fs::is_directory(candidate, ec)) return candidate;
    }
  }
  fs::path p(name);
  return p.is_absolute() ? p : fs::weakly_canonical(base / p);
}

// workload.trace (docs/traces.md): a real trace and how it maps onto the catalog.
std::optional<TraceMapping> read_trace_mapping(Reader& r, const YAML::Node& n,
                                               const fs::path& base) {
  if (!n.IsMap()) {
    r.error(n, "workload trace must be a map (file, format, orgs, ...)");
    return std::nullopt;
  }
  r.check_keys(n,
               {"file", "format", "throughputs", "worker", "strict", "from", "until", "time_scale",
                "max_jobs", "chips", "speed", "orgs", "checkpoint"},
               "workload trace");
  TraceMapping m;
  bool good = true;
  if (!n["file"] || !n["format"]) {
    r.error(n, "workload trace needs 'file' and 'format'");
    return std::nullopt;
  }
  m.path = fs::weakly_canonical(base / r.text(n["file"], "trace file").value_or(""));
  auto format = parse_trace_format(r.text(n["format"], "trace format").value_or(""));
  if (!format) {
    r.error(n["format"], format.error().message());
    good = false;
  } else {
    m.format = *format;
  }
  if (n["throughputs"]) {
    m.read.gavel_throughputs =
        fs::weakly_canonical(base / r.text(n["throughputs"], "throughputs").value_or(""));
  }
  if (n["worker"]) m.read.gavel_worker = r.text(n["worker"], "worker").value_or("v100");
  if (n["strict"]) {
    const std::string v = n["strict"].Scalar();
    if (v != "true" && v != "false") r.error(n["strict"], "strict must be true or false");
    m.read.strict = v == "true";
  }
  // Trace times: a duration ("30d") or a number of seconds.
  auto seconds = [&r](const YAML::Node& v, const std::string& what) -> std::optional<double> {
    double number = 0;
    if (v.IsScalar() && YAML::convert<double>::decode(v, number) && number >= 0) return number;
    auto d = r.duration(v, what + " (a duration such as 30d, or seconds)");
    if (d) return d->to_seconds();
    return std::nullopt;
  };
  if (n["from"]) m.from_s = seconds(n["from"], "from");
  if (n["until"]) m.until_s = seconds(n["until"], "until");
  if (n["time_scale"]) {
    m.time_scale = r.number<double>(n["time_scale"], "time_scale", true).value_or(1);
  }
  if (n["max_jobs"]) m.max_jobs = r.number<std::size_t>(n["max_jobs"], "max_jobs", true);
  if (n["chips"]) {
    for (const auto& kv : n["chips"]) {
      std::vector<ChipId> chips;
      if (kv.second.IsSequence()) {
        for (const auto& c : kv.second) chips.emplace_back(c.Scalar());
      } else {
        chips.emplace_back(kv.second.Scalar());
      }
      if (kv.first.Scalar() == "*") {
        m.default_chips = std::move(chips);
      } else {
        m.chips[kv.first.Scalar()] = std::move(chips);
      }
    }
  }
  if (n["speed"]) {
    for (const auto& kv : n["speed"]) {
      double v = r.number<double>(kv.second, "speed of " + kv.first.Scalar(), true).value_or(1);
      if (kv.first.Scalar() == "*") {
        m.default_speed = v;
      } else {
        m.speed[kv.first.Scalar()] = v;
      }
    }
  }
  if (n["orgs"]) {
    if (!n["orgs"].IsSequence()) r.error(n["orgs"], "trace orgs must be a list of rules");
    for (const auto& rule : n["orgs"]) {
      r.check_keys(rule, {"user", "group", "model", "org", "team"}, "trace org rule");
      TraceMapping::OrgRule o;
      if (!rule["org"]) {
        r.error(rule, "a trace org rule needs 'org'");
        continue;
      }
      o.org = OrgId(rule["org"].Scalar());
      if (rule["team"]) o.team = rule["team"].Scalar();
      if (rule["user"]) o.user = rule["user"].Scalar();
      if (rule["group"]) o.group = rule["group"].Scalar();
      if (rule["model"]) o.model = rule["model"].Scalar();
      m.orgs.push_back(std::move(o));
    }
  }
  if (m.orgs.empty() && m.format != TraceFormat::kNative) {
    r.error(n, "workload trace needs 'orgs': who runs the trace's jobs (e.g. [{org: ORG}])");
  }
  if (n["checkpoint"]) {
    const YAML::Node& c = n["checkpoint"];
    r.check_keys(c, {"interval", "min_gpus", "gb_per_gpu"}, "trace checkpoint");
    if (c["interval"])
      m.checkpoint_interval = r.duration(c["interval"], "interval").value_or(Duration::hours(2));
    if (c["min_gpus"])
      m.checkpoint_min_gpus = r.number<int>(c["min_gpus"], "min_gpus", true).value_or(8);
    if (c["gb_per_gpu"]) {
      m.checkpoint_gb_per_gpu = r.number<double>(c["gb_per_gpu"], "gb_per_gpu", false).value_or(2);
    }
  }
  if (!good) return std::nullopt;
  return m;
}

}  // namespace

namespace {

// The scenario file's root mapping. Errors: unreadable, not YAML, not a mapping.
Result<YAML::Node> read_root(const fs::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::ParserException& e) {
    return Error(ErrorCode::kInvalidArgument, "YAML syntax error: " + e.msg,
                 SourceLocation{file.string(), e.mark.line + 1, e.mark.column + 1});
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kNotFound, std::string("cannot read the scenario: ") + e.what(),
                 SourceLocation{file.string(), 0, 0});
  }
  if (!root.IsMap()) {
    return Error(ErrorCode::kInvalidArgument, "a scenario is a mapping of fields",
                 SourceLocation{file.string(), 1, 1});
  }
  return root;
}

// name, catalog, rules, params, start, horizon and seed; what a scenario
// that extends none must give, or what it gets by default.
void read_basics(Reader& r, Diagnostics& diagnostics, const YAML::Node& root, const fs::path& file,
                 const fs::path& base, const fs::path& shipped_root, bool extending, Scenario& s) {
  s.name = root["name"] ? r.text(root["name"], "name").value_or("") : file.stem().string();
  if (root["catalog"]) {
    s.catalog_dir = fs::weakly_canonical(base / r.text(root["catalog"], "catalog").value_or(""));
  } else if (!extending) {
    s.catalog_dir = shipped_root / "catalog";
  }
  if (root["rules"]) {
    s.rules.clear();
    if (!root["rules"].IsSequence()) {
      r.error(root["rules"], "rules must be a list of pack names or folders");
    } else {
      for (const auto& n : root["rules"]) {
        if (auto t = r.text(n, "a rule pack"))
          s.rules.push_back(resolve_pack(*t, base, shipped_root));
      }
    }
  } else if (!extending) {
    s.rules.push_back(shipped_root / "rules" / "default");
  }
  if (root["params"]) {
    if (!root["params"].IsMap()) {
      r.error(root["params"], "params must be a mapping NAME: DATE");
    } else {
      for (const auto& kv : root["params"]) s.params[kv.first.Scalar()] = kv.second.Scalar();
    }
  }
  if (!root["start"]) {
    if (!extending)
      diagnostics.add(SourceLocation{file.string(), 1, 1}, "missing required field 'start'");
  } else if (auto d = r.date(root["start"], "start")) {
    s.start = *d;
  }
  if (root["horizon"]) {
    if (auto d = r.duration(root["horizon"], "horizon")) {
      if (*d <= Duration()) r.error(root["horizon"], "horizon must be positive");
      s.horizon = *d;
    }
  }
  if (root["seed"]) s.seed = r.number<std::uint64_t>(root["seed"], "seed", false).value_or(1);
}

void read_leases(Reader& r, const YAML::Node& root, Scenario& s) {
  if (root["leases"]) {
    s.leases.clear();
    s.lease_has_price.clear();
    for (const auto& n : root["leases"]) {
      if (!n.IsMap()) {
        r.error(n, "a lease is a mapping");
        continue;
      }
      r.check_keys(n, {"id", "org", "pool", "gpus", "start", "end", "price_per_gpu_hour"}, "lease");
      sched::Lease l;
      bool ok = true;
      for (const char* key : {"id", "org", "pool", "gpus", "start", "end"}) {
        if (!n[key]) {
          r.error(n, std::string("lease: missing required field '") + key + "'");
          ok = false;
        }
      }
      if (!ok) continue;
      l.id = LeaseId(r.text(n["id"], "lease id").value_or(""));
      l.org = OrgId(r.text(n["org"], "lease org").value_or(""));
      l.pool = PoolId(r.text(n["pool"], "lease pool").value_or(""));
      l.gpus = r.number<int>(n["gpus"], "lease gpus", true).value_or(0);
      l.start = r.date(n["start"], "lease start").value_or(Instant());
      l.end = r.date(n["end"], "lease end").value_or(Instant());
      if (l.end <= l.start) r.error(n["end"], "lease " + l.id.str() + ": end must be after start");
      bool priced = false;
      if (n["price_per_gpu_hour"]) {
        auto m = parse_money(n["price_per_gpu_hour"].Scalar());
        if (!m) {
          r.error(n["price_per_gpu_hour"], m.error().message());
        } else {
          l.price_per_gpu_hour = *m;
          priced = true;
        }
      }
      for (const auto& other : s.leases) {
        if (other.id == l.id) r.error(n["id"], "duplicate lease id '" + l.id.str() + "'");
      }
      s.leases.push_back(l);
      s.lease_has_price.push_back(priced);
    }
  }
}

// workload.synthetic: the generator's options.
GeneratorOptions read_synthetic(Reader& r, const YAML::Node& g) {
  r.check_keys(g,
               {"jobs", "load", "fleet_gpus", "max_gpus", "median_hours", "orgs", "teams_per_org",
                "chips", "datasets"},
               "synthetic workload");
  GeneratorOptions o;
  if (g["jobs"]) o.jobs = r.number<std::size_t>(g["jobs"], "jobs", true).value_or(1);
  if (g["load"]) o.load = r.number<double>(g["load"], "load", true).value_or(0.8);
  if (g["fleet_gpus"])
    o.fleet_gpus = r.number<int>(g["fleet_gpus"], "fleet_gpus", true).value_or(1);
  if (g["max_gpus"]) o.max_gpus = r.number<int>(g["max_gpus"], "max_gpus", true).value_or(1);
  if (g["median_hours"]) {
    o.median_hours = r.number<double>(g["median_hours"], "median_hours", true).value_or(1);
  }
  if (g["teams_per_org"]) {
    o.teams_per_org = r.number<int>(g["teams_per_org"], "teams_per_org", true).value_or(1);
  }
  if (g["orgs"]) {
    for (const auto& kv : g["orgs"]) {
      o.orgs.emplace_back(OrgId(kv.first.Scalar()),
                          r.number<double>(kv.second, "org weight", true).value_or(1));
    }
  }
  if (g["chips"]) {
    for (const auto& c : g["chips"]) o.chips.emplace_back(c.Scalar());
  }
  if (g["datasets"]) {
    for (const auto& c : g["datasets"]) o.datasets.emplace_back(c.Scalar());
  }
  return o;
}

void read_workload(Reader& r, Diagnostics& diagnostics, const YAML::Node& root,
                   const fs::path& file, const fs::path& base, bool extending, Scenario& s) {
  if (!root["workload"]) {
    if (!extending) {
      diagnostics.add(SourceLocation{file.string(), 1, 1}, "missing required field 'workload'");
    }
  } else {
    const YAML::Node& w = root["workload"];
    s.workload_file.reset();
    s.synthetic.reset();
    s.trace.reset();
    r.check_keys(w, {"file", "synthetic", "trace"}, "workload");
    if (int(bool(w["file"])) + int(bool(w["synthetic"])) + int(bool(w["trace"])) > 1) {
      r.error(w, "workload: give one of 'file', 'synthetic' or 'trace'");
    }
    if (w["trace"]) {
      s.trace = read_trace_mapping(r, w["trace"], base);
    } else if (w["file"]) {
      s.workload_file =
          fs::weakly_canonical(base / r.text(w["file"], "workload file").value_or(""));
    } else if (w["synthetic"]) {
      s.synthetic = read_synthetic(r, w["synthetic"]);
    } else {
      r.error(w, "workload needs 'file', 'synthetic' or 'trace'");
    }
  }
}

void read_scheduler(Reader& r, const YAML::Node& root, Scenario& s) {
  if (root["scheduler"]) {
    const YAML::Node& n = root["scheduler"];
    r.check_keys(
        n,
        {"policy", "reference_chip", "efficiency", "restart_overhead", "checkpoint_bandwidth_gbps",
         "shares", "quotas", "budgets", "max_jobs_per_pass", "preemption", "scoring"},
        "scheduler");
    if (n["shares"]) {
      for (const auto& kv : n["shares"]) {
        s.scheduler.shares[OrgId(kv.first.Scalar())] =
            r.number<double>(kv.second, "share of " + kv.first.Scalar(), true).value_or(1);
      }
    }
    if (n["preemption"]) {
      const std::string v = n["preemption"].Scalar();
      if (v == "true" || v == "false") {
        s.scheduler.preemption = v == "true";
      } else {
        r.error(n["preemption"], "preemption is true or false, got '" + v + "'");
      }
    }
    if (n["max_jobs_per_pass"]) {
      s.scheduler.max_jobs_per_pass =
          r.number<std::size_t>(n["max_jobs_per_pass"], "max_jobs_per_pass", false).value_or(1000);
    }
    if (n["budgets"]) {
      for (const auto& kv : n["budgets"]) {
        std::string key = kv.first.Scalar();
        auto slash = key.find('/');
        auto money = parse_money(kv.second.Scalar());
        if (slash == std::string::npos || slash == 0 || slash + 1 == key.size()) {
          r.error(kv.first, "a budget is keyed by ORG/TEAM, got '" + key + "'");
        } else if (!money) {
          r.error(kv.second, money.error().message());
        } else {
          s.scheduler.budgets[{OrgId(key.substr(0, slash)), key.substr(slash + 1)}] = *money;
        }
      }
    }
    if (n["quotas"]) {
      for (const auto& kv : n["quotas"]) {
        s.scheduler.quotas[OrgId(kv.first.Scalar())] =
            r.number<int>(kv.second, "quota of " + kv.first.Scalar(), true).value_or(0);
      }
    }
    if (n["policy"]) {
      auto p = sched::parse_queue_policy(n["policy"].Scalar());
      if (!p) {
        std::string policy_list;
        for (const auto& name : sched::queue_policy_names())
          policy_list += (policy_list.empty() ? "" : ", ") + name;
        r.error(n["policy"], "unknown policy '" + n["policy"].Scalar() + "'" +
                                 did_you_mean(n["policy"].Scalar(), sched::queue_policy_names()) +
                                 " (" + policy_list + ")");
      } else {
        s.scheduler.policy = *p;
      }
    }
    if (n["scoring"]) {  // instead of the policy's own (queue_policy.h)
      s.scheduler.scoring = sched::parse_scoring(n["scoring"].Scalar());
      if (!s.scheduler.scoring) {
        r.error(n["scoring"],
                "unknown scoring '" + n["scoring"].Scalar() + "' (preference, throughput, cost)");
      }
    }
    if (n["reference_chip"]) s.reference_chip = ChipId(n["reference_chip"].Scalar());
    if (n["efficiency"]) {
      for (const auto& kv : n["efficiency"]) {
        s.efficiency[ChipId(kv.first.Scalar())] =
            r.number<double>(kv.second, "efficiency", true).value_or(1);
      }
    }
    if (n["restart_overhead"]) {
      s.scheduler.restart_overhead =
          r.duration(n["restart_overhead"], "restart_overhead").value_or(Duration());
    }
    if (n["checkpoint_bandwidth_gbps"]) {
      s.scheduler.checkpoint_bandwidth_gbps =
          r.number<double>(n["checkpoint_bandwidth_gbps"], "checkpoint_bandwidth_gbps", true)
              .value_or(1);
    }
  }
}

void read_prices(Reader& r, const YAML::Node& root, Scenario& s) {
  if (root["prices"]) {
    s.price_changes.clear();
    for (const auto& n : root["prices"]) {
      r.check_keys(n, {"pool", "at", "price"}, "price change");
      if (!n["pool"] || !n["at"] || !n["price"]) {
        r.error(n, "a price change needs pool, at and price");
        continue;
      }
      auto money = parse_money(n["price"].Scalar());
      if (!money) {
        r.error(n["price"], money.error().message());
        continue;
      }
      s.price_changes.push_back(PriceChange{PoolId(n["pool"].Scalar()),
                                            r.date(n["at"], "at").value_or(Instant()), *money});
    }
  }
}

void read_failures(Reader& r, const YAML::Node& root, Scenario& s) {
  if (root["failures"]) {
    s.failures = FailureModel{};
    const YAML::Node& f = root["failures"];
    r.check_keys(f, {"mtbf_hours", "pools", "repair", "inject"}, "failures");
    if (f["mtbf_hours"]) {
      s.failures.mtbf_hours = r.number<double>(f["mtbf_hours"], "mtbf_hours", true).value_or(0);
    }
    if (f["pools"]) {
      for (const auto& kv : f["pools"]) {
        s.failures.pool_mtbf_hours[PoolId(kv.first.Scalar())] =
            r.number<double>(kv.second, "mtbf_hours of " + kv.first.Scalar(), true).value_or(0);
      }
    }
    if (f["repair"])
      s.failures.repair = r.duration(f["repair"], "repair").value_or(Duration::hours(2));
    if (f["inject"]) {
      for (const auto& n : f["inject"]) {
        r.check_keys(n, {"pool", "node", "at"}, "injected failure");
        if (!n["pool"] || !n["node"] || !n["at"]) {
          r.error(n, "an injected failure needs pool, node and at");
          continue;
        }
        FailureModel::Injected i;
        i.pool = PoolId(n["pool"].Scalar());
        i.node = r.number<int>(n["node"], "node", false).value_or(0);
        i.at = r.date(n["at"], "at").value_or(Instant());
        s.failures.injected.push_back(i);
      }
    }
  }
}

// A scenario that extends another is read over a copy of it; `depth` stops
// a chain that loops.
Result<Scenario> load_scenario_at_depth(const fs::path& file, const fs::path& shipped_root,
                                        int depth) {
  STRAITS_ASSIGN_OR_RETURN(const YAML::Node root, read_root(file));
  Diagnostics diagnostics;
  Reader r(file.string(), diagnostics);
  r.check_keys(root,
               {"extends", "name", "catalog", "rules", "params", "start", "horizon", "seed",
                "leases", "workload", "scheduler", "failures", "prices"},
               "scenario");
  Scenario s;
  const bool extending = static_cast<bool>(root["extends"]);
  if (extending) {
    const fs::path parent =
        fs::absolute(file).parent_path() / r.text(root["extends"], "extends").value_or("");
    if (depth >= 8) {
      return Error(ErrorCode::kInvalidArgument,
                   "scenarios extend each other more than 8 deep (a loop?)", r.at(root["extends"]));
    }
    auto extended = load_scenario_at_depth(parent, shipped_root, depth + 1);
    if (!extended) {
      Error e = std::move(extended).error();
      return Error(e.code(), "extends " + parent.string() + ": " + e.to_string(),
                   r.at(root["extends"]));
    }
    s = std::move(extended).value();
  }
  s.file = fs::absolute(file);
  fs::path base = s.file.parent_path();
  read_basics(r, diagnostics, root, file, base, shipped_root, extending, s);
  read_leases(r, root, s);
  read_workload(r, diagnostics, root, file, base, extending, s);
  read_scheduler(r, root, s);
  read_prices(r, root, s);
  read_failures(r, root, s);
  if (!diagnostics.empty()) {
    return diagnostics.to_error("scenario " + file.string() + " has errors");
  }
  return s;
}

}  // namespace

Result<Scenario> load_scenario(const fs::path& file, const fs::path& shipped_root) {
  return load_scenario_at_depth(file, shipped_root, 0);
}

}  // namespace straits::sim
