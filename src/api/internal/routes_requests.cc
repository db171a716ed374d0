// Change requests of compliance facts: maker-checker (issue 15). A
// tenant-admin's or operator-admin's change of a fact that decides what the
// rules say (a dataset's class, a site's country...: routes_catalog.cc)
// becomes a request here; a compliance user or an admin approves it (the
// change then applies through the same checks as a direct one) or rejects it
// with a reason. The requester never decides its own request. The request
// and the decision are audited, each with the entity's before and after.
//
// Who sees a request: admin, auditor and compliance all; a tenant its org's;
// an operator-admin its operator's. Another tenant's request is 404.
#include "api/internal/auth.h"
#include "api/internal/routes.h"

namespace straits::api::internal {
namespace {

json request_json(const store::ChangeRequestRecord& c) {
  json body = json::parse(c.body_json, nullptr, false);
  if (!body.is_object()) body = json::object();
  json j = {{"id", c.id},
            {"kind", c.kind},
            {"entity", c.entity_id},
            {"state", c.state},
            {"facts", body.value("facts", json::array())},
            {"patch", body.value("patch", json::object())},
            {"before", body.value("before", json::object())},
            {"after", body.value("after", json::object())}};
  j["org"] = c.org.empty() ? json(nullptr) : json(c.org);
  j["operator"] = c.operator_id.empty() ? json(nullptr) : json(c.operator_id);
  j["requested_by"] = c.requested_by;
  j["requested_at"] = to_iso8601(c.requested_at);
  j["decided_by"] = c.decided_by.empty() ? json(nullptr) : json(c.decided_by);
  j["decided_at"] = c.decided_at ? json(to_iso8601(*c.decided_at)) : json(nullptr);
  j["reason"] = c.reason.empty() ? json(nullptr) : json(c.reason);
  return j;
}

bool sees_request(const Principal& who, const store::ChangeRequestRecord& c) {
  if (reads_all(who)) return true;
  if (who.tenant()) return !c.org.empty() && c.org == who.org;
  if (who.is("operator-admin")) return !c.operator_id.empty() && c.operator_id == who.operator_id;
  return false;
}

const store::ChangeRequestRecord& find_request(const World& world, const Principal& who,
                                               const std::string& id) {
  auto it = world.change_requests.find(id);
  if (it == world.change_requests.end() || !sees_request(who, it->second)) {
    not_found("change request '" + id + "'");
  }
  return it->second;
}

Reply list_requests(Context& ctx, Call& call) {
  check_query(call, {"limit", "after", "state", "kind", "entity"});
  const std::size_t limit = query_limit(call, ctx.options.max_items);
  const std::string after = query_text(call, "after").value_or("");
  auto state = query_text(call, "state");
  if (state && *state != "pending" && *state != "approved" && *state != "rejected") {
    bad_field("state", "'state' must be pending, approved or rejected");
  }
  auto kind = query_text(call, "kind");
  auto entity = query_text(call, "entity");
  std::shared_lock lock(ctx.world.mutex);
  std::vector<std::string> items;
  std::string last;
  bool more = false;
  for (auto it = ctx.world.change_requests.upper_bound(after);
       it != ctx.world.change_requests.end(); ++it) {
    const store::ChangeRequestRecord& c = it->second;
    if (!sees_request(call.who, c) || (state && c.state != *state) || (kind && c.kind != *kind) ||
        (entity && c.entity_id != *entity)) {
      continue;
    }
    if (items.size() == limit) {
      more = true;
      break;
    }
    items.push_back(request_json(c).dump());
    last = c.id;
  }
  return {200, page_json(items, more, last)};
}

Reply get_request(Context& ctx, Call& call) {
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  return reply(200, request_json(find_request(ctx.world, call.who, call.params.at("id"))));
}

// Approves or rejects: only the checker roles (403 before any lookup), never
// the requester, only once.
Reply decide(Context& ctx, Call& call, bool approve) {
  require_role(call.who, {"admin", "compliance"},
               approve ? "approve change requests" : "reject change requests");
  json body = call.body.empty() ? json::object() : Fields::parse_object(call.body);
  Fields f(body, "", {"reason"}, ctx.options.max_items);
  const std::string reason = f.text("reason", !approve, 4096).value_or("");
  if (!approve && reason.empty()) bad_field("reason", "a rejection needs its 'reason'");
  const std::string id = call.params.at("id");
  Reply r = ctx.writer.run([&](World& world, store::Batch& batch) {
    const store::ChangeRequestRecord& found = find_request(world, call.who, id);
    if (found.requested_by == call.who.user_id) {
      fail(403, "permission_denied", "the requester may not decide its own change request");
    }
    if (found.state != "pending") {
      fail(409, "conflict", "change request '" + id + "' is already " + found.state);
    }
    store::ChangeRequestRecord c = found;
    json stored = json::parse(c.body_json);
    const EntityKind* kind = find_entity_kind(c.kind);
    const std::string subject = std::string(kind->plural) + "/" + c.entity_id;
    const json now_body = json::parse(world.entities[c.kind].at(c.entity_id).body_json);
    json decision = {{"change_request", c.id},
                     {"entity", subject},
                     {"facts", stored.value("facts", json::array())},
                     {"requested_by", c.requested_by},
                     {"decision", approve ? "approved" : "rejected"}};
    if (!reason.empty()) decision["reason"] = reason;
    json after = stored.value("after", json::object());
    if (approve) {
      // The same checks as a direct change: the catalog rebuilt and the
      // rules recompiled with the patch over the entity as it is now.
      json applied =
          apply_approved_patch(world, batch, call.who.user_id, call.now, c.kind, c.entity_id,
                               stored.value("patch", json::object()), ctx.options.max_items, c.id);
      applied.erase("retired_at");
      applied.erase("updated_at");
      after = applied;
      stored["applied"] = applied;
    }
    c.state = approve ? "approved" : "rejected";
    c.decided_by = call.who.user_id;
    c.decided_at = call.now;
    c.reason = reason;
    c.body_json = stored.dump();
    world.change_requests[c.id] = c;
    batch.change_requests.push_back(c);
    batch.audit.push_back(
        {call.now, call.who.user_id, approve ? "change_request.approve" : "change_request.reject",
         "change-requests/" + c.id, now_body.dump(), after.dump(), decision.dump()});
    return reply(200, request_json(c));
  });
  if (approve && r.status == 200) ctx.wake_scheduler();
  return r;
}

Reply approve(Context& ctx, Call& call) {
  return decide(ctx, call, true);
}
Reply reject(Context& ctx, Call& call) {
  return decide(ctx, call, false);
}

}  // namespace

json request_change(World& world, store::Batch& batch, const Call& call, const std::string& kind,
                    const std::string& id, const json& patch, const json& before, const json& after,
                    const std::vector<std::string>& facts) {
  store::ChangeRequestRecord c;
  c.id = make_id("cr", world.next_request++);
  c.kind = kind;
  c.entity_id = id;
  c.org = call.who.tenant() ? call.who.org : "";
  c.operator_id = call.who.is("operator-admin") ? call.who.operator_id : "";
  c.state = "pending";
  c.body_json =
      json{{"patch", patch}, {"before", before}, {"after", after}, {"facts", facts}}.dump();
  c.requested_by = call.who.user_id;
  c.requested_at = call.now;
  world.change_requests[c.id] = c;
  batch.change_requests.push_back(c);
  const EntityKind* k = find_entity_kind(kind);
  batch.audit.push_back({call.now, call.who.user_id, "change_request.create",
                         "change-requests/" + c.id, before.dump(), after.dump(),
                         json{{"change_request", c.id},
                              {"entity", std::string(k->plural) + "/" + id},
                              {"facts", facts},
                              {"decision", "pending"}}
                             .dump()});
  return request_json(c);
}

void add_request_routes(std::vector<Route>& routes) {
  routes.push_back({"GET", "/v1/change-requests", list_requests});
  routes.push_back({"GET", "/v1/change-requests/{id}", get_request});
  routes.push_back({"POST", "/v1/change-requests/{id}/approve", approve});
  routes.push_back({"POST", "/v1/change-requests/{id}/reject", reject});
}

}  // namespace straits::api::internal
