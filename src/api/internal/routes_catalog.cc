// Catalog entities: operators, sites, pools, orgs, licences, datasets.
// Create, read, list (filters, pages), update (merge patch), retire; never a
// hard delete. Every change rebuilds the catalog and recompiles the rules
// against it before it is accepted: an entity that breaks the catalog (an
// unknown chip, a cycle of parents) is refused with the entity and field.
//
// Compliance facts (the fields the rules decide on: fact_fields) change
// after creation only by an admin or a compliance user. Anyone else's change
// of one becomes a change request (202), applied when a compliance user
// approves it (routes_requests.cc): maker-checker, as trade-compliance
// systems keep a party from classifying its own data past a control.
#include <algorithm>
#include <map>

#include "api/internal/auth.h"
#include "api/internal/capacity.h"
#include "api/internal/routes.h"

namespace straits::api::internal {
namespace {

// Field types of each kind's body: s string, i integer, n number, b bool,
// a list of strings. The catalog loader checks the rest (required fields,
// references, ranges) when the catalog is rebuilt.
const std::map<std::string, std::map<std::string, char>>& field_types() {
  static const auto* types = new std::map<std::string, std::map<std::string, char>>{
      {"operator", {{"id", 's'}, {"name", 's'}, {"hq", 's'}, {"parent", 's'}, {"notes", 's'}}},
      {"site",
       {{"id", 's'},
        {"name", 's'},
        {"operator", 's'},
        {"country", 's'},
        {"city", 's'},
        {"state_funded", 'b'},
        {"notes", 's'}}},
      {"pool",
       {{"id", 's'},
        {"site", 's'},
        {"chip", 's'},
        {"nodes", 'i'},
        {"gpus_per_node", 'i'},
        {"interconnect", 's'},
        {"price_per_gpu_hour", 's'},
        {"price_source", 's'},
        {"owner", 's'},
        {"notes", 's'}}},
      {"org", {{"id", 's'}, {"name", 's'}, {"hq", 's'}, {"parent", 's'}, {"notes", 's'}}},
      {"licence",
       {{"id", 's'},
        {"name", 's'},
        {"holder", 's'},
        {"chips", 'a'},
        {"countries", 'a'},
        {"valid_from", 's'},
        {"valid_until", 's'},
        {"issuer", 's'},
        {"reference", 's'},
        {"notes", 's'}}},
      {"dataset",
       {{"id", 's'},
        {"name", 's'},
        {"owner", 's'},
        {"origin", 's'},
        {"class", 's'},
        {"size_tb", 'n'},
        {"notes", 's'}}},
  };
  return *types;
}

const EntityKind& kind_of(const Call& call) {
  // The path's first segment after /v1/ names the kind.
  const std::string plural = call.path.substr(4, call.path.find('/', 4) - 4);
  const EntityKind* kind = find_entity_kind(plural);
  if (!kind) not_found("collection '" + plural + "'");
  return *kind;
}

// Checks a body's fields and types (not their meaning: the catalog does).
void check_body(const std::string& kind, const json& body, std::size_t max_items) {
  std::set<std::string> known;
  for (const auto& [field, type] : field_types().at(kind)) known.insert(field);
  Fields fields(body, "", known, max_items);
  for (const auto& [field, type] : field_types().at(kind)) {
    switch (type) {
      case 's':
        (void)fields.text(field, false, 4096,
                          field == "notes" ? TextKind::kProse : TextKind::kName);
        break;
      case 'i': (void)fields.integer(field, false, 1, 1'000'000); break;
      case 'n': (void)fields.number(field, false, 0, 1e12); break;
      case 'b': (void)fields.boolean(field); break;
      case 'a': (void)fields.texts(field); break;
      default: break;
    }
  }
  // Prices and dates are texts the catalog parses; their ranges are the API's (400).
  if (fields.has("price_per_gpu_hour")) (void)fields.money("price_per_gpu_hour");
  for (const char* date : {"valid_from", "valid_until"}) (void)fields.instant(date);
}

// The fields that decide what the rules say, per kind: a dataset's class
// and origin (and its owner: whose data it is), an org's and an operator's
// headquarters and parent, a site's country (and operator), a pool's owner
// (and site and chip: what is where). Every field of a licence is one
// (null here). Other fields (names, notes, sizes, prices) are not.
const std::set<std::string>* fact_fields(const std::string& kind) {
  static const auto* facts = new std::map<std::string, std::set<std::string>>{
      {"dataset", {"class", "origin", "owner"}},
      {"org", {"hq", "parent"}},
      {"operator", {"hq", "parent"}},
      {"site", {"country", "operator"}},
      {"pool", {"owner", "site", "chip"}},
  };
  auto it = facts->find(kind);
  return it == facts->end() ? nullptr : &it->second;
}

// The compliance facts that differ between two bodies of a kind, sorted.
std::vector<std::string> changed_facts(const std::string& kind, const json& before,
                                       const json& after) {
  std::set<std::string> keys;
  for (const auto& [key, value] : before.items()) keys.insert(key);
  for (const auto& [key, value] : after.items()) keys.insert(key);
  const std::set<std::string>* facts = fact_fields(kind);
  std::vector<std::string> out;
  for (const std::string& key : keys) {
    if (facts && !facts->count(key)) continue;
    if (key == "id") continue;
    const json none;
    const json& b = before.contains(key) ? before[key] : none;
    const json& a = after.contains(key) ? after[key] : none;
    if (b != a) out.push_back(key);
  }
  return out;
}

// Who changes compliance facts directly.
bool decides_facts(const Principal& who) {
  return who.is("admin") || who.is("compliance");
}

std::string body_text(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Whether the caller may see the entity at all (404 otherwise).
bool visible(const Principal& who, const World& world, const std::string& kind, const json& body) {
  const Policy& policy = *world.policy;
  if (reads_all(who)) return true;
  if (kind == "operator" || kind == "site" || kind == "pool") return true;  // the market
  if (kind == "org") {
    if (who.is("operator-admin")) {
      // Its customers: orgs with a lease (of any state) on one of its pools.
      const std::string id = body_text(body, "id");
      return std::any_of(world.leases.begin(), world.leases.end(), [&](const auto& entry) {
        return entry.second.org == id && sees_pool_leases(who, policy, entry.second.pool);
      });
    }
    const catalog::Org* org = policy.catalog.find_org(OrgId(who.org));
    if (!org) return false;
    for (const catalog::Org* o : policy.catalog.ownership_chain(org->id)) {
      if (o->id.str() == body_text(body, "id")) return true;
    }
    return false;
  }
  if (kind == "licence") {
    const std::string holder = body_text(body, "holder");
    return (who.tenant() && holder == who.org) ||
           (who.is("operator-admin") && holder == who.operator_id);
  }
  if (kind == "dataset") return who.tenant() && body_text(body, "owner") == who.org;
  return false;
}

// Whether the caller may create or change an entity with this body.
bool may_write(const Principal& who, const Policy& policy, const std::string& kind,
               const json& body) {
  if (decides_facts(who)) return true;
  // An operator's own record (hq, parent) decides rules such as the
  // headquarters rule: only an admin changes it.
  if (kind == "site") return manages_operator(who, body_text(body, "operator"));
  if (kind == "pool") {
    // A new site of its own may not be in the catalog yet: only existing ones.
    return manages_operator(who, operator_of_site(policy, body_text(body, "site")));
  }
  if (kind == "dataset") return who.is("tenant-admin") && body_text(body, "owner") == who.org;
  return false;
}

// 403 unless the caller's role may ever write entities of this kind (before
// any lookup: the answer does not depend on what exists). A compliance user
// changes any entity and creates and retires licences (the catalog's own
// facts); only an admin creates operators and orgs, as before.
enum class Op { kCreate, kUpdate, kRetire };
void require_writes_kind(const Principal& who, const std::string& kind, std::string_view doing,
                         Op op) {
  if (who.is("compliance")) {
    if (op == Op::kUpdate || kind == "licence") return;
    fail(403, "permission_denied",
         "a compliance user changes entities and keeps licences; may not " + std::string(doing));
  }
  require_writer(who, doing);
  const bool may = who.is("admin") ||
                   (who.is("operator-admin") && (kind == "site" || kind == "pool")) ||
                   (who.is("tenant-admin") && kind == "dataset");
  if (!may) fail(403, "permission_denied", "a " + who.role + " may not " + std::string(doing));
}

json entity_json(const store::EntityRecord& record) {
  json j = json::parse(record.body_json);
  j["retired_at"] = record.retired_at ? json(to_iso8601(*record.retired_at)) : json(nullptr);
  j["updated_at"] = to_iso8601(record.updated_at);
  return j;
}

// Rebuilds the policy with `entities`; refuses with the entity and field.
std::shared_ptr<const Policy> rebuild(
    const World& world,
    const std::map<std::string, std::map<std::string, store::EntityRecord>, std::less<>>&
        entities) {
  auto built = world.build_policy(entities);
  if (!built) {
    std::string message = built.error().message();
    std::string field;
    for (const Diagnostic& d : built.error().diagnostics()) {
      message += "\n" + d.where.file + ": " + d.message;
      const auto hash = d.where.file.find('#');
      if (field.empty() && hash != std::string::npos) field = d.where.file.substr(hash + 1);
    }
    fail(422, "invalid_entity", message, field);
  }
  return *built;
}

// What refers to an entity and is still in force: retiring it is refused.
std::string still_used(const World& world, const std::string& kind, const std::string& id) {
  auto live_entity = [&](const char* k, const char* field) -> std::string {
    auto it = world.entities.find(k);
    if (it == world.entities.end()) return "";
    for (const auto& [other, record] : it->second) {
      if (record.retired_at) continue;
      json body = json::parse(record.body_json);
      if (body_text(body, field) == id) return std::string(k) + " '" + other + "'";
    }
    return "";
  };
  if (kind == "operator") return live_entity("site", "operator");
  if (kind == "site") return live_entity("pool", "site");
  if (kind == "pool" || kind == "org") {
    for (const auto& [lid, lease] : world.leases) {
      if (lease.state == "active" && (kind == "pool" ? lease.pool : lease.org) == id) {
        return "active lease '" + lid + "'";
      }
    }
  }
  if (kind == "pool" || kind == "org" || kind == "dataset") {
    for (const auto& [jid, job] : world.jobs) {
      if (final_state(job.state)) continue;
      bool uses = kind == "org"    ? job.record.org == id
                  : kind == "pool" ? job.pool && *job.pool == id
                                   : std::any_of(job.job.datasets.begin(), job.job.datasets.end(),
                                                 [&](const DatasetId& d) { return d.str() == id; });
      if (uses) return "job '" + jid + "' (" + to_string(job.state) + ")";
    }
  }
  if (kind == "org") return live_entity("pool", "owner");
  return "";
}

Reply list_entities(Context& ctx, Call& call) {
  const EntityKind& kind = kind_of(call);
  std::set<std::string> known = {"limit", "after", "retired"};
  for (const auto& [field, type] : field_types().at(kind.kind)) {
    if (type == 's' && field != "id" && field != "notes") known.insert(field);
  }
  check_query(call, known);
  const std::size_t limit = query_limit(call, ctx.options.max_items);
  const std::string after = query_text(call, "after").value_or("");
  const std::string retired = query_text(call, "retired").value_or("false");
  if (retired != "false" && retired != "true" && retired != "all") {
    bad_field("retired", "'retired' must be false (the default), true or all");
  }
  std::shared_lock lock(ctx.world.mutex);
  std::vector<std::string> items;
  std::string last;
  bool more = false;
  auto it = ctx.world.entities.find(kind.kind);
  if (it != ctx.world.entities.end()) {
    for (auto e = it->second.upper_bound(after); e != it->second.end(); ++e) {
      const store::EntityRecord& record = e->second;
      if (retired == "false" && record.retired_at) continue;
      if (retired == "true" && !record.retired_at) continue;
      json body = json::parse(record.body_json);
      if (!visible(call.who, ctx.world, kind.kind, body)) continue;
      bool match = true;
      for (const auto& [key, value] : call.query) {
        if (key != "limit" && key != "after" && key != "retired" &&
            body_text(body, key.c_str()) != value) {
          match = false;
        }
      }
      if (!match) continue;
      if (items.size() == limit) {
        more = true;
        break;
      }
      items.push_back(entity_json(record).dump());
      last = e->first;
    }
  }
  return {200, page_json(items, more, last)};
}

const store::EntityRecord& find_visible(const World& world, const Principal& who,
                                        const EntityKind& kind, const std::string& id) {
  auto it = world.entities.find(kind.kind);
  const store::EntityRecord* record = nullptr;
  if (it != world.entities.end()) {
    auto e = it->second.find(id);
    if (e != it->second.end()) record = &e->second;
  }
  if (!record || !visible(who, world, kind.kind, json::parse(record->body_json))) {
    not_found(std::string(kind.kind) + " '" + id + "'");
  }
  return *record;
}

Reply get_entity(Context& ctx, Call& call) {
  const EntityKind& kind = kind_of(call);
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  return reply(200, entity_json(find_visible(ctx.world, call.who, kind, call.params.at("id"))));
}

Reply create_entity(Context& ctx, Call& call) {
  const EntityKind& kind = kind_of(call);
  require_writes_kind(call.who, kind.kind, std::string("create ") + kind.plural, Op::kCreate);
  json body = Fields::parse_object(call.body);
  check_body(kind.kind, body, ctx.options.max_items);
  const std::string id = body_text(body, "id");
  if (id.empty()) bad_field("id", "'id' is required");
  return ctx.writer.run([&, body, id](World& world, store::Batch& batch) {
    if (!may_write(call.who, *world.policy, kind.kind, body)) {
      fail(403, "permission_denied",
           "a " + call.who.role + " may not create this " + kind.kind +
               (call.who.is("operator-admin") ? " (not of its operator)"
                : call.who.tenant()           ? " (not of its org)"
                                              : ""));
    }
    // A tenant's dataset ids are its own namespace, "ORG.NAME": a 409 then
    // only ever names the caller's own dataset, never whether another org
    // holds an id (dataset ids are global: jobs and rules name them).
    if (kind.kind == std::string("dataset") && call.who.tenant()) {
      const std::string prefix = call.who.org + ".";
      if (id.rfind(prefix, 0) != 0 || id.size() == prefix.size() ||
          id.find('.', prefix.size()) != std::string::npos) {
        bad_field("id", "a tenant's dataset id is '" + prefix +
                            "NAME' (NAME without '.'): ids are per org");
      }
    }
    if (kind.kind == std::string("dataset")) {
      // Whoever creates it: "ORG.NAME" is org ORG's namespace.
      const auto dot = id.rfind('.');
      const std::string space = dot == std::string::npos ? "" : id.substr(0, dot);
      if (!space.empty() && world.policy->catalog.find_org(OrgId(space)) &&
          body_text(body, "owner") != space) {
        bad_field("id", "dataset ids '" + space + ".NAME' belong to org " + space + "'s datasets");
      }
    }
    if (world.entities[kind.kind].count(id)) {
      fail(409, "already_exists", std::string(kind.kind) + " '" + id + "' already exists", "id");
    }
    auto entities = world.entities;
    store::EntityRecord record{kind.kind, id, body.dump(), std::nullopt, call.now};
    entities[kind.kind][id] = record;
    auto policy = rebuild(world, entities);
    world.entities = std::move(entities);
    world.policy = std::move(policy);
    batch.entities.push_back(record);
    batch.audit.push_back({call.now, call.who.user_id, std::string(kind.kind) + ".create",
                           std::string(kind.plural) + "/" + id, "", record.body_json, ""});
    ctx.wake_scheduler();
    return reply(201, entity_json(record));
  });
}

Reply update_entity(Context& ctx, Call& call) {
  const EntityKind& kind = kind_of(call);
  require_writes_kind(call.who, kind.kind, std::string("change ") + kind.plural, Op::kUpdate);
  json patch = Fields::parse_object(call.body);
  const std::string id = call.params.at("id");
  if (patch.contains("id") && patch["id"] != id) bad_field("id", "'id' cannot change");
  return ctx.writer.run([&, patch, id](World& world, store::Batch& batch) {
    const store::EntityRecord& old = find_visible(world, call.who, kind, id);
    json before = json::parse(old.body_json);
    if (!may_write(call.who, *world.policy, kind.kind, before)) {
      fail(403, "permission_denied",
           "a " + call.who.role + " may not change " + kind.kind + " '" + id + "'");
    }
    if (old.retired_at) fail(409, "conflict", std::string(kind.kind) + " '" + id + "' is retired");
    json after = before;
    after.merge_patch(patch);  // RFC 7396: null removes a field
    check_body(kind.kind, after, ctx.options.max_items);
    if (!may_write(call.who, *world.policy, kind.kind, after)) {
      fail(403, "permission_denied",
           "a " + call.who.role + " may not move " + kind.kind + " '" + id + "' out of its reach");
    }
    // Refused at once when it would strand leases or placed jobs (checked
    // again when a requested change is approved: the pool may have filled).
    check_capacity(world, kind.kind, id, &after, call.now);
    const std::vector<std::string> facts = changed_facts(kind.kind, before, after);
    if (!facts.empty() && !decides_facts(call.who)) {
      // Checked now as it would be applied (a change that breaks the catalog
      // is refused at once), applied only when a compliance user approves.
      auto entities = world.entities;
      entities[kind.kind][id] = {kind.kind, id, after.dump(), std::nullopt, call.now};
      (void)rebuild(world, entities);
      return reply(202,
                   request_change(world, batch, call, kind.kind, id, patch, before, after, facts));
    }
    ctx.wake_scheduler();
    return reply(200, apply_entity_change(world, batch, call.who.user_id, call.now, kind.kind, id,
                                          after, ""));
  });
}

}  // namespace

json apply_entity_change(World& world, store::Batch& batch, const std::string& actor, Instant now,
                         const std::string& kind, const std::string& id, const json& after,
                         const std::string& request_id) {
  const EntityKind* k = find_entity_kind(kind);
  const store::EntityRecord& old = world.entities[kind].at(id);
  check_capacity(world, kind, id, &after, now);
  auto entities = world.entities;
  store::EntityRecord record{kind, id, after.dump(), std::nullopt, now};
  entities[kind][id] = record;
  auto policy = rebuild(world, entities);
  // The change request it applies, if any, is named in the decision column:
  // the audit event says which approval made the change.
  batch.audit.push_back({now, actor, kind + ".update", std::string(k->plural) + "/" + id,
                         old.body_json, record.body_json,
                         request_id.empty() ? "" : json{{"change_request", request_id}}.dump()});
  world.entities = std::move(entities);
  world.policy = std::move(policy);
  batch.entities.push_back(record);
  return entity_json(record);
}

json apply_approved_patch(World& world, store::Batch& batch, const std::string& actor, Instant now,
                          const std::string& kind, const std::string& id, const json& patch,
                          std::size_t max_items, const std::string& request_id) {
  auto all = world.entities.find(kind);
  if (all == world.entities.end() || !all->second.count(id)) {
    fail(409, "conflict", kind + " '" + id + "' no longer exists");
  }
  const store::EntityRecord& old = all->second.at(id);
  if (old.retired_at) fail(409, "conflict", kind + " '" + id + "' was retired since");
  json after = json::parse(old.body_json);
  after.merge_patch(patch);
  check_body(kind, after, max_items);
  return apply_entity_change(world, batch, actor, now, kind, id, after, request_id);
}

namespace {

Reply retire_entity(Context& ctx, Call& call) {
  const EntityKind& kind = kind_of(call);
  require_writes_kind(call.who, kind.kind, std::string("retire ") + kind.plural, Op::kRetire);
  no_body(call);
  const std::string id = call.params.at("id");
  return ctx.writer.run([&, id](World& world, store::Batch& batch) {
    const store::EntityRecord& old = find_visible(world, call.who, kind, id);
    if (!may_write(call.who, *world.policy, kind.kind, json::parse(old.body_json))) {
      fail(403, "permission_denied",
           "a " + call.who.role + " may not retire " + kind.kind + " '" + id + "'");
    }
    if (old.retired_at) return reply(200, entity_json(old));  // retiring twice changes nothing
    check_capacity(world, kind.kind, id, nullptr, call.now);
    const std::string user = still_used(world, kind.kind, id);
    if (!user.empty()) {
      fail(409, "conflict",
           std::string(kind.kind) + " '" + id + "' is still in use by " + user +
               ": end that first (nothing is deleted; retiring keeps the record)");
    }
    store::EntityRecord record = old;
    record.retired_at = call.now;
    record.updated_at = call.now;
    world.entities[kind.kind][id] = record;
    batch.entities.push_back(record);
    batch.audit.push_back({call.now, call.who.user_id, std::string(kind.kind) + ".retire",
                           std::string(kind.plural) + "/" + id, old.body_json, record.body_json,
                           ""});
    ctx.wake_scheduler();
    return reply(200, entity_json(record));
  });
}

json chip_json(const catalog::Chip& c) {
  json j = {{"id", c.id.str()},         {"name", c.name},           {"vendor", c.vendor},
            {"origin", c.origin.str()}, {"memory_gb", c.memory_gb}, {"tpp", c.tpp}};
  j["performance_density"] = c.performance_density ? json(*c.performance_density) : json(nullptr);
  return j;
}

Reply list_chips(Context& ctx, Call& call) {
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  std::vector<std::string> items;
  for (const catalog::Chip& c : ctx.world.policy->catalog.chips())
    items.push_back(chip_json(c).dump());
  return {200, page_json(items, false, "")};
}

Reply get_chip(Context& ctx, Call& call) {
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  const catalog::Chip* c = ctx.world.policy->catalog.find_chip(ChipId(call.params.at("id")));
  if (!c) not_found("chip '" + call.params.at("id") + "'");
  return reply(200, chip_json(*c));
}

}  // namespace

void add_catalog_routes(std::vector<Route>& routes) {
  for (const EntityKind& k : kEntityKinds) {
    const std::string base = std::string("/v1/") + k.plural;
    routes.push_back({"GET", base, list_entities});
    routes.push_back({"POST", base, create_entity});
    routes.push_back({"GET", base + "/{id}", get_entity});
    routes.push_back({"PATCH", base + "/{id}", update_entity});
    routes.push_back({"POST", base + "/{id}/retire", retire_entity});
  }
  routes.push_back({"GET", "/v1/chips", list_chips});
  routes.push_back({"GET", "/v1/chips/{id}", get_chip});
}

}  // namespace straits::api::internal
