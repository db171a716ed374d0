// Decisions as a service, the audit log, health, metrics and the OpenAPI
// document.
#include <algorithm>

#include "api/internal/auth.h"
#include "api/internal/metrics.h"
#include "api/internal/routes.h"
#include "policy/decision_json.h"

namespace straits::api::internal {
namespace {

// POST /v1/decisions: {"action": "lease", "org": ..., "pool": ..., "at": ...}
Reply decide(Context& ctx, Call& call) {
  check_query(call, {});
  json body = Fields::parse_object(call.body);
  Fields f(body, "",
           {"action", "at", "org", "pool", "gpus", "chip", "site", "source_site", "by", "quantity",
            "dataset", "job"},
           ctx.options.max_items);
  const std::string action = *f.text("action", true, 16);
  const Instant at = f.instant("at").value_or(call.now);
  std::shared_lock lock(ctx.world.mutex);
  const Policy& p = *ctx.world.policy;
  const Principal& who = call.who;
  const bool everything = reads_all(who);
  auto deny_scope = [&](const std::string& field) {
    fail(403, "permission_denied",
         "a " + who.role + " may ask only about its own " +
             (who.is("operator-admin") ? "operator's capacity" : "org"),
         field);
  };
  policy::Request request;
  if (action == "lease" || action == "run") {
    const std::string org = *f.text("org", true, 128), pool = *f.text("pool", true, 128);
    if (!everything && !(who.tenant() && org == who.org) &&
        !(who.is("operator-admin") && operator_of_pool(p, pool) == who.operator_id)) {
      deny_scope(who.tenant() ? "org" : "pool");
    }
    if (action == "lease") {
      auto gpus = f.integer("gpus", false, 1, 1'000'000);
      request =
          policy::LeaseRequest{OrgId(org), PoolId(pool),
                               gpus ? std::optional<int>(static_cast<int>(*gpus)) : std::nullopt,
                               std::nullopt, std::nullopt};
    } else {
      policy::JobSpec spec;
      if (auto gpus = f.integer("gpus", false, 1, 1'000'000)) spec.gpus = static_cast<int>(*gpus);
      if (auto job = f.object("job", {"gpus", "training_flops", "purpose", "datasets"})) {
        if (auto gpus = job->integer("gpus", false, 1, 1'000'000)) {
          spec.gpus = static_cast<int>(*gpus);
        }
        spec.training_flops = job->number("training_flops", false, 0, 1e40).value_or(0);
        spec.purpose = job->text("purpose", false, 64).value_or("training");
        const auto datasets = job->texts("datasets").value_or(std::vector<std::string>{});
        for (std::size_t i = 0; i < datasets.size(); ++i) {
          // Another org's dataset is as unknown as a missing one.
          const catalog::Dataset* d = p.catalog.find_dataset(DatasetId(datasets[i]));
          if (!d || !(everything || sees_org(who, p, d->owner.str()))) {
            fail(422, "unknown_reference", "no such dataset '" + datasets[i] + "'",
                 "job.datasets[" + std::to_string(i) + "]");
          }
          spec.datasets.emplace_back(datasets[i]);
        }
      }
      request = policy::RunRequest{OrgId(org), PoolId(pool), spec};
    }
  } else if (action == "ship") {
    const std::string chip = *f.text("chip", true, 128), site = *f.text("site", true, 128);
    const std::string by = f.text("by", false, 128).value_or("");
    if (!everything && !(who.tenant() && by == who.org) &&
        !(who.is("operator-admin") && operator_of_site(p, site) == who.operator_id)) {
      deny_scope(who.tenant() ? "by" : "site");
    }
    policy::ShipRequest ship{
        ChipId(chip), SiteId(site),
        std::nullopt, std::nullopt,
        by,           static_cast<int>(f.integer("quantity", false, 1, 10'000'000).value_or(1))};
    if (auto source = f.text("source_site", false, 128)) ship.source_site = SiteId(*source);
    if (auto pool = f.text("pool", false, 128)) ship.pool = PoolId(*pool);
    request = ship;
  } else if (action == "transfer") {
    const std::string dataset = *f.text("dataset", true, 128), site = *f.text("site", true, 128);
    const catalog::Dataset* d = p.catalog.find_dataset(DatasetId(dataset));
    if (!everything && !(who.tenant() && d && d->owner.str() == who.org) &&
        !(who.is("operator-admin") && operator_of_site(p, site) == who.operator_id)) {
      deny_scope(who.tenant() ? "dataset" : "site");
    }
    request = policy::TransferRequest{DatasetId(dataset), SiteId(site),
                                      f.text("by", false, 128).value_or("")};
  } else {
    bad_field("action", "unknown action '" + action + "': lease, run, ship or transfer");
  }
  auto decided = p.engine->decide(request, at);
  if (!decided) {
    // Name the field whose id is unknown: the message quotes the id.
    std::string field;
    for (const char* key : {"org", "pool", "chip", "site", "source_site", "dataset", "by"}) {
      if (f.has(key) && body[key].is_string() &&
          decided.error().message().find("'" + body[key].get<std::string>() + "'") !=
              std::string::npos) {
        field = key;
        break;
      }
    }
    fail(422, "unknown_reference", decided.error().message(), field);
  }
  return reply(200, policy::decision_json(*decided));
}

json audit_json(const store::AuditEvent& e) {
  auto parsed = [](const std::string& text) {
    if (text.empty()) return json(nullptr);
    json j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json(text) : j;
  };
  return {{"seq", e.seq},
          {"at", to_iso8601(e.at)},
          {"actor", e.actor},
          {"action", e.action},
          {"subject", e.subject},
          {"before", parsed(e.before_json)},
          {"after", parsed(e.after_json)},
          {"decision", parsed(e.decision_json)},
          // The stored texts, byte for byte: what the hash covers.
          {"before_json", e.before_json},
          {"after_json", e.after_json},
          {"decision_json", e.decision_json},
          {"prev_hash", e.prev_hash},
          {"hash", e.hash}};
}

// What GET /v1/audit's filters keep: an action prefix ("job." or
// "job.submit"), an actor and a subject substring, a time range [since, until).
struct AuditFilter {
  std::optional<std::string> action, actor, subject;
  std::optional<Instant> since, until;

  bool any() const { return action || actor || subject || since || until; }
  bool keeps(const store::AuditEvent& e) const {
    return (!action || e.action.starts_with(*action)) &&
           (!actor || e.actor.find(*actor) != std::string::npos) &&
           (!subject || e.subject.find(*subject) != std::string::npos) &&
           (!since || e.at >= *since) && (!until || e.at < *until);
  }
};

// Events one filtered request reads from the store at most: a filter that
// matches little over a long log answers a short page and a cursor to go on
// from, not a scan of the whole chain.
constexpr std::int64_t kAuditScanLimit = 20'000;
constexpr std::int64_t kAuditChunk = 1'000;

// The audit log, oldest first from `after`, or newest first (order=desc)
// below `before` (the newest when absent), filtered. `next` is where to go
// on from (`after` or `before` of the next request), null at the end.
Reply audit(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "auditor", "compliance"}, "read the audit log");
  check_query(
      call, {"after", "before", "limit", "order", "action", "actor", "subject", "since", "until"});
  const std::size_t limit = query_limit(call, ctx.options.max_items);
  const auto order = query_text(call, "order").value_or("asc");
  if (order != "asc" && order != "desc") bad_field("order", "'order' must be asc or desc");
  const bool desc = order == "desc";
  if (desc && call.query.count("after")) {
    bad_field("after", "'after' pages oldest first; newest first (order=desc) takes 'before'");
  }
  if (!desc && call.query.count("before")) {
    bad_field("before", "'before' pages newest first: give order=desc");
  }
  AuditFilter filter;
  for (auto [key, field] : {std::pair{"action", &filter.action}, std::pair{"actor", &filter.actor},
                            std::pair{"subject", &filter.subject}}) {
    *field = query_text(call, key);
    if (*field && ((*field)->empty() || (*field)->size() > 256)) {
      bad_field(key, std::string("'") + key + "' must hold 1 to 256 characters");
    }
  }
  filter.since = query_instant(call, "since");
  filter.until = query_instant(call, "until");
  // The range still to read: (low, high], walked up from low or down from high
  // (from the newest event the world knows of when no `before` is given).
  std::int64_t low = query_integer(call, "after", 0, INT64_MAX).value_or(0);
  std::int64_t high = INT64_MAX;
  if (desc) {
    std::shared_lock lock(ctx.world.mutex);
    high = query_integer(call, "before", 1, INT64_MAX).value_or(ctx.world.audit_seq + 1) - 1;
  }
  json items = json::array();
  std::int64_t scanned = 0;
  bool end = false;  // oldest first: the store has nothing after `low`
  while (low < high && !end && items.size() < limit && scanned < kAuditScanLimit) {
    const std::int64_t n = std::min({kAuditChunk, high - low, kAuditScanLimit - scanned});
    // Without a filter a page is exactly `limit` events: read no more (+1 to know the end).
    const std::int64_t want =
        filter.any() ? n : std::min<std::int64_t>(n, static_cast<std::int64_t>(limit) + 1);
    auto events = ctx.store.audit_events(desc ? high - want : low, static_cast<std::size_t>(want));
    if (!events) fail_with(events.error());
    if (!desc && static_cast<std::int64_t>(events->size()) < want) end = true;
    if (desc) std::reverse(events->begin(), events->end());
    for (const store::AuditEvent& e : *events) {
      if (items.size() == limit) {
        end = false;  // stopped with events left: go on from here
        break;
      }
      ++scanned;
      (desc ? high : low) = desc ? e.seq - 1 : e.seq;
      if (filter.keeps(e)) items.push_back(audit_json(e));
    }
    if (desc && events->empty()) high = 0;
  }
  const bool more = desc ? low < high : !end;
  json next = more ? json(std::to_string(desc ? high + 1 : low)) : json(nullptr);
  return reply(200, json{{"items", items}, {"next", next}, {"scanned", scanned}});
}

Reply audit_verify(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "auditor", "compliance"}, "verify the audit log");
  check_query(call, {});
  auto v = ctx.store.verify_audit();
  if (!v) fail_with(v.error());
  return reply(
      200,
      json{{"ok", v->ok()}, {"events", v->events}, {"head", v->head}, {"problems", v->problems}});
}

// The roles that read the audit log read its signed heads and key too.
// GET /v1/audit/public-key: what verifies the signed heads (issue 15). An
// auditor should take it from the operator out of band, once, and compare.
Reply audit_public_key(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "auditor", "compliance"}, "read the audit log's public key");
  check_query(call, {});
  return reply(200, json{{"algorithm", "ed25519"}, {"public_key", ctx.store.signing_public_key()}});
}

// GET /v1/audit/heads?after=SEQ&limit=N: the signed heads, by seq.
Reply audit_heads(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "auditor", "compliance"}, "read the audit log's signed heads");
  check_query(call, {"after", "limit"});
  const std::size_t limit = query_limit(call, ctx.options.max_items);
  const std::int64_t after = query_integer(call, "after", 0, INT64_MAX).value_or(0);
  auto heads = ctx.store.signed_heads(after, limit + 1);
  if (!heads) fail_with(heads.error());
  const bool more = heads->size() > limit;
  if (more) heads->pop_back();
  json items = json::array();
  for (const auto& h : *heads) {
    items.push_back({{"seq", h.seq},
                     {"hash", h.hash},
                     {"at", to_iso8601(h.at)},
                     {"at_us", h.at.unix_microseconds()},
                     {"public_key", h.public_key},
                     {"signature", h.signature}});
  }
  json next = more ? json(std::to_string(heads->back().seq)) : json(nullptr);
  return reply(200, json{{"items", items}, {"next", next}});
}

Reply schedule(Context& ctx, Call& call) {
  require_role(call.who, {"admin"}, "run a scheduling pass");
  check_query(call, {});
  no_body(call);
  auto pass = ctx.schedule_now();
  if (!pass) fail_with(pass.error());
  return reply(200, json{{"started", pass->started},
                         {"moved", pass->moved},
                         {"checkpointing", pass->checkpointing},
                         {"waiting", pass->waiting},
                         {"took_ms", pass->took.count_microseconds() / 1000.0}});
}

Reply healthz(Context& ctx, Call& call) {
  (void)call;
  std::shared_lock lock(ctx.world.mutex);
  return reply(
      200,
      json{{"status", "ok"}, {"jobs", ctx.world.jobs.size()}, {"audit_seq", ctx.world.audit_seq}});
}

// Fleet figures (leased and used GPUs of every pool, every operator): not
// for tenants nor for one operator's admin (issue 15). With
// --metrics-public the route is not authenticated and `who` is nobody.
Reply metrics(Context& ctx, Call& call) {
  if (!call.who.role.empty()) {
    require_role(call.who, {"admin", "auditor", "compliance"}, "read the fleet's metrics");
  }
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  return {200, ctx.metrics.render(ctx.world, ctx.writer.commits(), ctx.writer.mutations())};
}

Reply openapi(Context& ctx, Call& call) {
  (void)ctx;
  (void)call;
  return {200, openapi_document()};
}

}  // namespace

void add_misc_routes(std::vector<Route>& routes) {
  routes.push_back({"POST", "/v1/decisions", decide});
  routes.push_back({"GET", "/v1/audit", audit});
  routes.push_back({"GET", "/v1/audit/verify", audit_verify});
  routes.push_back({"GET", "/v1/audit/public-key", audit_public_key});
  routes.push_back({"GET", "/v1/audit/heads", audit_heads});
  routes.push_back({"POST", "/v1/schedule", schedule});
  routes.push_back({"GET", "/healthz", healthz, false});
  // A token unless --metrics-public (server.cc turns this off then).
  routes.push_back({"GET", "/metrics", metrics, true});
  routes.push_back({"GET", "/v1/openapi.json", openapi, false});
}

std::vector<Route> all_routes() {
  std::vector<Route> routes;
  add_catalog_routes(routes);
  add_access_routes(routes);
  add_lease_routes(routes);
  add_job_routes(routes);
  add_misc_routes(routes);
  add_agent_routes(routes);
  add_request_routes(routes);
  add_ruleset_routes(routes);
  add_ruleset_analysis_routes(routes);
  add_whatif_routes(routes);
  add_console_routes(routes);
  confine_agents(routes);  // an agent token: its own routes only (auth.h)
  return routes;
}

std::string page_json(const std::vector<std::string>& items, bool more,
                      const std::string& last_id) {
  std::string out = "{\"items\":[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i];
  }
  out += "],\"next\":";
  out += more ? json(last_id).dump() : "null";
  out += '}';
  return out;
}

}  // namespace straits::api::internal
