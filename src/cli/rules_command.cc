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

namespace straits::cli {
namespace {

using nlohmann::json;

constexpr const char* kList = "/v1/rulesets";

// One path segment, percent-encoded (RFC 3986 unreserved kept).
std::string segment(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : text) {
    if (std::isalnum(ch) != 0 || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += {'%', kHex[ch >> 4], kHex[ch & 15]};
    }
  }
  return out;
}

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
    set = client.post(std::string(kList) + "/" + segment(text_of(*set, "id")) + "/propose", "{}");
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
    std::string query = o.state.empty() ? "" : "state=" + segment(o.state);
    if (!after.empty()) query += std::string(query.empty() ? "" : "&") + "after=" + segment(after);
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
  auto set = client.get(std::string(kList) + "/" + segment(o.id));
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
  auto set = client.post(std::string(kList) + "/" + segment(o.id) + "/" + verb, body.dump());
  if (set) print_set(context, o, *set, done);
}

}  // namespace

void add_rules_command(CLI::App& app, Context& context) {
  CLI::App* rules =
      app.add_subcommand("rules",
                         "Rule sets of a running server: push, list, show, propose, adopt, retire "
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
}

}  // namespace straits::cli
