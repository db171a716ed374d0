// Rule sets (issue 17): rule packs pushed as text, checked against the
// catalog, then proposed, adopted from an effective instant, and retired,
// without a restart. The adopted sets, by effective instant, are the rules in
// force (World::build_policy compiles them as one timeline): adopting one
// rebuilds the Policy and the scheduling loop takes it at its next pass; a
// set adopted for a future instant is a change point its foresight sees.
//
// Who: admin and compliance push, propose, adopt and retire (403 for any
// other role). Admin, auditor and compliance read every set; tenants and
// operator-admins read the adopted ones (the rules in force and their
// dates), and a draft, proposed or retired set is 404 to them, as if absent.
// Every change is audited (ruleset.create, .propose, .adopt, .retire).
#include "api/internal/auth.h"
#include "api/internal/routes.h"
#include "api/internal/rulesets.h"

namespace straits::api::internal {
namespace {

// Caps on what a push may hold, besides the body's own (max_body_bytes).
constexpr std::size_t kMaxPacks = 16;
constexpr std::size_t kMaxFiles = 256;            // over all packs
constexpr std::size_t kMaxFileBytes = 512 << 10;  // one file's text
constexpr std::size_t kMaxParams = 64;
constexpr std::size_t kMaxName = 128;

const char* const kStates[] = {"draft", "proposed", "adopted", "retired"};

void require_rules_role(const Principal& who, std::string_view doing) {
  require_role(who, {"admin", "compliance"}, doing);
}

bool sees_set(const Principal& who, const store::RulesetRecord& set) {
  return reads_all(who) || set.state == "adopted";
}

const store::RulesetRecord& find_set(const World& world, const Principal& who,
                                     const std::string& id) {
  auto it = world.rulesets.find(id);
  if (it == world.rulesets.end() || !sees_set(who, it->second)) not_found("rule set '" + id + "'");
  return it->second;
}

// A pack's or a file's name: printable, no '/' (nor "..": it ends in .rules
// or is a plain word), short.
void check_name(const std::string& field, const std::string& name, bool file) {
  check_characters(field, name, TextKind::kName);
  if (name.empty() || name.size() > kMaxName) {
    bad_field(field, "a name of 1 to " + std::to_string(kMaxName) + " bytes is needed");
  }
  if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
      name.front() == '.') {
    bad_field(field, "'" + name + "' is not a plain name (no '/', '\\' or leading '.')");
  }
  if (file && (name.size() <= 6 || !name.ends_with(".rules"))) {
    bad_field(field, "file '" + name + "' must end in .rules");
  }
}

// The packs of a push: [{name, files: {FILE: TEXT}}], within the caps.
std::vector<policy::PackSource> read_packs(const json& body, std::size_t max_items) {
  if (!body.contains("packs")) bad_field("packs", "'packs' is required");
  const json& packs = body["packs"];
  if (!packs.is_array() || packs.empty() || packs.size() > kMaxPacks) {
    bad_field("packs", "'packs' must be a list of 1 to " + std::to_string(kMaxPacks) + " packs");
  }
  std::vector<policy::PackSource> out;
  std::size_t files = 0;
  for (std::size_t i = 0; i < packs.size(); ++i) {
    const std::string at = "packs[" + std::to_string(i) + "]";
    if (!packs[i].is_object()) bad_field(at, "a pack is an object {name, files}");
    Fields f(packs[i], at + ".", {"name", "files"}, max_items);
    policy::PackSource pack;
    pack.name = *f.text("name", true, kMaxName);
    check_name(at + ".name", pack.name, false);
    for (const policy::PackSource& other : out) {
      if (other.name == pack.name) bad_field(at + ".name", "pack '" + pack.name + "' twice");
    }
    const json& texts = packs[i].contains("files") ? packs[i]["files"] : json();
    if (!texts.is_object() || texts.empty()) {
      bad_field(at + ".files", "'files' must be an object {FILE.rules: TEXT} of at least one");
    }
    files += texts.size();
    if (files > kMaxFiles) {
      bad_field(at + ".files", "at most " + std::to_string(kMaxFiles) + " files in all");
    }
    for (const auto& [name, text] : texts.items()) {
      const std::string field = at + ".files." + name;
      check_name(at + ".files", name, true);
      if (!text.is_string()) bad_field(field, "a file's text must be a string");
      const std::string& content = text.get_ref<const std::string&>();
      if (content.size() > kMaxFileBytes) {
        bad_field(field, "a file may hold at most " + std::to_string(kMaxFileBytes) + " bytes");
      }
      check_characters(field, content, TextKind::kProse);
      pack.files.emplace_back(name, content);
    }
    out.push_back(std::move(pack));
  }
  return out;
}

policy::ParamOverrides read_params(const json& body) {
  policy::ParamOverrides params;
  if (!body.contains("params") || body["params"].is_null()) return params;
  const json& given = body["params"];
  if (!given.is_object() || given.size() > kMaxParams) {
    bad_field("params", "'params' must be an object of at most " + std::to_string(kMaxParams) +
                            " NAME: VALUE");
  }
  for (const auto& [name, value] : given.items()) {
    check_characters("params", name, TextKind::kName);
    if (name.empty() || name.size() > kMaxName) bad_field("params", "a param needs a short name");
    if (!value.is_string() || value.get_ref<const std::string&>().size() > kMaxName) {
      bad_field("params." + name, "a param's value is a date or instant, as text");
    }
    check_characters("params." + name, value.get_ref<const std::string&>(), TextKind::kName);
    params[name] = value.get<std::string>();
  }
  return params;
}

// 422 listing every problem as "PACK/FILE:line:col: message".
[[noreturn]] void fail_rules(const Error& error, const std::string& what) {
  json problems = json::array();
  std::string message = what + ": " + error.message();
  for (const Diagnostic& d : error.diagnostics()) {
    problems.push_back(to_string(d));
    message += "\n" + to_string(d);
  }
  throw HttpError{422, "invalid_rules", message, "packs", json{{"problems", problems}}};
}

// The audit record of a set: what it is, without its files.
std::string audit_body(const store::RulesetRecord& set) {
  json j = ruleset_json(set, false);
  return j.dump();
}

Reply create_set(Context& ctx, Call& call) {
  require_rules_role(call.who, "push rule sets");
  check_query(call, {});
  json body = Fields::parse_object(call.body);
  Fields f(body, "", {"name", "packs", "params"}, ctx.options.max_items);
  const std::string name = *f.text("name", true, kMaxName);
  RulesetContent content{read_packs(body, ctx.options.max_items), read_params(body)};
  std::shared_ptr<const Policy> policy;
  {
    std::shared_lock lock(ctx.world.mutex);
    policy = ctx.world.policy;
  }
  // Checked outside the world's lock: compiling takes a while.
  auto linted = policy::Engine::load_sources(policy->catalog, content.packs, content.params);
  if (!linted) fail_rules(linted.error(), "the packs do not compile against the catalog");
  store::RulesetRecord set;
  set.name = name;
  set.state = "draft";
  set.hash = ruleset_hash(content);
  set.packs_json = packs_json(content);
  set.catalog_fingerprint = policy->catalog_fingerprint;
  set.created_at = call.now;
  set.created_by = call.who.user_id;
  return ctx.writer.run([&](World& world, store::Batch& batch) {
    set.id = make_id("rs", world.next_ruleset++);
    world.rulesets[set.id] = set;
    batch.rulesets.push_back(set);
    batch.audit.push_back({call.now, call.who.user_id, "ruleset.create", "rulesets/" + set.id, "",
                           audit_body(set), ""});
    return reply(201, ruleset_json(set, false));
  });
}

Reply list_sets(Context& ctx, Call& call) {
  check_query(call, {"limit", "after", "state"});
  const std::size_t limit = query_limit(call, ctx.options.max_items);
  const std::string after = query_text(call, "after").value_or("");
  auto state = query_text(call, "state");
  if (state && std::find(std::begin(kStates), std::end(kStates), *state) == std::end(kStates)) {
    bad_field("state", "'state' must be draft, proposed, adopted or retired");
  }
  std::shared_lock lock(ctx.world.mutex);
  std::vector<std::string> items;
  std::string last;
  bool more = false;
  for (auto it = ctx.world.rulesets.upper_bound(after); it != ctx.world.rulesets.end(); ++it) {
    const store::RulesetRecord& set = it->second;
    if (!sees_set(call.who, set) || (state && set.state != *state)) continue;
    if (items.size() == limit) {
      more = true;
      break;
    }
    items.push_back(ruleset_json(set, false).dump());
    last = set.id;
  }
  return {200, page_json(items, more, last)};
}

Reply get_set(Context& ctx, Call& call) {
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  const store::RulesetRecord& set = find_set(ctx.world, call.who, call.params.at("id"));
  json j = ruleset_json(set, true);
  j["in_force"] = ctx.world.policy->ruleset_at(call.now) == set.hash && set.state == "adopted";
  return reply(200, j);
}

Reply propose_set(Context& ctx, Call& call) {
  require_rules_role(call.who, "propose rule sets");
  check_query(call, {});
  no_body(call);
  const std::string id = call.params.at("id");
  return ctx.writer.run([&](World& world, store::Batch& batch) {
    const store::RulesetRecord& found = find_set(world, call.who, id);
    if (found.state != "draft") {
      fail(409, "conflict", "rule set '" + id + "' is " + found.state + ", not a draft");
    }
    store::RulesetRecord set = found;
    set.state = "proposed";
    set.proposed_at = call.now;
    set.proposed_by = call.who.user_id;
    batch.audit.push_back({call.now, call.who.user_id, "ruleset.propose", "rulesets/" + id,
                           audit_body(found), audit_body(set), ""});
    world.rulesets[id] = set;
    batch.rulesets.push_back(set);
    return reply(200, ruleset_json(set, false));
  });
}

// The policy with `sets` as the rule sets: 422 naming the problems when they
// do not compile together over the catalog as it is.
std::shared_ptr<const Policy> rebuild_with(const World& world,
                                           const std::map<std::string, store::RulesetRecord>& sets,
                                           const std::string& what) {
  auto built = world.build_policy(world.entities, sets);
  if (!built) fail_rules(built.error(), what);
  return *built;
}

Reply adopt_set(Context& ctx, Call& call) {
  require_rules_role(call.who, "adopt rule sets");
  check_query(call, {});
  json body = call.body.empty() ? json::object() : Fields::parse_object(call.body);
  Fields f(body, "", {"effective"}, ctx.options.max_items);
  const Instant effective = f.instant("effective").value_or(call.now);
  if (effective < call.now) {
    fail(422, "invalid_argument",
         "'effective' " + to_iso8601(effective) + " is in the past (now: " + to_iso8601(call.now) +
             "): a rule set is adopted from now or a later instant",
         "effective");
  }
  const std::string id = call.params.at("id");
  Reply r = ctx.writer.run([&](World& world, store::Batch& batch) {
    const store::RulesetRecord& found = find_set(world, call.who, id);
    if (found.state != "proposed") {
      fail(409, "conflict",
           "rule set '" + id + "' is " + found.state +
               (found.state == "draft" ? ": propose it first" : ", not proposed"));
    }
    for (const auto& [other_id, other] : world.rulesets) {
      if (other.state == "adopted" && other.effective == effective) {
        fail(409, "conflict",
             "rule set '" + other_id + "' is already adopted from " + to_iso8601(effective) +
                 ": give another 'effective', or retire it first",
             "effective");
      }
    }
    store::RulesetRecord set = found;
    set.state = "adopted";
    set.effective = effective;
    set.adopted_at = call.now;
    set.adopted_by = call.who.user_id;
    auto sets = world.rulesets;
    sets[id] = set;
    auto policy = rebuild_with(world, sets, "rule set '" + id + "' does not compile with the rest");
    batch.audit.push_back({call.now, call.who.user_id, "ruleset.adopt", "rulesets/" + id,
                           audit_body(found), audit_body(set), ""});
    world.rulesets = std::move(sets);
    world.policy = std::move(policy);
    batch.rulesets.push_back(set);
    return reply(200, ruleset_json(set, false));
  });
  if (r.status == 200) ctx.wake_scheduler();
  return r;
}

// Retiring an adopted set takes it out of the timeline: the set before it
// decides again (a future one is cancelled). Some adopted set must remain in
// force from now on.
void check_retirable(const World& world, const store::RulesetRecord& set, Instant now) {
  if (set.state == "retired") fail(409, "conflict", "rule set '" + set.id + "' is retired already");
  if (set.state != "adopted") return;
  bool other = false, in_force = false;
  for (const auto& [id, s] : world.rulesets) {
    if (id == set.id || s.state != "adopted") continue;
    other = true;
    in_force = in_force || (s.effective && *s.effective <= now);
  }
  if (!other) {
    fail(409, "conflict",
         "rule set '" + set.id +
             "' is the only adopted set: adopt another before retiring it (the server always "
             "decides under one)");
  }
  if (!in_force) {
    fail(409, "conflict",
         "retiring rule set '" + set.id +
             "' would leave no set in force until the next adopted one takes effect: adopt "
             "another from now first");
  }
}

Reply retire_set(Context& ctx, Call& call) {
  require_rules_role(call.who, "retire rule sets");
  check_query(call, {});
  no_body(call);
  const std::string id = call.params.at("id");
  Reply r = ctx.writer.run([&](World& world, store::Batch& batch) {
    const store::RulesetRecord& found = find_set(world, call.who, id);
    check_retirable(world, found, call.now);
    store::RulesetRecord set = found;
    set.state = "retired";
    set.retired_at = call.now;
    set.retired_by = call.who.user_id;
    std::shared_ptr<const Policy> policy;
    if (found.state == "adopted") {
      auto sets = world.rulesets;
      sets[id] = set;
      policy = rebuild_with(world, sets, "the rule sets left do not compile");
    }
    batch.audit.push_back({call.now, call.who.user_id, "ruleset.retire", "rulesets/" + id,
                           audit_body(found), audit_body(set), ""});
    world.rulesets[id] = set;
    if (policy) world.policy = std::move(policy);
    batch.rulesets.push_back(set);
    return reply(200, ruleset_json(set, false));
  });
  if (r.status == 200) ctx.wake_scheduler();
  return r;
}

}  // namespace

void add_ruleset_routes(std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/rulesets", create_set});
  routes.push_back({"GET", "/v1/rulesets", list_sets});
  routes.push_back({"GET", "/v1/rulesets/{id}", get_set});
  routes.push_back({"POST", "/v1/rulesets/{id}/propose", propose_set});
  routes.push_back({"POST", "/v1/rulesets/{id}/adopt", adopt_set});
  routes.push_back({"POST", "/v1/rulesets/{id}/retire", retire_set});
}

}  // namespace straits::api::internal
