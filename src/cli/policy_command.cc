// straits policy check|lint|timeline|matrix|diff
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "catalog/load.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "core/clock.h"
#include "policy/decision_json.h"
#include "policy/diff.h"
#include "policy/engine.h"

namespace straits::cli {
namespace {

using nlohmann::json;
using namespace straits::policy;

struct SubjectOptions {
  std::string action;
  std::string chip, site, from_site, pool, by, org, dataset, job_file;
  int quantity = 1;
  std::optional<int> gpus;
  std::optional<double> country_tpp, org_tpp, training_flops;
  std::string purpose = "training";
  std::vector<std::string> datasets;
};

struct PackOptions {
  std::vector<std::string> rules;
  std::vector<std::string> scenarios;
  std::vector<std::string> params;
  std::string catalog_dir;
};

struct CheckOptions {
  SubjectOptions subject;
  PackOptions packs;
  std::string at;
  bool json = false;
};

struct TimelineOptions {
  SubjectOptions subject;
  PackOptions packs;
  std::string from = "2022-01-01", to;
  bool json = false;
};

struct MatrixOptions {
  PackOptions packs;
  std::string at;
  bool json = false;
};

struct LintOptions {
  std::vector<std::string> dirs;
  std::vector<std::string> params;
  std::string catalog_dir;
};

void add_pack_options(CLI::App* cmd, PackOptions& o) {
  cmd->add_option("--rules", o.rules,
                  "Rule pack folder; repeat to lay packs over each other (default: rules/default)");
  cmd->add_option("--scenario", o.scenarios,
                  "Scenario pack laid over the packs: a name under rules/scenarios/ or a folder");
  cmd->add_option("--param", o.params, "Move a scenario date: NAME=YYYY-MM-DD");
  cmd->add_option("--catalog", o.catalog_dir, "Catalog folder (default: the shipped catalog)");
}

void add_subject_options(CLI::App* cmd, SubjectOptions& o) {
  cmd->add_option("--action", o.action, "What is decided")
      ->required()
      ->check(CLI::IsMember({"ship", "lease", "run", "transfer"}));
  cmd->add_option("--chip", o.chip, "ship: the chip shipped");
  cmd->add_option("--site", o.site, "ship, transfer: the destination site");
  cmd->add_option("--from-site", o.from_site, "ship: the site the chips leave from");
  cmd->add_option("--pool", o.pool, "lease, run: the pool; ship: the destination pool");
  cmd->add_option("--org", o.org, "lease, run: the tenant org");
  cmd->add_option("--by", o.by, "ship, transfer: the org or operator acting");
  cmd->add_option("--quantity", o.quantity, "ship: number of chips")->check(CLI::PositiveNumber);
  cmd->add_option("--gpus", o.gpus, "lease: GPUs leased (default: the pool); run: job GPUs");
  cmd->add_option("--country-tpp", o.country_tpp, "lease: TPP leased in the country incl. this");
  cmd->add_option("--org-tpp", o.org_tpp, "lease: TPP leased by the org's group incl. this");
  cmd->add_option("--job", o.job_file,
                  "run: a job file (YAML or JSON: org, gpus, training_flops, purpose, datasets)");
  cmd->add_option("--training-flops", o.training_flops, "run: total training operations");
  cmd->add_option("--purpose", o.purpose, "run: the job's purpose");
  cmd->add_option("--datasets", o.datasets, "run: datasets the job uses");
  cmd->add_option("--dataset", o.dataset, "transfer: the dataset moved");
}

Result<Instant> date_or_today(const std::string& text) {
  if (text.empty()) {
    Date today = date_of(SystemClock().now());
    return Instant::from_date(today.year, today.month, today.day);
  }
  return parse_instant(text);
}

// A run's job from a YAML/JSON file; errors name the file, line and column.
Status read_job_file(const std::string& path, SubjectOptions& o) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::ParserException& e) {
    return Error(ErrorCode::kInvalidArgument, "YAML syntax error: " + e.msg,
                 SourceLocation{path, e.mark.line + 1, e.mark.column + 1});
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kNotFound, std::string("cannot read the job file: ") + e.what(),
                 SourceLocation{path, 0, 0});
  }
  if (!root.IsMap()) {
    return Error(ErrorCode::kInvalidArgument, "a job file is a mapping of fields",
                 SourceLocation{path, 1, 1});
  }
  auto at = [&](const YAML::Node& n) {
    return SourceLocation{path, n.Mark().line + 1, n.Mark().column + 1};
  };
  for (const auto& kv : root) {
    std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    try {
      if (key == "org") {
        if (o.org.empty()) o.org = v.as<std::string>();
      } else if (key == "gpus") {
        if (!o.gpus) o.gpus = v.as<int>();
      } else if (key == "training_flops") {
        if (!o.training_flops) o.training_flops = v.as<double>();
      } else if (key == "purpose") {
        o.purpose = v.as<std::string>();
      } else if (key == "datasets") {
        if (o.datasets.empty()) o.datasets = v.as<std::vector<std::string>>();
      } else if (key != "id" && key != "name" && key != "command" && key != "work" &&
                 key != "priority" && key != "checkpoint" && key != "chips") {
        return Error(ErrorCode::kInvalidArgument, "unknown job field '" + key + "'", at(kv.first));
      }
    } catch (const YAML::Exception&) {
      return Error(ErrorCode::kInvalidArgument, "job field '" + key + "' has the wrong type",
                   at(v));
    }
  }
  return ok();
}

Result<Request> make_request(SubjectOptions o) {
  auto need = [](const std::string& value, const char* flag, const std::string& action) -> Status {
    if (value.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   std::string("--action ") + action + " needs " + flag);
    }
    return ok();
  };
  if (o.action == "ship") {
    STRAITS_TRY(need(o.chip, "--chip", o.action));
    STRAITS_TRY(need(o.site, "--site", o.action));
    ShipRequest r{ChipId(o.chip), SiteId(o.site), std::nullopt, std::nullopt, o.by, o.quantity};
    if (!o.from_site.empty()) r.source_site = SiteId(o.from_site);
    if (!o.pool.empty()) r.pool = PoolId(o.pool);
    return Request(r);
  }
  if (o.action == "lease") {
    STRAITS_TRY(need(o.org, "--org", o.action));
    STRAITS_TRY(need(o.pool, "--pool", o.action));
    return Request(LeaseRequest{OrgId(o.org), PoolId(o.pool), o.gpus, o.country_tpp, o.org_tpp});
  }
  if (o.action == "run") {
    if (!o.job_file.empty()) STRAITS_TRY(read_job_file(o.job_file, o));
    STRAITS_TRY(need(o.org, "--org (or an org in --job)", o.action));
    STRAITS_TRY(need(o.pool, "--pool", o.action));
    JobSpec job;
    job.gpus = o.gpus.value_or(8);
    job.training_flops = o.training_flops.value_or(0);
    job.purpose = o.purpose;
    for (const auto& d : o.datasets) job.datasets.push_back(DatasetId(d));
    return Request(RunRequest{OrgId(o.org), PoolId(o.pool), job});
  }
  STRAITS_TRY(need(o.dataset, "--dataset", o.action));
  STRAITS_TRY(need(o.site, "--site", o.action));
  return Request(TransferRequest{DatasetId(o.dataset), SiteId(o.site), o.by});
}

std::string describe_subject(const SubjectOptions& o) {
  if (o.action == "ship") {
    return "ship of " + o.chip + " to " + o.site +
           (o.from_site.empty() ? "" : " from " + o.from_site) +
           (o.by.empty() ? "" : " by " + o.by);
  }
  if (o.action == "lease") return "lease of pool " + o.pool + " by org " + o.org;
  if (o.action == "run") return "run on pool " + o.pool + " by org " + o.org;
  return "transfer of dataset " + o.dataset + " to " + o.site + (o.by.empty() ? "" : " by " + o.by);
}

// The catalog and engine a command works on; keeps the catalog alive.
struct World {
  std::unique_ptr<catalog::Catalog> catalog;
  std::optional<Engine> engine;
};

// A pack folder, or a bare name of a scenario under rules/scenarios/.
std::filesystem::path pack_path(const Context& context, const std::string& text) {
  std::filesystem::path p(text);
  std::error_code ec;
  if (text.find('/') == std::string::npos && !std::filesystem::is_directory(p, ec)) {
    p = shipped_path(context, "rules") / "scenarios" / text;
  }
  return p;
}

Result<ParamOverrides> parse_params(const std::vector<std::string>& texts) {
  ParamOverrides params;
  for (const auto& p : texts) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error(ErrorCode::kInvalidArgument, "--param takes NAME=YYYY-MM-DD, got '" + p + "'");
    }
    params[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return params;
}

std::filesystem::path catalog_path(const Context& context, const std::string& dir) {
  return dir.empty() ? shipped_path(context, "catalog") : std::filesystem::path(dir);
}

Result<World> load_world(Context& context, const PackOptions& o) {
  auto loaded = catalog::load_catalog(catalog_path(context, o.catalog_dir));
  if (!loaded) return std::move(loaded).error();
  World world;
  world.catalog = std::make_unique<catalog::Catalog>(std::move(loaded).value());
  std::vector<std::filesystem::path> packs;
  for (const auto& r : o.rules) packs.emplace_back(r);
  if (packs.empty()) packs.push_back(shipped_path(context, "rules") / "default");
  for (const auto& s : o.scenarios) packs.push_back(pack_path(context, s));
  auto params = parse_params(o.params);
  if (!params) return std::move(params).error();
  auto engine = Engine::load(*world.catalog, packs, *params);
  if (!engine) return std::move(engine).error();
  world.engine = std::move(engine).value();
  return world;
}

std::string outcome_word(Outcome o) {
  switch (o) {
    case Outcome::kAllow: return "ALLOW";
    case Outcome::kLicenceRequired: return "LICENCE REQUIRED";
    case Outcome::kDeny: return "DENY";
  }
  return "?";
}

void print_decision(std::ostream& out, const Decision& d, const std::string& subject) {
  out << outcome_word(d.outcome) << ": " << subject << " on " << to_iso_date(d.at) << "\n";
  if (d.rules.empty()) out << "  no rule applies (default: allow)\n";
  for (const MatchedRule& m : d.rules) {
    out << "  " << to_string(m.effect) << "  " << m.id << "\n";
    out << "      " << m.title << "\n";
    out << "      source: " << m.source << "\n";
    if (m.effect == EffectKind::kRequireLicence) {
      out << "      licence " << m.licence_name << ": "
          << (m.lifted_by ? "held (" + m.lifted_by->str() + ")" : std::string("not held")) << "\n";
    }
    if (m.effect == EffectKind::kRecord) out << "      obligation: " << m.obligation << "\n";
  }
  out << "  holds until: "
      << (d.valid_until == Instant::max() ? std::string("no change ahead in the loaded rules")
                                          : to_iso8601(d.valid_until))
      << "\n";
}

void run_check(Context& context, CheckOptions& o) {
  auto at = date_or_today(o.at);
  if (!at) return context.fail("--at: " + at.error().message());
  auto request = make_request(o.subject);
  if (!request) return context.fail(request.error().to_string());
  auto world = load_world(context, o.packs);
  if (!world) return context.fail(world.error().to_string());
  auto decision = world->engine->decide(*request, *at);
  if (!decision) return context.fail(decision.error().to_string());
  if (o.json) {
    json j = decision_json(*decision);
    j["subject"] = describe_subject(o.subject);
    *context.out << j.dump(2) << "\n";
  } else {
    print_decision(*context.out, *decision, describe_subject(o.subject));
  }
}

void run_lint(Context& context, const LintOptions& o) {
  PackOptions packs;
  packs.rules = o.dirs;
  packs.params = o.params;
  packs.catalog_dir = o.catalog_dir;
  auto world = load_world(context, packs);
  if (!world) return context.fail(world.error().to_string());
  *context.out << "rules OK: " << world->engine->rule_count() << " rules in " << o.dirs.size()
               << (o.dirs.size() == 1 ? " pack" : " packs") << "\n";
}

void run_timeline(Context& context, TimelineOptions& o) {
  auto from = parse_instant(o.from);
  if (!from) return context.fail("--from: " + from.error().message());
  auto to = date_or_today(o.to);
  if (!to) return context.fail("--to: " + to.error().message());
  if (*to <= *from) return context.fail("--to must be after --from");
  auto request = make_request(o.subject);
  if (!request) return context.fail(request.error().to_string());
  auto world = load_world(context, o.packs);
  if (!world) return context.fail(world.error().to_string());
  auto subject = world->engine->resolve(*request);
  if (!subject) return context.fail(subject.error().to_string());
  json intervals = json::array();
  Table table({"FROM", "UNTIL", "DECISION", "RULES"});
  for (Instant t = *from; t < *to;) {
    Decision d = world->engine->decide(*subject, t);
    Instant end = std::min(d.valid_until, *to);
    std::string ids;
    for (const auto& m : d.rules) {
      std::string id = m.id.str() + (m.lifted_by ? " (lifted)" : "");
      if (ids.find(id) == std::string::npos) ids += (ids.empty() ? "" : ", ") + id;
    }
    table.add_row({to_iso_date(t), end == *to && d.valid_until > *to ? "..." : to_iso_date(end),
                   std::string(to_string(d.outcome)), ids.empty() ? "-" : ids});
    json j = decision_json(d);
    j["from"] = to_iso8601(t);
    j["until"] = to_iso8601(end);
    intervals.push_back(j);
    t = end;
  }
  if (o.json) {
    *context.out << json{{"subject", describe_subject(o.subject)}, {"intervals", intervals}}.dump(2)
                 << "\n";
  } else {
    *context.out << describe_subject(o.subject) << ", " << to_iso_date(*from) << " to "
                 << to_iso_date(*to) << ":\n";
    table.print(*context.out);
  }
}

void run_matrix(Context& context, MatrixOptions& o) {
  auto at = date_or_today(o.at);
  if (!at) return context.fail("--at: " + at.error().message());
  auto world = load_world(context, o.packs);
  if (!world) return context.fail(world.error().to_string());
  const auto& cat = *world->catalog;
  std::vector<std::string> headers = {"POOL", "COUNTRY", "CHIP"};
  for (const auto& org : cat.orgs()) headers.push_back(org.id.str());
  std::vector<Table::Align> align(headers.size(), Table::Align::kLeft);
  Table table(headers, align);
  json cells = json::array();
  for (const auto& pool : cat.pools()) {
    std::vector<std::string> row = {pool.id.str(), cat.find_site(pool.site)->country.str(),
                                    pool.chip.str()};
    for (const auto& org : cat.orgs()) {
      auto d = world->engine->decide(LeaseRequest{org.id, pool.id, {}, {}, {}}, *at);
      if (!d) return context.fail(d.error().to_string());
      std::string cell = d->outcome == Outcome::kAllow  ? "allow"
                         : d->outcome == Outcome::kDeny ? "DENY"
                                                        : "licence";
      if (!d->obligations.empty()) cell += "*";
      row.push_back(cell);
      json c = decision_json(*d);
      c["pool"] = pool.id.str();
      c["org"] = org.id.str();
      cells.push_back(c);
    }
    table.add_row(row);
  }
  if (o.json) {
    *context.out << json{{"at", to_iso8601(*at)}, {"action", "lease"}, {"cells", cells}}.dump(2)
                 << "\n";
    return;
  }
  *context.out << "Who may lease what on " << to_iso_date(*at)
               << " (* = obligations recorded; licence = a licence is required and not held)\n";
  table.print(*context.out);
}

// --- policy diff ------------------------------------------------------------

struct DiffCommandOptions {
  std::vector<std::string> base, with;
  std::string catalog_dir, base_catalog, with_catalog;
  std::string from = "2022-01-01", to;
  std::vector<std::string> params;
  std::optional<double> country_tpp, org_tpp;
  bool json = false;
};

// A catalog folder's files, names and bytes, in name order: two folders over
// which the same engines would be compiled have the same contents.
Result<std::string> folder_contents(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  if (ec) {
    return Error(ErrorCode::kNotFound,
                 "cannot read the catalog folder " + dir.string() + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  std::string out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in) return Error(ErrorCode::kNotFound, "cannot read " + f.string());
    std::string text = bytes.str();
    out += f.filename().string() + '\0' + std::to_string(text.size()) + '\0' + text;
  }
  return out;
}

// The one catalog both sides are compiled against: --catalog, or
// --base-catalog and --with-catalog when their files are the same.
Result<std::filesystem::path> diff_catalog(const Context& context, const DiffCommandOptions& o) {
  if (o.base_catalog.empty() && o.with_catalog.empty()) return catalog_path(context, o.catalog_dir);
  if (!o.catalog_dir.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "--catalog names one catalog for both sides: give it, or --base-catalog and "
                 "--with-catalog, not both");
  }
  std::filesystem::path base = catalog_path(context, o.base_catalog);
  std::filesystem::path with = catalog_path(context, o.with_catalog);
  auto a = folder_contents(base);
  if (!a) return std::move(a).error();
  auto b = folder_contents(with);
  if (!b) return std::move(b).error();
  if (*a != *b) {
    return Error(ErrorCode::kFailedPrecondition,
                 "the two rule sets are over different catalogs (" + base.string() + " and " +
                     with.string() +
                     " differ): a diff compares rules over one world; diff the catalogs first");
  }
  return base;
}

// One side's engine. A --param moves the date of a side whose packs declare
// it; `used` collects the names some side declared.
Result<Engine> load_side(const Context& context, const catalog::Catalog& catalog,
                         const std::vector<std::string>& dirs, const ParamOverrides& params,
                         std::set<std::string>& used) {
  std::vector<std::filesystem::path> packs;
  for (const auto& d : dirs) packs.push_back(pack_path(context, d));
  auto plain = Engine::load(catalog, packs);
  if (!plain) return plain;
  ParamOverrides mine;
  for (const auto& [name, value] : params) {
    if (plain->params().count(name)) mine[name] = value;
  }
  if (mine.empty()) return plain;
  for (const auto& [name, value] : mine) used.insert(name);
  return Engine::load(catalog, packs, mine);
}

void run_diff(Context& context, const DiffCommandOptions& o) {
  auto from = parse_instant(o.from);
  if (!from) return context.fail("--from: " + from.error().message());
  // Default: two years ahead of today, where proposed rules bite.
  auto to = o.to.empty() ? Result<Instant>(*date_or_today("") + Duration::days(730))
                         : parse_instant(o.to);
  if (!to) return context.fail("--to: " + to.error().message());
  if (*to <= *from) return context.fail("--to must be after --from: the range is empty");
  auto params = parse_params(o.params);
  if (!params) return context.fail(params.error().to_string());
  auto catalog_dir = diff_catalog(context, o);
  if (!catalog_dir) return context.fail(catalog_dir.error().to_string());
  auto catalog = catalog::load_catalog(*catalog_dir);
  if (!catalog) return context.fail(catalog.error().to_string());
  std::set<std::string> used;
  auto base = load_side(context, *catalog, o.base, *params, used);
  if (!base) return context.fail("--base: " + base.error().to_string());
  auto with = load_side(context, *catalog, o.with, *params, used);
  if (!with) return context.fail("--with: " + with.error().to_string());
  for (const auto& [name, value] : *params) {
    if (!used.count(name)) return context.fail("--param " + name + ": neither side declares it");
  }
  DiffOptions options;
  options.from = *from;
  options.to = *to;
  options.country_tpp = o.country_tpp;
  options.org_tpp = o.org_tpp;
  auto diff = diff_policies(*catalog, *base, *with, options);
  if (!diff) return context.fail(diff.error().to_string());
  *context.out << (o.json ? diff_to_json(*diff, *catalog) + "\n" : diff_to_text(*diff, *catalog));
}

}  // namespace

void add_policy_command(CLI::App& app, Context& context) {
  CLI::App* policy = app.add_subcommand(
      "policy", "Decide whether a shipment, lease, job or data transfer is allowed, and why");
  policy->require_subcommand(1);

  auto check_options = std::make_shared<CheckOptions>();
  CLI::App* check = policy->add_subcommand(
      "check",
      "Decide one action on a date: the decision, every rule that applied, its "
      "citation, licences and obligations (exit 0 whatever the decision)");
  add_subject_options(check, check_options->subject);
  add_pack_options(check, check_options->packs);
  check->add_option("--at", check_options->at, "Date decided, YYYY-MM-DD (default: today)");
  check->add_flag("--json", check_options->json, "Print JSON for scripts");
  check->callback([&context, check_options] { run_check(context, *check_options); });

  auto lint_options = std::make_shared<LintOptions>();
  CLI::App* lint = policy->add_subcommand(
      "lint", "Check rule packs against the catalog; every error as file:line:column (exit 1)");
  lint->add_option("dirs", lint_options->dirs, "Pack folders, base first")->required();
  lint->add_option("--param", lint_options->params, "NAME=YYYY-MM-DD");
  lint->add_option("--catalog", lint_options->catalog_dir, "Catalog folder");
  lint->callback([&context, lint_options] { run_lint(context, *lint_options); });

  auto timeline_options = std::make_shared<TimelineOptions>();
  CLI::App* timeline = policy->add_subcommand(
      "timeline", "For one subject: the intervals over which the decision stays the same");
  add_subject_options(timeline, timeline_options->subject);
  add_pack_options(timeline, timeline_options->packs);
  timeline->add_option("--from", timeline_options->from, "First date (default 2022-01-01)");
  timeline->add_option("--to", timeline_options->to, "Last date (default: today)");
  timeline->add_flag("--json", timeline_options->json, "Print JSON for scripts");
  timeline->callback([&context, timeline_options] { run_timeline(context, *timeline_options); });

  auto matrix_options = std::make_shared<MatrixOptions>();
  CLI::App* matrix =
      policy->add_subcommand("matrix", "Every org x pool: who may lease what on a date");
  add_pack_options(matrix, matrix_options->packs);
  matrix->add_option("--at", matrix_options->at, "Date decided (default: today)");
  matrix->add_flag("--json", matrix_options->json, "Print JSON for scripts");
  matrix->callback([&context, matrix_options] { run_matrix(context, *matrix_options); });

  auto diff_options = std::make_shared<DiffCommandOptions>();
  CLI::App* diff = policy->add_subcommand(
      "diff",
      "Which decisions change between two rule sets: every subject the catalog can form, "
      "when, from what to what, and under which rules (exit 0 whatever changes)");
  diff->add_option("--base", diff_options->base, "Pack folders of the base rule set, base first")
      ->required();
  diff->add_option("--with", diff_options->with,
                   "Pack folders of the rule set compared (a bare name: rules/scenarios/NAME)")
      ->required();
  diff->add_option("--catalog", diff_options->catalog_dir,
                   "Catalog folder of both sides (default: the shipped catalog)");
  diff->add_option("--base-catalog", diff_options->base_catalog,
                   "Catalog folder of the base side; must hold the same files as --with-catalog");
  diff->add_option("--with-catalog", diff_options->with_catalog,
                   "Catalog folder of the compared side");
  diff->add_option("--from", diff_options->from, "First date compared (default 2022-01-01)");
  diff->add_option("--to", diff_options->to, "Date the range ends, excluded (default: in 2 years)");
  diff->add_option("--param", diff_options->params,
                   "Move a scenario date, on each side that declares it: NAME=YYYY-MM-DD");
  diff->add_option("--country-tpp", diff_options->country_tpp,
                   "Leases: TPP leased in the site's country, the lease included");
  diff->add_option("--org-tpp", diff_options->org_tpp,
                   "Leases: TPP leased by the org's group, the lease included");
  diff->add_flag("--json", diff_options->json, "Print JSON for scripts");
  diff->callback([&context, diff_options] { run_diff(context, *diff_options); });
}

}  // namespace straits::cli
