// straits rules push|list|show|propose|adopt|retire: rule sets of a running
// `straits serve` (issue 17). A push sends pack folders' *.rules files as
// text; the server checks them against its catalog (errors as
// PACK/FILE:line:col) and keeps them as a draft, which is proposed, then
// adopted from an effective instant (now by default) without a restart, and
// retired. Tables for people, --json for scripts, as the other client
// commands.
#include <CLI/CLI.hpp>
#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "policy/engine.h"
#include "sim/rule_change.h"

namespace straits::cli {
namespace {

using nlohmann::json;

constexpr const char* kList = "/v1/rulesets";

std::string text_of(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "-";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

void print_sets(Context& context, const json& sets) {
  Table table({"ID", "NAME", "STATE", "EFFECTIVE", "HASH", "CREATED", "BY"});
  for (const json& s : sets) {
    const std::string hash = text_of(s, "hash");
    table.add_row({text_of(s, "id"), text_of(s, "name"), text_of(s, "state"),
                   text_of(s, "effective"), hash.substr(0, 12), text_of(s, "created_at"),
                   text_of(s, "created_by")});
  }
  table.print(*context.out);
}

// A set as the server answered it: JSON, or its row and a line.
void print_set(Context& context, const Connection& o, const json& set, const char* done) {
  if (o.json) {
    *context.out << set.dump(2) << "\n";
    return;
  }
  if (done) *context.out << "rule set " << text_of(set, "id") << " " << done << "\n";
  print_sets(context, json::array({set}));
}

struct Push : Connection {
  std::vector<std::string> dirs;
  std::string name;
  std::vector<std::string> params;  // K=V
  bool propose = false;
};

void push(Context& context, const Push& o) {
  std::vector<std::filesystem::path> dirs(o.dirs.begin(), o.dirs.end());
  auto packs = policy::read_pack_sources(dirs);
  if (!packs) {
    context.fail(packs.error().to_string());
    return;
  }
  json body = {{"name", o.name}, {"packs", json::array()}, {"params", json::object()}};
  for (const policy::PackSource& pack : *packs) {
    json files = json::object();
    for (const auto& [file, text] : pack.files) files[file] = text;
    body["packs"].push_back({{"name", pack.name}, {"files", files}});
  }
  for (const std::string& param : o.params) {
    const auto eq = param.find('=');
    if (eq == std::string::npos || eq == 0) {
      context.fail("--param '" + param + "': give NAME=VALUE (close_from=2027-01-01)");
      return;
    }
    body["params"][param.substr(0, eq)] = param.substr(eq + 1);
  }
  ApiClient client(context, o);
  auto set = client.post(kList, body.dump());
  if (!set) return;
  if (o.propose) {
    set = client.post(std::string(kList) + "/" + encode(text_of(*set, "id")) + "/propose", "{}");
    if (!set) return;
  }
  print_set(context, o, *set, o.propose ? "pushed and proposed" : "pushed (a draft)");
}

struct ListSets : Connection {
  std::string state;
  bool all = false;
};

void list(Context& context, const ListSets& o) {
  ApiClient client(context, o);
  json items = json::array();
  std::string after;
  json next;
  do {
    std::string query = o.state.empty() ? "" : "state=" + encode(o.state);
    if (!after.empty()) query += std::string(query.empty() ? "" : "&") + "after=" + encode(after);
    auto page = client.get(std::string(kList) + (query.empty() ? "" : "?" + query));
    if (!page) return;
    for (const json& item : page->value("items", json::array())) items.push_back(item);
    next = page->value("next", json(nullptr));
    after = next.is_string() ? next.get<std::string>() : "";
  } while (o.all && !after.empty());
  if (o.json) {
    *context.out << json{{"items", items}, {"next", o.all ? json(nullptr) : next}}.dump(2) << "\n";
    return;
  }
  print_sets(context, items);
  if (next.is_string()) *context.out << "(more after " << after << ": --all lists every one)\n";
}

struct ById : Connection {
  std::string id;
  std::string effective;  // adopt only
};

void show(Context& context, const ById& o) {
  ApiClient client(context, o);
  client.suggest_on_not_found(kList, o.id);
  auto set = client.get(std::string(kList) + "/" + encode(o.id));
  if (!set) return;
  print_set(context, o, *set, nullptr);
  if (o.json) return;
  *context.out << "hash: " << text_of(*set, "hash") << "\n";
  for (const json& pack : set->value("packs", json::array())) {
    *context.out << "pack " << text_of(pack, "name") << ":";
    const json files = pack.value("files", json::object());  // items() needs it alive
    for (const auto& [file, text] : files.items()) {
      *context.out << " " << file;
    }
    *context.out << "\n";
  }
  const json params = set->value("params", json::object());
  for (const auto& [name, value] : params.items()) {
    *context.out << "param " << name << " = " << value.get<std::string>() << "\n";
  }
}

void move(Context& context, const ById& o, const char* verb, const char* done) {
  ApiClient client(context, o);
  client.suggest_on_not_found(kList, o.id);
  json body = json::object();
  if (!o.effective.empty()) body["effective"] = o.effective;
  auto set = client.post(std::string(kList) + "/" + encode(o.id) + "/" + verb, body.dump());
  if (set) print_set(context, o, *set, done);
}

struct Analysis : Connection {
  std::string id;
  std::string against = "adopted";  // diff
  std::string from, to;             // instants; to: diff only
  int simulate_days = 0;            // impact: replay the last DAYS of jobs
  std::string out = "out/rule-impact";
};

std::string joined(const json& list, std::size_t max = 4) {
  if (!list.is_array() || list.empty()) return "-";
  std::string out;
  for (std::size_t i = 0; i < list.size() && i < max; ++i) {
    out += (i ? "," : "") + (list[i].is_string() ? list[i].get<std::string>() : list[i].dump());
  }
  if (list.size() > max) out += ",+" + std::to_string(list.size() - max);
  return out;
}

// What would change: one row a group of subjects, under the rules changed.
void diff(Context& context, const Analysis& o) {
  ApiClient client(context, o);
  client.suggest_on_not_found(kList, o.id);
  json body = json::object();
  if (!o.from.empty()) body["from"] = o.from;
  if (!o.to.empty()) body["to"] = o.to;
  auto answer = client.post(
      std::string(kList) + "/" + encode(o.id) + "/diff?against=" + encode(o.against), body.dump());
  if (!answer) return;
  if (o.json) {
    *context.out << answer->dump(2) << "\n";
    return;
  }
  const json& groups = (*answer)["groups"];
  *context.out << "rule set " << o.id << " against " << o.against << ", "
               << text_of(*answer, "from") << " .. " << text_of(*answer, "to") << ": "
               << text_of(*answer, "changed_rows") << " subject-intervals change in "
               << groups.size() << " groups\n";
  Table table({"ACTION", "CHIPS", "COUNTRIES", "POOLS/SITES", "ORGS", "FROM", "UNTIL", "BASE",
               "WITH", "RULES"});
  for (const json& g : groups) {
    const json& places = g.contains("pools") ? g["pools"] : g.value("sites", json::array());
    table.add_row({text_of(g, "action"), joined(g["chips"]), joined(g["countries"]), joined(places),
                   joined(g.value("orgs", json::array())), text_of(g, "from"), text_of(g, "until"),
                   text_of(g["base"], "outcome"), text_of(g["with"], "outcome"),
                   joined(g["changed_rules"], 2)});
  }
  table.print(*context.out);
}

std::map<std::string, std::string> files_of(const json& pack) {
  std::map<std::string, std::string> out;
  const json files = pack.value("files", json::object());
  for (const auto& [name, text] : files.items()) out[name] = text.get<std::string>();
  return out;
}

sim::RuleSetFiles set_of(const json& j) {
  sim::RuleSetFiles set;
  for (const json& p : j.value("packs", json::array())) {
    set.packs.push_back({p.value("name", ""), files_of(p)});
  }
  const json params = j.value("params", json::object());
  for (const auto& [name, value] : params.items()) set.params[name] = value.get<std::string>();
  return set;
}

// The server's export for --simulate, as simulate_rule_change takes it.
Result<sim::SimulationInputs> simulation_inputs(const json& j) {
  sim::SimulationInputs in;
  const json catalog = j.value("catalog", json::object());
  for (const auto& [name, text] : catalog.items()) in.catalog_files[name] = text.get<std::string>();
  in.workload_jsonl = j.value("workload", "");
  for (const json& l : j.value("leases", json::array())) {
    auto start = parse_instant(l.value("start", "")), end = parse_instant(l.value("end", ""));
    auto price = parse_money(l.value("price_per_gpu_hour", ""));
    if (!start || !end || !price) {
      return Error(ErrorCode::kInvalidArgument,
                   "the server's lease " + l.value("id", "?") + " has a bad start, end or price");
    }
    in.leases.push_back(sched::Lease{LeaseId(l.value("id", "")), OrgId(l.value("org", "")),
                                     PoolId(l.value("pool", "")), l.value("gpus", 0), *start, *end,
                                     *price});
  }
  in.in_force = set_of(j.value("in_force", json::object()));
  in.proposed = set_of(j.value("proposed", json::object()));
  auto start = parse_instant(j.value("start", ""));
  if (!start) return Error(ErrorCode::kInvalidArgument, "the server's export has no start");
  in.start = *start;
  in.horizon = Duration::days(j.value("days", 30));
  return in;
}

void print_impact(Context& context, const json& j) {
  *context.out << "adopting " << text_of(j["ruleset"], "id") << " from " << text_of(j, "from")
               << ":\n";
  Table leases({"LEASE", "ORG", "POOL", "GPUS", "FROM", "OUTCOME", "RULE"});
  for (const json& l : j.value("leases", json::array())) {
    leases.add_row({text_of(l, "lease"), text_of(l, "org"), text_of(l, "pool"), text_of(l, "gpus"),
                    text_of(l, "from"), text_of(l, "outcome"), text_of(l, "rule")});
  }
  *context.out << "leases lost or needing a licence: " << j.value("leases", json::array()).size()
               << "\n";
  leases.print(*context.out);
  Table running({"JOB", "ORG", "POOL", "MUST LEAVE", "CHECKPOINT BY", "COULD GO"});
  for (const json& r : j.value("running", json::array())) {
    running.add_row({text_of(r, "job"), text_of(r, "org"), text_of(r, "pool"), text_of(r, "from"),
                     text_of(r, "checkpoint_by"), joined(r.value("could_go", json::array()), 3)});
  }
  *context.out << "running jobs that must move: " << j.value("running", json::array()).size()
               << "\n";
  running.print(*context.out);
  *context.out << "queued jobs with nowhere to run: " << j.value("queued", json::array()).size()
               << "; datasets needing an approval: " << j.value("datasets", json::array()).size()
               << "\n";
  Table orgs({"ORG", "LEASES", "RUNNING", "QUEUED", "DATASETS"});
  for (const json& g : j.value("orgs", json::array())) {
    orgs.add_row({text_of(g, "org"), text_of(g, "leases"), text_of(g, "running"),
                  text_of(g, "queued"), text_of(g, "datasets")});
  }
  orgs.print(*context.out);
  Table weeks({"WEEK", "LEASE GPU-H", "LEASE MONEY", "JOB GPU-H", "JOB MONEY"});
  for (const json& w : j.value("weeks", json::array())) {
    weeks.add_row({text_of(w, "week"), text_of(w, "lease_gpu_hours"), text_of(w, "lease_money"),
                   text_of(w, "job_gpu_hours"), text_of(w, "job_money")});
  }
  *context.out << "at risk per week:\n";
  weeks.print(*context.out);
}

void impact(Context& context, const Analysis& o) {
  ApiClient client(context, o);
  client.suggest_on_not_found(kList, o.id);
  json body = json::object();
  if (!o.from.empty()) body["from"] = o.from;
  const std::string path = std::string(kList) + "/" + encode(o.id);
  auto answer = client.post(path + "/impact", body.dump());
  if (!answer) return;
  if (o.json && o.simulate_days == 0) {
    *context.out << answer->dump(2) << "\n";
    return;
  }
  if (!o.json) print_impact(context, *answer);
  if (o.simulate_days == 0) return;
  auto exported = client.get(path + "/simulation?days=" + std::to_string(o.simulate_days));
  if (!exported) return;
  auto inputs = simulation_inputs(*exported);
  if (!inputs) return context.fail(inputs.error().to_string());
  if (auto done = sim::simulate_rule_change(*inputs, o.out); !done) {
    return context.fail(done.error().to_string());
  }
  const std::string page = (std::filesystem::path(o.out) / "compare.html").string();
  if (o.json) {
    (*answer)["simulation"] = {{"days", o.simulate_days}, {"page", page}};
    *context.out << answer->dump(2) << "\n";
    return;
  }
  *context.out << "replayed the last " << o.simulate_days
               << " days of jobs under both rule sets: " << page << "\n";
}

}  // namespace

void add_rules_command(CLI::App& app, Context& context) {
  CLI::App* rules = app.add_subcommand(
      "rules",
      "Rule sets of a running server: push, list, show, propose, adopt, retire, diff, impact "
      "(a running `straits serve`: STRAITS_URL, STRAITS_TOKEN)");
  rules->require_subcommand(1);
  {
    auto o = std::make_shared<Push>();
    CLI::App* c = rules->add_subcommand(
        "push", "Send pack folders (base first) as a new rule set, a draft (admin, compliance)");
    c->add_option("dirs", o->dirs, "Pack folders of *.rules files")->required();
    c->add_option("--name", o->name, "The set's name")->required();
    c->add_option("--param", o->params, "NAME=VALUE: a param's date or instant (repeatable)");
    c->add_flag("--propose", o->propose, "Propose it at once");
    add_connection(c, *o);
    c->callback([&context, o] { push(context, *o); });
  }
  {
    auto o = std::make_shared<ListSets>();
    CLI::App* c = rules->add_subcommand("list", "List the rule sets you may see");
    c->add_option("--state", o->state, "draft, proposed, adopted or retired");
    c->add_flag("--all", o->all, "Every page, not only the first");
    add_connection(c, *o);
    c->callback([&context, o] { list(context, *o); });
  }
  struct Verb {
    const char* name;
    const char* help;
    const char* done;
  };
  const Verb verbs[] = {
      {"show", "Show one rule set, its packs, files and params", nullptr},
      {"propose", "Propose a draft for adoption (admin, compliance)", "proposed"},
      {"adopt", "Adopt a proposed set from --effective (default now), without a restart",
       "adopted"},
      {"retire", "Retire a set: the one before it decides again (admin, compliance)", "retired"},
  };
  for (const Verb& v : verbs) {
    auto o = std::make_shared<ById>();
    CLI::App* c = rules->add_subcommand(v.name, v.help);
    c->add_option("id", o->id, "Rule set id (rs-00000001)")->required();
    if (std::string(v.name) == "adopt") {
      c->add_option("--effective", o->effective, "From when, ISO 8601 (default: now)");
    }
    add_connection(c, *o);
    c->callback([&context, o, v] {
      if (v.done == nullptr) return show(context, *o);
      move(context, *o, v.name, v.done);
    });
  }
  {
    auto o = std::make_shared<Analysis>();
    CLI::App* c = rules->add_subcommand(
        "diff",
        "What a set changes against the rules in force or another set: by action, chips, "
        "countries, pools, orgs and dates (admin, auditor, compliance)");
    c->add_option("id", o->id, "Rule set id (rs-00000002)")->required();
    c->add_option("--against", o->against, "adopted (the rules in force) or a rule set id");
    c->add_option("--from", o->from, "From, ISO 8601 (default: now)");
    c->add_option("--to", o->to, "Until, ISO 8601 (default: two years after --from)");
    add_connection(c, *o);
    c->callback([&context, o] { diff(context, *o); });
  }
  {
    auto o = std::make_shared<Analysis>();
    CLI::App* c = rules->add_subcommand(
        "impact",
        "What adopting a set would do to the live fleet: leases, running and queued "
        "jobs, datasets, orgs, GPU-hours and money per week");
    c->add_option("id", o->id, "Rule set id (rs-00000002)")->required();
    c->add_option("--from", o->from, "Adopted from, ISO 8601 (default: now)");
    c->add_option("--simulate", o->simulate_days,
                  "Also replay the last DAYS of jobs under both sets (sim compare page)")
        ->check(CLI::Range(1, 366));
    c->add_option("--out", o->out, "Where --simulate writes its runs and page")
        ->capture_default_str();
    add_connection(c, *o);
    c->callback([&context, o] { impact(context, *o); });
  }
}

}  // namespace straits::cli
