// Users and their API tokens. A token's secret is in the answer that makes
// it and nowhere else; the store keeps its hash.
#include <algorithm>

#include "api/internal/auth.h"
#include "api/internal/routes.h"

namespace straits::api::internal {
namespace {

json user_json(const store::UserRecord& u) {
  json j = {{"id", u.id}, {"name", u.name}, {"role", u.role}};
  j["org"] = u.org.empty() ? json(nullptr) : json(u.org);
  j["operator"] = u.operator_id.empty() ? json(nullptr) : json(u.operator_id);
  if (u.role == "agent") j["sites"] = u.sites;
  j["created_at"] = to_iso8601(u.created_at);
  j["retired_at"] = u.retired_at ? json(to_iso8601(*u.retired_at)) : json(nullptr);
  return j;
}

json token_json(const store::TokenRecord& t) {
  json j = {{"id", t.id}, {"user", t.user_id}, {"label", t.label}};
  j["created_at"] = to_iso8601(t.created_at);
  j["revoked_at"] = t.revoked_at ? json(to_iso8601(*t.revoked_at)) : json(nullptr);
  return j;
}

// Whether the caller may see or manage the user (self always).
bool sees_user(const Principal& who, const store::UserRecord& u) {
  if (who.user_id == u.id || reads_all(who)) return true;
  if (who.is("tenant-admin")) return !u.org.empty() && u.org == who.org;
  if (who.is("operator-admin")) return !u.operator_id.empty() && u.operator_id == who.operator_id;
  return false;
}

bool manages_user(const Principal& who, const store::UserRecord& u) {
  if (who.is("auditor") || who.is("compliance") || who.is("agent")) return false;
  if (who.user_id == u.id) return true;  // its own tokens
  return who.is("admin") || (who.is("tenant-admin") && u.org == who.org && !u.org.empty()) ||
         (who.is("operator-admin") && u.operator_id == who.operator_id && !u.operator_id.empty());
}

const store::UserRecord& find_user(const World& world, const Principal& who,
                                   const std::string& id) {
  auto it = world.users.find(id);
  if (it == world.users.end() || !sees_user(who, it->second)) not_found("user '" + id + "'");
  return it->second;
}

Reply whoami(Context& ctx, Call& call) {
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  json j = user_json(ctx.world.users.at(call.who.user_id));
  j["token"] = call.who.token_id;
  return reply(200, j);
}

Reply list_users(Context& ctx, Call& call) {
  check_query(call, {"limit", "after", "org", "role"});
  const std::size_t limit = query_limit(call, ctx.options.max_items);
  const std::string after = query_text(call, "after").value_or("");
  auto org = query_text(call, "org");
  auto role = query_text(call, "role");
  std::shared_lock lock(ctx.world.mutex);
  std::vector<std::string> items;
  std::string last;
  bool more = false;
  for (auto it = ctx.world.users.upper_bound(after); it != ctx.world.users.end(); ++it) {
    const store::UserRecord& u = it->second;
    if (!sees_user(call.who, u) || (org && u.org != *org) || (role && u.role != *role)) continue;
    if (items.size() == limit) {
      more = true;
      break;
    }
    items.push_back(user_json(u).dump());
    last = u.id;
  }
  return {200, page_json(items, more, last)};
}

Reply get_user(Context& ctx, Call& call) {
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  return reply(200, user_json(find_user(ctx.world, call.who, call.params.at("id"))));
}

// The scope a user's name is unique in: its org, its operator, or none (the
// roles of the whole service). Names collide only inside a scope, so that a
// 409 never tells a tenant or operator that another one has a user of that
// name.
std::string name_scope(const store::UserRecord& u) {
  if (!u.org.empty()) return "org:" + u.org;
  if (!u.operator_id.empty()) return "operator:" + u.operator_id;
  return "";
}

Reply create_user(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "tenant-admin", "operator-admin"}, "create users");
  json body = Fields::parse_object(call.body);
  Fields f(body, "", {"name", "role", "org", "operator", "sites"}, ctx.options.max_items);
  store::UserRecord u;
  u.name = *f.text("name", true, 128);
  u.role = *f.text("role", true, 32);
  u.org = f.text("org", false, 128).value_or("");
  u.operator_id = f.text("operator", false, 128).value_or("");
  auto sites = f.texts("sites");
  if (!is_role(u.role)) {
    bad_field("role", "unknown role '" + u.role +
                          "': admin, operator-admin, tenant-admin, engineer, auditor, compliance "
                          "or agent");
  }
  const bool tenant = u.role == "tenant-admin" || u.role == "engineer";
  const bool agent = u.role == "agent";
  if (call.who.is("tenant-admin") && u.org.empty()) u.org = call.who.org;
  if (call.who.is("operator-admin") && u.operator_id.empty() && !agent) {
    u.operator_id = call.who.operator_id;
  }
  // Who may make whom first: a role never given is 403, whatever the fields.
  if (call.who.is("tenant-admin") && (!tenant || u.org != call.who.org)) {
    fail(403, "permission_denied", "a tenant-admin creates tenant users of its own org only");
  }
  if (call.who.is("operator-admin") &&
      !((u.role == "operator-admin" && u.operator_id == call.who.operator_id) || agent)) {
    fail(403, "permission_denied",
         "an operator-admin creates operator-admins and agents of its operator only");
  }
  if (agent) {
    // An agent acts for the sites it names, and for nothing else.
    if (!sites || sites->empty()) bad_field("sites", "an agent needs its 'sites' (one or more)");
    if (!u.org.empty()) bad_field("org", "an agent belongs to no org");
    if (f.has("operator")) {
      bad_field("operator", "an agent's operator follows from its sites: leave 'operator' out");
    }
    for (const std::string& site : *sites) {
      if (std::find(u.sites.begin(), u.sites.end(), site) == u.sites.end()) u.sites.push_back(site);
    }
  } else if (sites) {
    bad_field("sites", "only an agent has 'sites'");
  }
  if (tenant && u.org.empty()) bad_field("org", "a " + u.role + " needs its 'org'");
  if (!tenant && !u.org.empty()) bad_field("org", "only tenant roles belong to an org");
  if (u.role == "operator-admin" && u.operator_id.empty()) {
    bad_field("operator", "an operator-admin needs its 'operator'");
  }
  if (u.role != "operator-admin" && !u.operator_id.empty()) {
    bad_field("operator", "only an operator-admin belongs to an operator");
  }
  return ctx.writer.run([&, u](World& world, store::Batch& batch) mutable {
    const Policy& p = *world.policy;
    if (!u.org.empty() && !p.catalog.find_org(OrgId(u.org))) {
      fail(422, "unknown_reference", "no such org '" + u.org + "'", "org");
    }
    if (!u.operator_id.empty() && !p.catalog.find_operator(OperatorId(u.operator_id))) {
      fail(422, "unknown_reference", "no such operator '" + u.operator_id + "'", "operator");
    }
    if (agent) {
      // Admin, or the operator-admin of every site named (sites are the
      // market: naming another operator's is 403, not a leak). The agent
      // belongs to the operator of its sites when they are one operator's.
      std::set<std::string> operators;
      for (std::size_t i = 0; i < u.sites.size(); ++i) {
        const std::string field = "sites[" + std::to_string(i) + "]";
        if (!p.catalog.find_site(SiteId(u.sites[i]))) {
          fail(422, "unknown_reference", "no such site '" + u.sites[i] + "'", field);
        }
        const std::string op = operator_of_site(p, u.sites[i]);
        if (!manages_operator(call.who, op)) {
          fail(403, "permission_denied",
               "an operator-admin creates agents for its operator's sites only; site '" +
                   u.sites[i] + "' is not its operator's",
               field);
        }
        operators.insert(op);
      }
      u.operator_id = operators.size() == 1 ? *operators.begin() : "";
    }
    const std::string scope = name_scope(u);
    for (const auto& [id, other] : world.users) {
      if (other.name == u.name && name_scope(other) == scope) {
        fail(409, "already_exists", "user '" + u.name + "' exists", "name");
      }
    }
    u.id = make_id("u", world.next_user++);
    u.created_at = call.now;
    world.users[u.id] = u;
    json after = user_json(u);
    batch.users.push_back(u);
    batch.audit.push_back(
        {call.now, call.who.user_id, "user.create", "users/" + u.id, "", after.dump(), ""});
    return reply(201, after);
  });
}

Reply retire_user(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "tenant-admin", "operator-admin"}, "retire users");
  no_body(call);
  const std::string id = call.params.at("id");
  return ctx.writer.run([&, id](World& world, store::Batch& batch) {
    const store::UserRecord& old = find_user(world, call.who, id);
    if (!manages_user(call.who, old) || old.id == call.who.user_id) {
      fail(403, "permission_denied", "a " + call.who.role + " may not retire user '" + id + "'");
    }
    if (old.retired_at) return reply(200, user_json(old));
    store::UserRecord u = old;
    u.retired_at = call.now;
    batch.users.push_back(u);
    batch.audit.push_back({call.now, call.who.user_id, "user.retire", "users/" + id,
                           user_json(old).dump(), user_json(u).dump(), ""});
    world.users[id] = u;
    return reply(200, user_json(u));
  });
}

Reply create_token(Context& ctx, Call& call) {
  require_writer(call.who, "create tokens");
  json body = call.body.empty() ? json::object() : Fields::parse_object(call.body);
  Fields f(body, "", {"label"}, ctx.options.max_items);
  const std::string label = f.text("label", false, 128).value_or("");
  const std::string user_id = call.params.at("id");
  return ctx.writer.run([&, label, user_id](World& world, store::Batch& batch) {
    const store::UserRecord& u = find_user(world, call.who, user_id);
    if (!manages_user(call.who, u)) {
      fail(403, "permission_denied",
           "a " + call.who.role + " may not make tokens for '" + user_id + "'");
    }
    if (u.retired_at) fail(409, "conflict", "user '" + user_id + "' is retired");
    const std::string secret = new_token_secret();
    store::TokenRecord t{make_id("t", world.next_token++),
                         user_id,
                         token_hash(secret),
                         label,
                         call.now,
                         std::nullopt};
    world.tokens[t.id] = t;
    world.token_by_hash[t.hash] = t.id;
    json after = token_json(t);
    batch.tokens.push_back(t);
    batch.audit.push_back(
        {call.now, call.who.user_id, "token.create", "tokens/" + t.id, "", after.dump(), ""});
    after["secret"] = secret;  // the only time it is shown
    return reply(201, after);
  });
}

Reply list_tokens(Context& ctx, Call& call) {
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  const store::UserRecord& u = find_user(ctx.world, call.who, call.params.at("id"));
  std::vector<std::string> items;
  for (const auto& [id, t] : ctx.world.tokens) {
    if (t.user_id == u.id) items.push_back(token_json(t).dump());
  }
  return {200, page_json(items, false, "")};
}

Reply revoke_token(Context& ctx, Call& call) {
  require_writer(call.who, "revoke tokens");
  no_body(call);
  const std::string id = call.params.at("id");
  return ctx.writer.run([&, id](World& world, store::Batch& batch) {
    auto it = world.tokens.find(id);
    if (it == world.tokens.end()) not_found("token '" + id + "'");
    const store::UserRecord& owner = world.users.at(it->second.user_id);
    if (!sees_user(call.who, owner)) not_found("token '" + id + "'");
    if (!manages_user(call.who, owner)) {
      fail(403, "permission_denied", "a " + call.who.role + " may not revoke token '" + id + "'");
    }
    if (it->second.revoked_at) return reply(200, token_json(it->second));
    store::TokenRecord t = it->second;
    t.revoked_at = call.now;
    batch.tokens.push_back(t);
    batch.audit.push_back({call.now, call.who.user_id, "token.revoke", "tokens/" + id,
                           token_json(it->second).dump(), token_json(t).dump(), ""});
    it->second = t;
    return reply(200, token_json(t));
  });
}

}  // namespace

void add_access_routes(std::vector<Route>& routes) {
  routes.push_back({"GET", "/v1/whoami", whoami});
  routes.push_back({"GET", "/v1/users", list_users});
  routes.push_back({"POST", "/v1/users", create_user});
  routes.push_back({"GET", "/v1/users/{id}", get_user});
  routes.push_back({"POST", "/v1/users/{id}/retire", retire_user});
  routes.push_back({"GET", "/v1/users/{id}/tokens", list_tokens});
  routes.push_back({"POST", "/v1/users/{id}/tokens", create_token});
  routes.push_back({"POST", "/v1/tokens/{id}/revoke", revoke_token});
}

}  // namespace straits::api::internal
