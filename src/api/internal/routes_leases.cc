// Leases: quote, create, list, get, terminate. A lease is refused with 409
// when the pool's GPUs over [start, end) would be over-committed, and with
// 422 and the decision (rules, citations) when the policy does not allow it.
// The check and the write happen on the writer thread, one mutation at a
// time: concurrent requests cannot both take the last GPUs.
#include <algorithm>

#include "api/internal/auth.h"
#include "api/internal/routes.h"
#include "policy/decision_json.h"

namespace straits::api::internal {
namespace {

struct LeaseAsk {
  std::string org, pool;
  std::int32_t gpus = 0;
  Instant start, end;
};

LeaseAsk read_ask(const Call& call, std::size_t max_items) {
  json body = Fields::parse_object(call.body);
  Fields f(body, "", {"org", "pool", "gpus", "start", "end"}, max_items);
  LeaseAsk ask;
  ask.org = f.text("org", !call.who.tenant(), 128).value_or(call.who.org);
  ask.pool = *f.text("pool", true, 128);
  ask.gpus = static_cast<std::int32_t>(*f.integer("gpus", true, 1, 1'000'000));
  ask.start = *f.instant("start", true);
  ask.end = *f.instant("end", true);
  if (ask.end <= ask.start) bad_field("end", "'end' must be after 'start'");
  if (ask.end - ask.start > Duration::hours(24 * 366 * 10)) {
    bad_field("end", "a lease lasts at most 10 years");
  }
  if (call.who.tenant() && ask.org != call.who.org) {
    fail(403, "permission_denied", "a " + call.who.role + " leases for its own org only", "org");
  }
  return ask;
}

Instant effective_end(const store::LeaseRecord& l) {
  return l.state == "terminated" && l.terminated_at ? std::min(l.end, *l.terminated_at) : l.end;
}

// The most GPUs of `pool` leased at once over [start, end), other leases only.
std::int32_t peak_leased(const World& world, const std::string& pool, Instant start, Instant end) {
  std::vector<std::pair<Instant, std::int32_t>> steps;
  for (const auto& [id, l] : world.leases) {
    if (l.pool != pool) continue;
    const Instant s = std::max(l.start, start), e = std::min(effective_end(l), end);
    if (s >= e) continue;
    steps.push_back({s, l.gpus});
    steps.push_back({e, -l.gpus});
  }
  std::sort(steps.begin(), steps.end());  // ends (negative) before starts at one instant
  std::int32_t now = 0, peak = 0;
  for (const auto& [at, delta] : steps) peak = std::max(peak, now += delta);
  return peak;
}

struct Checked {
  const catalog::Pool* pool = nullptr;
  std::int32_t free = 0;  // GPUs not leased over the whole window
  policy::Decision decision;
};

// Everything but capacity is checked here (404, 422), capacity is measured.
Checked check(const World& world, const Call& call, const LeaseAsk& ask) {
  const Policy& p = *world.policy;
  Checked c;
  c.pool = p.catalog.find_pool(PoolId(ask.pool));
  auto pool_record = world.entities.find("pool");
  const store::EntityRecord* record = nullptr;
  if (pool_record != world.entities.end()) {
    auto it = pool_record->second.find(ask.pool);
    if (it != pool_record->second.end()) record = &it->second;
  }
  if (!c.pool || !record) fail(422, "unknown_reference", "no such pool '" + ask.pool + "'", "pool");
  if (record->retired_at)
    fail(422, "failed_precondition", "pool '" + ask.pool + "' is retired", "pool");
  if (!p.catalog.find_org(OrgId(ask.org))) {
    fail(422, "unknown_reference", "no such org '" + ask.org + "'", "org");
  }
  if (c.pool->owner) {
    fail(422, "failed_precondition",
         "pool '" + ask.pool + "' is org '" + c.pool->owner->str() +
             "''s own cluster, not leasable capacity",
         "pool");
  }
  if (ask.gpus > c.pool->gpus()) {
    fail(422, "failed_precondition",
         "pool '" + ask.pool + "' has " + std::to_string(c.pool->gpus()) + " GPUs, fewer than " +
             std::to_string(ask.gpus),
         "gpus");
  }
  (void)call;
  c.free = c.pool->gpus() - peak_leased(world, ask.pool, ask.start, ask.end);
  auto decided = p.engine->decide(
      policy::LeaseRequest{OrgId(ask.org), PoolId(ask.pool), ask.gpus, std::nullopt, std::nullopt},
      ask.start);
  if (!decided) fail_with(decided.error());
  c.decision = std::move(decided).value();
  return c;
}

json quote_json(const LeaseAsk& ask, const Checked& c) {
  const Money price = c.pool->price_per_gpu_hour;
  const double hours = (ask.end - ask.start).to_hours();
  return {
      {"org", ask.org},
      {"pool", ask.pool},
      {"gpus", ask.gpus},
      {"start", to_iso8601(ask.start)},
      {"end", to_iso8601(ask.end)},
      {"price_per_gpu_hour", to_string(price)},
      {"total", to_string(Money::from_units(price.units() * ask.gpus * hours, price.currency()))},
      {"available_gpus", c.free},
      {"decision", policy::decision_json(c.decision)}};
}

Reply quote(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "tenant-admin", "engineer"}, "quote leases");
  check_query(call, {});
  LeaseAsk ask = read_ask(call, ctx.options.max_items);
  std::shared_lock lock(ctx.world.mutex);
  return reply(200, quote_json(ask, check(ctx.world, call, ask)));
}

Reply create(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "tenant-admin"}, "create leases");
  check_query(call, {});
  LeaseAsk ask = read_ask(call, ctx.options.max_items);
  if (ask.end <= call.now) bad_field("end", "'end' is in the past");
  return ctx.writer.run([&, ask](World& world, store::Batch& batch) {
    Checked c = check(world, call, ask);
    json decision = policy::decision_json(c.decision);
    if (c.decision.outcome != policy::Outcome::kAllow) {
      HttpError e{422, "policy_denied",
                  "the policy does not allow org '" + ask.org + "' to lease pool '" + ask.pool +
                      "' on " + to_iso8601(ask.start) + ": " +
                      std::string(to_string(c.decision.outcome)),
                  "", json{{"decision", decision}}};
      for (const auto& rule : c.decision.rules) {
        if (rule.effect != policy::EffectKind::kRecord) {
          e.message += "; rule " + rule.id.str() + " (" + rule.title + "; " + rule.source + ")";
        }
      }
      throw e;
    }
    if (ask.gpus > c.free) {
      throw HttpError{409, "over_committed",
                      "pool '" + ask.pool + "' has " + std::to_string(std::max(c.free, 0)) +
                          " GPUs free over [" + to_iso8601(ask.start) + ", " + to_iso8601(ask.end) +
                          "), fewer than " + std::to_string(ask.gpus),
                      "gpus", json{{"available_gpus", std::max(c.free, 0)}}};
    }
    store::LeaseRecord l;
    l.id = make_id("l", world.next_lease++);
    l.org = ask.org;
    l.pool = ask.pool;
    l.gpus = ask.gpus;
    l.start = ask.start;
    l.end = ask.end;
    l.price_micros = c.pool->price_per_gpu_hour.micros();
    l.state = "active";
    l.created_at = call.now;
    l.created_by = call.who.user_id;
    l.decision_json = decision.dump();
    ++world.lease_revision;
    world.leases[l.id] = l;
    const std::string shown = lease_json(l, call.now);
    batch.leases.push_back(l);
    batch.audit.push_back(
        {call.now, call.who.user_id, "lease.create", "leases/" + l.id, "", shown, l.decision_json});
    ctx.wake_scheduler();
    return Reply{201, shown};
  });
}

const store::LeaseRecord& find_lease(const World& world, const Principal& who,
                                     const std::string& id) {
  auto it = world.leases.find(id);
  if (it == world.leases.end() || !(sees_org(who, *world.policy, it->second.org) ||
                                    sees_pool_leases(who, *world.policy, it->second.pool))) {
    not_found("lease '" + id + "'");
  }
  return it->second;
}

Reply get(Context& ctx, Call& call) {
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  return {200, lease_json(find_lease(ctx.world, call.who, call.params.at("id")), call.now)};
}

Reply list(Context& ctx, Call& call) {
  check_query(call, {"limit", "after", "org", "pool", "state"});
  const std::size_t limit = query_limit(call, ctx.options.max_items);
  const std::string after = query_text(call, "after").value_or("");
  auto org = query_text(call, "org");
  auto pool = query_text(call, "pool");
  auto state = query_text(call, "state");
  if (state && *state != "active" && *state != "ended" && *state != "terminated") {
    bad_field("state", "'state' must be active, ended or terminated");
  }
  std::shared_lock lock(ctx.world.mutex);
  const World& w = ctx.world;
  std::vector<std::string> items;
  std::string last;
  bool more = false;
  for (auto it = w.leases.upper_bound(after); it != w.leases.end(); ++it) {
    const store::LeaseRecord& l = it->second;
    if (!(sees_org(call.who, *w.policy, l.org) || sees_pool_leases(call.who, *w.policy, l.pool))) {
      continue;
    }
    if ((org && l.org != *org) || (pool && l.pool != *pool) ||
        (state && lease_state(l, call.now) != *state)) {
      continue;
    }
    if (items.size() == limit) {
      more = true;
      break;
    }
    items.push_back(lease_json(l, call.now));
    last = l.id;
  }
  return {200, page_json(items, more, last)};
}

Reply terminate(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "tenant-admin", "operator-admin"}, "terminate leases");
  check_query(call, {});
  no_body(call);
  const std::string id = call.params.at("id");
  return ctx.writer.run([&, id](World& world, store::Batch& batch) {
    const store::LeaseRecord& old = find_lease(world, call.who, id);
    if (call.who.is("tenant-admin") && old.org != call.who.org) not_found("lease '" + id + "'");
    if (old.state == "terminated") return Reply{200, lease_json(old, call.now)};
    store::LeaseRecord l = old;
    l.state = "terminated";
    l.terminated_at = std::max(call.now, l.start);
    const std::string before = lease_json(old, call.now), after = lease_json(l, call.now);
    ++world.lease_revision;
    world.leases[id] = l;
    batch.leases.push_back(l);
    batch.audit.push_back(
        {call.now, call.who.user_id, "lease.terminate", "leases/" + id, before, after, ""});
    ctx.wake_scheduler();
    return Reply{200, after};
  });
}

}  // namespace

void add_lease_routes(std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/leases/quote", quote});
  routes.push_back({"POST", "/v1/leases", create});
  routes.push_back({"GET", "/v1/leases", list});
  routes.push_back({"GET", "/v1/leases/{id}", get});
  routes.push_back({"POST", "/v1/leases/{id}/terminate", terminate});
}

}  // namespace straits::api::internal
