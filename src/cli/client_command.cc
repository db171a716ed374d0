// straits lease|job|user|token|request|whoami|decide: clients of a running
// `straits serve`, over its HTTP/JSON API (/v1). The server is found by
// STRAITS_URL (default http://127.0.0.1:8080) and the caller by STRAITS_TOKEN,
// or --url and --token on each command. Answers are printed as tables for
// people, or with --json as the server's JSON (pretty) for scripts. An error
// of the server ({"error": {code, message, field}}) is printed as
// "straits: MESSAGE (field F)" and exits 1.
//
// The audit commands are in audit_command.cc.

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "core/clock.h"
#include "core/time.h"
#include "store/store.h"

namespace straits::cli {
namespace {

using nlohmann::json;

// "?a=1&b=x" from the parameters that are set.
class Query {
 public:
  Query& add(const std::string& key, const std::string& value) {
    if (!value.empty()) text_ += (text_.empty() ? "?" : "&") + key + "=" + encode(value);
    return *this;
  }
  Query& add(const std::string& key, int value) {
    return value > 0 ? add(key, std::to_string(value)) : *this;
  }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

// One server, one caller: sends requests and turns failures into messages.
using Client = ApiClient;

// ---- printing -------------------------------------------------------------

void print_json(Context& context, const json& j) {
  *context.out << j.dump(2) << "\n";
}

// A field as text for a table cell: strings as they are, null as "-".
std::string cell(const json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "-";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string outcome_word(const std::string& outcome) {
  if (outcome == "allow") return "ALLOW";
  if (outcome == "deny") return "DENY";
  if (outcome == "licence_required") return "LICENCE REQUIRED";
  return outcome;
}

// A decision (policy::decision_json) with its rules and their citations.
void print_decision(std::ostream& out, const json& d, const std::string& indent = "") {
  if (!d.is_object()) return;
  out << indent << outcome_word(cell(d, "decision")) << ": " << cell(d, "action") << " at "
      << cell(d, "at") << "\n";
  const json rules = d.value("rules", json::array());
  if (rules.empty()) out << indent << "  no rule applies (default: allow)\n";
  for (const json& r : rules) {
    out << indent << "  " << cell(r, "effect") << "  " << cell(r, "id") << "\n";
    out << indent << "      " << cell(r, "title") << "\n";
    out << indent << "      source: " << cell(r, "source") << "\n";
    if (r.contains("licence")) {
      out << indent << "      licence " << cell(r, "licence") << ": "
          << (r["lifted_by"].is_string() ? "held (" + cell(r, "lifted_by") + ")"
                                         : std::string("not held"))
          << "\n";
    }
    if (r.contains("obligation"))
      out << indent << "      obligation: " << cell(r, "obligation") << "\n";
  }
  out << indent << "  holds until: "
      << (d.contains("valid_until") && d["valid_until"].is_string()
              ? cell(d, "valid_until")
              : std::string("no change ahead in the loaded rules"))
      << "\n";
}

void print_leases(std::ostream& out, const json& items) {
  Table table(
      {"ID", "ORG", "POOL", "GPUS", "START", "END", "STATE", "PRICE/GPU-H"},
      {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight,
       Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight});
  for (const json& l : items) {
    table.add_row({cell(l, "id"), cell(l, "org"), cell(l, "pool"), cell(l, "gpus"),
                   cell(l, "start"), cell(l, "end"), cell(l, "state"),
                   cell(l, "price_per_gpu_hour")});
  }
  table.print(out);
}

std::string waiting_text(const json& job) {
  if (!job.contains("waiting") || !job["waiting"].is_object()) return "-";
  const json& w = job["waiting"];
  std::string text = cell(w, "reason");
  if (w.contains("rule") && w["rule"].is_string()) text += " (rule " + cell(w, "rule") + ")";
  return text;
}

void print_jobs(std::ostream& out, const json& items) {
  Table table({"ID", "ORG", "TEAM", "STATE", "GPUS", "POOL", "WAITING"},
              {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft,
               Table::Align::kRight, Table::Align::kLeft, Table::Align::kLeft});
  for (const json& j : items) {
    const json spec = j.value("spec", json::object());
    const json placement = j.contains("placement") ? j["placement"] : json(nullptr);
    table.add_row({cell(j, "id"), cell(j, "org"), cell(j, "team"), cell(j, "state"),
                   cell(spec, "gpus"), cell(placement, "pool"), waiting_text(j)});
  }
  table.print(out);
}

void print_users(std::ostream& out, const json& items) {
  Table table({"ID", "NAME", "ROLE", "ORG", "OPERATOR", "CREATED", "RETIRED"});
  for (const json& u : items) {
    table.add_row({cell(u, "id"), cell(u, "name"), cell(u, "role"), cell(u, "org"),
                   cell(u, "operator"), cell(u, "created_at"), cell(u, "retired_at")});
  }
  table.print(out);
}

// GET a list; with `all`, follows "next" with ?after= and joins the pages.
std::optional<json> fetch_list(Client& client, const std::string& path, Query query, bool all) {
  json items = json::array();
  std::string after;
  for (;;) {
    Query page = query;
    page.add("after", after);
    auto answer = client.get(path + page.str());
    if (!answer) return std::nullopt;
    for (const json& item : answer->value("items", json::array())) items.push_back(item);
    const json next = answer->value("next", json(nullptr));
    if (!all || !next.is_string() || next.get<std::string>().empty()) {
      return json{{"items", items}, {"next", all ? json(nullptr) : next}};
    }
    after = next.get<std::string>();
  }
}

void more_hint(std::ostream& out, const json& page, const char* what) {
  if (page["next"].is_string()) {
    out << "(more " << what << " after " << page["next"].get<std::string>()
        << ": --all lists every one)\n";
  }
}

// ---- lease ----------------------------------------------------------------

struct LeaseAsk : Connection {
  std::string org, pool, start, end;
  int gpus = 0;
};

json ask_body(const LeaseAsk& o) {
  json body = {{"pool", o.pool}, {"gpus", o.gpus}, {"start", o.start}, {"end", o.end}};
  if (!o.org.empty()) body["org"] = o.org;
  return body;
}

void lease_quote(Context& context, const LeaseAsk& o) {
  Client client(context, o);
  auto q = client.post("/v1/leases/quote", ask_body(o).dump());
  if (!q) return;
  if (o.json) return print_json(context, *q);
  std::ostream& out = *context.out;
  out << "quote: org " << cell(*q, "org") << ", " << cell(*q, "gpus") << " GPUs of pool "
      << cell(*q, "pool") << " from " << cell(*q, "start") << " to " << cell(*q, "end") << "\n";
  out << "  price per GPU-hour  " << cell(*q, "price_per_gpu_hour") << "\n";
  out << "  total               " << cell(*q, "total") << "\n";
  out << "  GPUs available      " << cell(*q, "available_gpus") << "\n";
  print_decision(out, q->value("decision", json(nullptr)), "  ");
}

void lease_create(Context& context, const LeaseAsk& o) {
  Client client(context, o);
  auto lease = client.post("/v1/leases", ask_body(o).dump());
  if (!lease) return;
  if (o.json) return print_json(context, *lease);
  print_leases(*context.out, json::array({*lease}));
}

struct LeaseList : Connection {
  std::string org, pool, state;
  int limit = 0;
  bool all = false;
};

void lease_list(Context& context, const LeaseList& o) {
  Client client(context, o);
  Query query;
  query.add("org", o.org).add("pool", o.pool).add("state", o.state).add("limit", o.limit);
  auto page = fetch_list(client, "/v1/leases", query, o.all);
  if (!page) return;
  if (o.json) return print_json(context, *page);
  print_leases(*context.out, (*page)["items"]);
  more_hint(*context.out, *page, "leases");
}

struct ById : Connection {
  std::string id;
};

void lease_get(Context& context, const ById& o) {
  Client client(context, o);
  client.suggest_on_not_found("/v1/leases", o.id);
  auto lease = client.get("/v1/leases/" + encode(o.id));
  if (!lease) return;
  if (o.json) return print_json(context, *lease);
  print_leases(*context.out, json::array({*lease}));
  *context.out << "created " << cell(*lease, "created_at") << " by " << cell(*lease, "created_by")
               << "; terminated " << cell(*lease, "terminated_at") << "\n";
  print_decision(*context.out, lease->value("decision", json(nullptr)));
}

void lease_terminate(Context& context, const ById& o) {
  Client client(context, o);
  client.suggest_on_not_found("/v1/leases", o.id);
  auto lease = client.post("/v1/leases/" + encode(o.id) + "/terminate", "");
  if (!lease) return;
  if (o.json) return print_json(context, *lease);
  print_leases(*context.out, json::array({*lease}));
}

// ---- job ------------------------------------------------------------------

struct JobSubmit : Connection {
  std::string file, org, team, name, checkpoint_interval, purpose, deadline, command;
  std::vector<std::string> chips, datasets;
  int gpus = 0, priority = 0;
  double work = 0, checkpoint_gb = -1;
  bool has_priority = false;
};

void job_submit(Context& context, const JobSubmit& o, const CLI::App& command) {
  std::string body;
  if (!o.file.empty()) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) return context.fail("cannot read " + o.file);
    std::stringstream text;
    text << in.rdbuf();
    body = text.str();
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return context.fail(o.file + ": not a JSON object (a job spec as POST /v1/jobs takes it)");
    }
  } else {
    if (o.gpus <= 0) return context.fail("job submit needs --gpus N (or --file spec.json)");
    if (o.work <= 0) return context.fail("job submit needs --work H (or --file spec.json)");
    json spec = {{"gpus", o.gpus}, {"work", o.work}};
    if (!o.org.empty()) spec["org"] = o.org;
    if (!o.team.empty()) spec["team"] = o.team;
    if (!o.name.empty()) spec["name"] = o.name;
    if (!o.chips.empty()) spec["eligible_chips"] = o.chips;
    if (command.count("--priority") > 0) spec["priority"] = o.priority;
    if (!o.checkpoint_interval.empty()) spec["checkpoint_interval"] = o.checkpoint_interval;
    if (o.checkpoint_gb >= 0) spec["checkpoint_gb"] = o.checkpoint_gb;
    if (!o.datasets.empty()) spec["datasets"] = o.datasets;
    if (!o.purpose.empty()) spec["purpose"] = o.purpose;
    if (!o.deadline.empty()) spec["deadline"] = o.deadline;
    if (!o.command.empty()) spec["command"] = o.command;
    body = spec.dump();
  }
  Client client(context, o);
  auto job = client.post("/v1/jobs", body);
  if (!job) return;
  if (o.json) return print_json(context, *job);
  print_jobs(*context.out, json::array({*job}));
}

struct JobList : Connection {
  std::string org, state, team;
  int limit = 0;
  bool all = false;
};

void job_list(Context& context, const JobList& o) {
  Client client(context, o);
  Query query;
  query.add("org", o.org).add("state", o.state).add("team", o.team).add("limit", o.limit);
  auto page = fetch_list(client, "/v1/jobs", query, o.all);
  if (!page) return;
  if (o.json) return print_json(context, *page);
  print_jobs(*context.out, (*page)["items"]);
  more_hint(*context.out, *page, "jobs");
}

struct JobGet : ById {
  bool explain = false;
};

void job_get(Context& context, const JobGet& o) {
  Client client(context, o);
  client.suggest_on_not_found("/v1/jobs", o.id);
  auto job = client.get("/v1/jobs/" + encode(o.id) + (o.explain ? "?explain=true" : ""));
  if (!job) return;
  if (o.json) return print_json(context, *job);
  std::ostream& out = *context.out;
  print_jobs(out, json::array({*job}));
  const json spec = job->value("spec", json::object());
  out << "name " << cell(spec, "name") << "; work " << cell(spec, "work") << "; priority "
      << cell(spec, "priority") << "; purpose " << cell(spec, "purpose") << "\n";
  out << "submitted " << cell(*job, "submitted_at") << " by " << cell(*job, "submitted_by")
      << "; updated " << cell(*job, "updated_at") << "\n";
  if (job->contains("decision") && (*job)["decision"].is_object()) {
    out << "placement decision:\n";
    print_decision(out, (*job)["decision"], "  ");
  }
  if (!o.explain) return;
  const json blocking = job->value("blocking", json::array());
  if (blocking.empty()) {
    out << (cell(*job, "state") == "queued" ? "no rule blocks it on any pool it fits\n"
                                            : "not queued: nothing to explain\n");
    return;
  }
  out << "blocked by the rules on " << blocking.size() << " pool"
      << (blocking.size() == 1 ? "" : "s") << ":\n";
  for (const json& b : blocking) {
    out << "  pool " << cell(b, "pool") << "\n";
    if (b.contains("lease")) print_decision(out, b["lease"], "    ");
    if (b.contains("run")) print_decision(out, b["run"], "    ");
  }
}

void job_cancel(Context& context, const ById& o) {
  Client client(context, o);
  client.suggest_on_not_found("/v1/jobs", o.id);
  auto job = client.post("/v1/jobs/" + encode(o.id) + "/cancel", "");
  if (!job) return;
  if (o.json) return print_json(context, *job);
  print_jobs(*context.out, json::array({*job}));
}

void job_logs(Context& context, const ById& o) {
  Client client(context, o);
  client.suggest_on_not_found("/v1/jobs", o.id);
  auto logs = client.get("/v1/jobs/" + encode(o.id) + "/logs");
  if (!logs) return;
  if (o.json) return print_json(context, *logs);
  const json lines = logs->value("lines", json::array());
  if (lines.empty()) {
    *context.out << "(no output reported for job " << cell(*logs, "job") << ", "
                 << cell(*logs, "state") << ")\n";
  }
  for (const json& line : lines)
    *context.out << (line.is_string() ? line.get<std::string>() : line.dump()) << "\n";
}

void job_events(Context& context, const ById& o) {
  Client client(context, o);
  client.suggest_on_not_found("/v1/jobs", o.id);
  auto events = client.get("/v1/jobs/" + encode(o.id) + "/events");
  if (!events) return;
  if (o.json) return print_json(context, *events);
  Table table({"SEQ", "AT", "KIND", "MESSAGE"}, {Table::Align::kRight});
  for (const json& e : events->value("items", json::array())) {
    table.add_row({cell(e, "seq"), cell(e, "at"), cell(e, "kind"), cell(e, "message")});
  }
  table.print(*context.out);
}

// ---- users, tokens --------------------------------------------------------

struct UserCreate : Connection {
  std::string name, role, org, operator_id;
  std::vector<std::string> sites;
};

json user_body(const UserCreate& o) {
  json body = {{"name", o.name}, {"role", o.role}};
  if (!o.org.empty()) body["org"] = o.org;
  if (!o.operator_id.empty()) body["operator"] = o.operator_id;
  if (!o.sites.empty()) body["sites"] = o.sites;
  return body;
}

void user_create(Context& context, const UserCreate& o) {
  const json body = user_body(o);
  Client client(context, o);
  auto user = client.post("/v1/users", body.dump());
  if (!user) return;
  if (o.json) return print_json(context, *user);
  print_users(*context.out, json::array({*user}));
}

struct UserList : Connection {
  std::string org, role;
  bool all = false;
};

void user_list(Context& context, const UserList& o) {
  Client client(context, o);
  Query query;
  query.add("org", o.org).add("role", o.role);
  auto page = fetch_list(client, "/v1/users", query, o.all);
  if (!page) return;
  if (o.json) return print_json(context, *page);
  print_users(*context.out, (*page)["items"]);
  more_hint(*context.out, *page, "users");
}

struct TokenCreate : ById {
  std::string label;
  UserCreate user;  // with --role: the user is made first, in the same call
};

void token_create(Context& context, const TokenCreate& o) {
  json body = json::object();
  if (!o.label.empty()) body["label"] = o.label;
  Client client(context, o);
  std::string user_id = o.id;
  if (!o.user.role.empty()) {
    // `token create --role agent --site S`: the agent's user, then its token.
    UserCreate u = o.user;
    if (u.name.empty()) u.name = u.role + "-" + (u.sites.empty() ? "user" : u.sites.front());
    auto user = client.post("/v1/users", user_body(u).dump());
    if (!user) return;
    user_id = user->value("id", "");
    if (!o.json) {
      *context.out << "user " << user_id << " (" << u.name << ", " << u.role
                   << (u.sites.empty() ? "" : " of " + cell(*user, "sites")) << ")\n";
    }
  }
  if (o.user.role.empty()) client.suggest_on_not_found("/v1/users", user_id);
  auto token = client.post("/v1/users/" + encode(user_id) + "/tokens", body.dump());
  if (!token) return;
  if (o.json) return print_json(context, *token);
  *context.out << "token " << cell(*token, "id") << " for user " << cell(*token, "user")
               << (o.label.empty() ? "" : " (" + o.label + ")")
               << "; its secret is shown this once, keep it:\n  export STRAITS_TOKEN="
               << cell(*token, "secret") << "\n";
}

void token_revoke(Context& context, const ById& o) {
  Client client(context, o);
  auto token = client.post("/v1/tokens/" + encode(o.id) + "/revoke", "");
  if (!token) return;
  if (o.json) return print_json(context, *token);
  *context.out << "token " << cell(*token, "id") << " of user " << cell(*token, "user")
               << " revoked at " << cell(*token, "revoked_at") << "\n";
}

// ---- change requests (maker-checker) --------------------------------------

void print_requests(std::ostream& out, const json& items) {
  Table table({"ID", "STATE", "ENTITY", "FACTS", "REQUESTED BY", "REQUESTED", "DECIDED BY"});
  for (const json& r : items) {
    std::string facts;
    for (const json& f : r.value("facts", json::array())) {
      if (!f.is_string()) continue;
      const std::string name = f.get<std::string>();
      const json before = r.value("before", json::object()).value(name, json(nullptr));
      const json after = r.value("after", json::object()).value(name, json(nullptr));
      facts += (facts.empty() ? "" : ", ") + name + " " + (before.is_null() ? "-" : before.dump()) +
               " -> " + (after.is_null() ? "-" : after.dump());
    }
    table.add_row({cell(r, "id"), cell(r, "state"), cell(r, "kind") + " " + cell(r, "entity"),
                   facts, cell(r, "requested_by"), cell(r, "requested_at"), cell(r, "decided_by")});
  }
  table.print(out);
}

struct RequestList : Connection {
  std::string state, kind;
  bool all = false;
};

void request_list(Context& context, const RequestList& o) {
  Client client(context, o);
  Query query;
  query.add("state", o.state).add("kind", o.kind);
  auto page = fetch_list(client, "/v1/change-requests", query, o.all);
  if (!page) return;
  if (o.json) return print_json(context, *page);
  print_requests(*context.out, (*page)["items"]);
  more_hint(*context.out, *page, "change requests");
}

void request_get(Context& context, const ById& o) {
  Client client(context, o);
  client.suggest_on_not_found("/v1/change-requests", o.id);
  auto request = client.get("/v1/change-requests/" + encode(o.id));
  if (!request) return;
  if (o.json) return print_json(context, *request);
  print_requests(*context.out, json::array({*request}));
  if (!(*request)["reason"].is_null())
    *context.out << "reason: " << cell(*request, "reason") << "\n";
}

struct RequestDecide : ById {
  std::string reason;
};

void request_decide(Context& context, const RequestDecide& o, bool approve) {
  json body = json::object();
  if (!o.reason.empty()) body["reason"] = o.reason;
  Client client(context, o);
  client.suggest_on_not_found("/v1/change-requests", o.id);
  auto request = client.post(
      "/v1/change-requests/" + encode(o.id) + (approve ? "/approve" : "/reject"), body.dump());
  if (!request) return;
  if (o.json) return print_json(context, *request);
  *context.out << "change request " << cell(*request, "id") << " " << cell(*request, "state")
               << ": " << cell(*request, "kind") << " " << cell(*request, "entity") << "\n";
}

void whoami(Context& context, const Connection& o) {
  Client client(context, o);
  auto me = client.get("/v1/whoami");
  if (!me) return;
  if (o.json) return print_json(context, *me);
  *context.out << cell(*me, "name") << " (" << cell(*me, "id") << "), role " << cell(*me, "role");
  if ((*me)["org"].is_string()) *context.out << ", org " << cell(*me, "org");
  if ((*me)["operator"].is_string()) *context.out << ", operator " << cell(*me, "operator");
  *context.out << ", token " << cell(*me, "token") << "\n";
}

// ---- decide ---------------------------------------------------------------

struct Decide : Connection {
  std::string action, org, pool, chip, site, dataset, by, at, purpose;
  int gpus = 0;
};

void decide(Context& context, const Decide& o) {
  json body = {{"action", o.action}};
  auto put = [&body](const char* key, const std::string& value) {
    if (!value.empty()) body[key] = value;
  };
  put("org", o.org);
  put("pool", o.pool);
  put("site", o.site);
  put("by", o.by);
  put("at", o.at);
  if (o.action == "run") {
    json job = json::object();
    if (o.gpus > 0) job["gpus"] = o.gpus;
    if (!o.dataset.empty()) job["datasets"] = json::array({o.dataset});
    if (!o.purpose.empty()) job["purpose"] = o.purpose;
    if (!job.empty()) body["job"] = job;
  } else {
    if (o.gpus > 0) body[o.action == "ship" ? "quantity" : "gpus"] = o.gpus;
    put("dataset", o.dataset);
  }
  put("chip", o.chip);
  Client client(context, o);
  auto decision = client.post("/v1/decisions", body.dump());
  if (!decision) return;
  if (o.json) return print_json(context, *decision);
  print_decision(*context.out, *decision);
}

constexpr const char* kServerNote = " (a running `straits serve`: STRAITS_URL, STRAITS_TOKEN)";

// A group of client commands ("lease"), one of which must be given.
CLI::App* add_group(CLI::App& app, const char* name, const std::string& help) {
  CLI::App* g = app.add_subcommand(name, help + kServerNote);
  g->require_subcommand(1);
  return g;
}

// A command that takes one id and the connection options.
void add_by_id(Context& context, CLI::App* parent, const char* name, const char* help,
               const char* what, void (*run)(Context&, const ById&)) {
  auto o = std::make_shared<ById>();
  CLI::App* c = parent->add_subcommand(name, help);
  c->add_option("id", o->id, what)->required();
  add_connection(c, *o);
  c->callback([&context, o, run] { run(context, *o); });
}

void add_lease_commands(CLI::App& app, Context& context) {
  CLI::App* lease =
      add_group(app, "lease", "Leases of pool capacity: quote, create, list, get, terminate");
  for (bool create : {false, true}) {
    auto o = std::make_shared<LeaseAsk>();
    CLI::App* c = lease->add_subcommand(
        create ? "create" : "quote", create ? "Lease GPUs of a pool over [start, end)"
                                            : "Price and policy decision of a lease, nothing made");
    c->add_option("--org", o->org, "Org leasing (default: your own)");
    c->add_option("--pool", o->pool, "Pool id")->required();
    c->add_option("--gpus", o->gpus, "GPUs")->required()->check(CLI::PositiveNumber);
    c->add_option("--start", o->start, "Start, ISO 8601 (2026-01-01T00:00:00Z)")->required();
    c->add_option("--end", o->end, "End, ISO 8601")->required();
    add_connection(c, *o);
    c->callback(
        [&context, o, create] { create ? lease_create(context, *o) : lease_quote(context, *o); });
  }
  {
    auto o = std::make_shared<LeaseList>();
    CLI::App* c = lease->add_subcommand("list", "List leases you may see");
    c->add_option("--org", o->org, "Only this org's");
    c->add_option("--pool", o->pool, "Only this pool's");
    c->add_option("--state", o->state, "active or terminated");
    c->add_option("--limit", o->limit, "At most this many a page")->check(CLI::PositiveNumber);
    c->add_flag("--all", o->all, "Every page, not only the first");
    add_connection(c, *o);
    c->callback([&context, o] { lease_list(context, *o); });
  }
  add_by_id(context, lease, "get", "Show one lease and its decision", "Lease id (l-00000001)",
            lease_get);
  add_by_id(context, lease, "terminate", "End a lease now", "Lease id", lease_terminate);
}

void add_job_commands(CLI::App& app, Context& context) {
  CLI::App* job = add_group(app, "job", "Training jobs: submit, list, get, cancel, logs, events");
  {
    auto o = std::make_shared<JobSubmit>();
    CLI::App* c = job->add_subcommand("submit", "Queue a job for the scheduling loop");
    auto* file = c->add_option("--file", o->file, "A JSON job spec, sent as it is");
    auto opt = [&](const char* name, auto& value, const char* help) {
      return c->add_option(name, value, help)->excludes(file);
    };
    opt("--gpus", o->gpus, "GPUs (a gang)")->check(CLI::PositiveNumber);
    opt("--work", o->work, "Work in reference GPU-hours")->check(CLI::PositiveNumber);
    opt("--org", o->org, "Org (default: your own)");
    opt("--team", o->team, "Team (default: default)");
    opt("--name", o->name, "A name for people");
    opt("--chip", o->chips, "An eligible chip (repeatable; default: any)");
    opt("--priority", o->priority, "Priority, -1000..1000 (default 0)");
    opt("--checkpoint-interval", o->checkpoint_interval, "Between checkpoints (default PT2H)");
    opt("--checkpoint-gb", o->checkpoint_gb, "Checkpoint size in GB");
    opt("--dataset", o->datasets, "A dataset it reads (repeatable)");
    opt("--purpose", o->purpose, "training (default) or another purpose the rules know");
    opt("--deadline", o->deadline, "Deadline, ISO 8601");
    opt("--command", o->command, "The command to run");
    add_connection(c, *o);
    c->callback([&context, o, c] { job_submit(context, *o, *c); });
  }
  {
    auto o = std::make_shared<JobList>();
    CLI::App* c = job->add_subcommand("list", "List jobs you may see");
    c->add_option("--org", o->org, "Only this org's");
    c->add_option("--state", o->state, "queued, running, succeeded, failed, cancelled, ...");
    c->add_option("--team", o->team, "Only this team's");
    c->add_option("--limit", o->limit, "At most this many a page")->check(CLI::PositiveNumber);
    c->add_flag("--all", o->all, "Every page, not only the first");
    add_connection(c, *o);
    c->callback([&context, o] { job_list(context, *o); });
  }
  {
    auto o = std::make_shared<JobGet>();
    CLI::App* c = job->add_subcommand("get", "Show one job");
    c->add_option("id", o->id, "Job id (j-00000001)")->required();
    c->add_flag("--explain", o->explain, "For a queued job: the rules that block it, pool by pool");
    add_connection(c, *o);
    c->callback([&context, o] { job_get(context, *o); });
  }
  add_by_id(context, job, "cancel", "Cancel a job", "Job id", job_cancel);
  add_by_id(context, job, "logs", "What the job printed (as agents report it)", "Job id", job_logs);
  add_by_id(context, job, "events", "The job's events, oldest first", "Job id", job_events);
}

// user, token, whoami
void add_access_commands(CLI::App& app, Context& context) {
  CLI::App* user = add_group(app, "user", "Users: create, list");
  {
    auto o = std::make_shared<UserCreate>();
    CLI::App* c = user->add_subcommand("create", "Create a user (then `token create` for it)");
    c->add_option("--name", o->name, "Name, unique in its org or operator")->required();
    c->add_option("--role", o->role,
                  "admin, operator-admin, tenant-admin, engineer, auditor, compliance or agent")
        ->required();
    c->add_option("--org", o->org, "Org of a tenant-admin or engineer");
    c->add_option("--operator", o->operator_id, "Operator of an operator-admin");
    c->add_option("--site", o->sites, "A site an agent acts for (repeatable)");
    add_connection(c, *o);
    c->callback([&context, o] { user_create(context, *o); });
  }
  {
    auto o = std::make_shared<UserList>();
    CLI::App* c = user->add_subcommand("list", "List the users you may see");
    c->add_option("--org", o->org, "Only this org's");
    c->add_option("--role", o->role, "Only this role");
    c->add_flag("--all", o->all, "Every page, not only the first");
    add_connection(c, *o);
    c->callback([&context, o] { user_list(context, *o); });
  }
  CLI::App* token = add_group(app, "token", "API tokens: create, revoke");
  {
    auto o = std::make_shared<TokenCreate>();
    CLI::App* c = token->add_subcommand(
        "create",
        "Make a token for a user (its secret shown once); with --role, make the user too "
        "(`--role agent --site S`: a site agent's own credential)");
    auto* user_opt = c->add_option("user", o->id, "User id (u-00000001)");
    auto* role = c->add_option("--role", o->user.role, "Make a user of this role first (agent)")
                     ->excludes(user_opt);
    c->add_option("--site", o->user.sites, "A site the agent acts for (repeatable)")->needs(role);
    c->add_option("--name", o->user.name, "The new user's name (default ROLE-SITE)")->needs(role);
    c->add_option("--org", o->user.org, "The new user's org (tenant roles)")->needs(role);
    c->add_option("--operator", o->user.operator_id, "The new user's operator")->needs(role);
    c->add_option("--label", o->label, "What the token is for");
    add_connection(c, *o);
    c->callback([&context, o, user_opt, role] {
      if (user_opt->count() == 0 && role->count() == 0) {
        throw CLI::RequiredError("a user id, or --role to make one");
      }
      token_create(context, *o);
    });
  }
  add_by_id(context, token, "revoke", "Revoke a token", "Token id (t-00000001)", token_revoke);
  {
    auto o = std::make_shared<Connection>();
    CLI::App* c = app.add_subcommand("whoami", std::string("Who the token is") + kServerNote);
    add_connection(c, *o);
    c->callback([&context, o] { whoami(context, *o); });
  }
}

// change requests
void add_request_commands(CLI::App& app, Context& context) {
  CLI::App* request =
      add_group(app, "request", "Change requests of compliance facts: list, get, approve, reject");
  {
    auto o = std::make_shared<RequestList>();
    CLI::App* c = request->add_subcommand("list", "List the change requests you may see");
    c->add_option("--state", o->state, "pending, approved or rejected");
    c->add_option("--kind", o->kind, "Only of this entity kind (dataset, site, ...)");
    c->add_flag("--all", o->all, "Every page, not only the first");
    add_connection(c, *o);
    c->callback([&context, o] { request_list(context, *o); });
  }
  add_by_id(context, request, "get", "Show one change request", "Request id (cr-00000001)",
            request_get);
  for (bool approve : {true, false}) {
    auto o = std::make_shared<RequestDecide>();
    CLI::App* c = request->add_subcommand(
        approve ? "approve" : "reject",
        approve ? "Approve: the change applies (compliance or admin; not the requester)"
                : "Reject, with a reason (compliance or admin)");
    c->add_option("id", o->id, "Request id (cr-00000001)")->required();
    auto* reason = c->add_option("--reason", o->reason, "Why");
    if (!approve) reason->required();
    add_connection(c, *o);
    c->callback([&context, o, approve] { request_decide(context, *o, approve); });
  }
}

void add_decide_command(CLI::App& app, Context& context) {
  auto o = std::make_shared<Decide>();
  CLI::App* c = app.add_subcommand(
      "decide",
      std::string("Ask the server's policy: may this be done, under which rules") + kServerNote);
  c->add_option("--action", o->action, "lease, run, ship or transfer")
      ->required()
      ->check(CLI::IsMember({"lease", "run", "ship", "transfer"}));
  c->add_option("--org", o->org, "Org (lease, run)");
  c->add_option("--pool", o->pool, "Pool (lease, run; ship: optional)");
  c->add_option("--gpus", o->gpus, "GPUs (lease, run; ship: quantity of chips)")
      ->check(CLI::PositiveNumber);
  c->add_option("--chip", o->chip, "Chip (ship)");
  c->add_option("--site", o->site, "Site (ship, transfer)");
  c->add_option("--dataset", o->dataset, "Dataset (transfer; run: one it reads)");
  c->add_option("--purpose", o->purpose, "Purpose of the job (run)");
  c->add_option("--by", o->by, "Who ships or transfers (ship, transfer)");
  c->add_option("--at", o->at, "When, ISO 8601 (default: now)");
  add_connection(c, *o);
  c->callback([&context, o] { decide(context, *o); });
}

}  // namespace

void add_client_commands(CLI::App& app, Context& context) {
  add_lease_commands(app, context);
  add_job_commands(app, context);
  add_access_commands(app, context);
  add_request_commands(app, context);
  add_decide_command(app, context);
}

}  // namespace straits::cli
