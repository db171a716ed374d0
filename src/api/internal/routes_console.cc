// Read models for the web console (issue 18): the fleet with its figures per
// pool, what happens next (lease ends, dated rule changes, rule sets taking
// effect, each with the jobs it will move) and the dated rule changes of the
// rules in force. Each answers from the world in memory in one sweep over
// its leases and jobs: the console polls them.
#include <algorithm>
#include <unordered_map>

#include "api/internal/auth.h"
#include "api/internal/routes.h"
#include "store/bundle_json.h"

namespace straits::api::internal {
namespace {

// GPUs under the active leases of a pool, and GPUs its placed jobs use.
struct Figures {
  std::int64_t leased = 0;
  std::int64_t used = 0;
  std::int64_t leases = 0;
};

bool lease_active(const store::LeaseRecord& l, Instant now) {
  return lease_state(l, now) == "active" && l.start <= now;
}

// Every pool's figures, and (for a tenant) its own org's share of them.
void count_fleet(const World& w, const Principal& who, Instant now,
                 std::unordered_map<std::string, Figures>& all,
                 std::unordered_map<std::string, Figures>& own) {
  for (const auto& [id, l] : w.leases) {
    if (!lease_active(l, now)) continue;
    for (auto* f : {&all[l.pool], l.org == who.org ? &own[l.pool] : nullptr}) {
      if (!f) continue;
      f->leased += l.gpus;
      ++f->leases;
    }
  }
  for (const auto& [id, e] : w.jobs) {
    if (!placed_state(e.state) || !e.pool) continue;
    all[*e.pool].used += e.job.gpus;
    if (e.record.org == who.org) own[*e.pool].used += e.job.gpus;
  }
}

// One pool's figures as the caller may see them (CONTRACT: a tenant its own
// org's, an operator-admin its own operator's pools in full and capacity
// only elsewhere).
json pool_figures(const Principal& who, const Policy& p, const catalog::Pool& pool,
                  const Figures& all, const Figures& own) {
  json j = {{"pool", pool.id.str()}, {"chip", pool.chip.str()}, {"gpus", pool.gpus()}};
  j["owner"] = pool.owner ? json(pool.owner->str()) : json(nullptr);
  const bool full = reads_all(who) || (who.is("operator-admin") &&
                                       operator_of_pool(p, pool.id.str()) == who.operator_id);
  if (full) {
    j["leased"] = all.leased;
    j["used"] = all.used;
    j["free"] = pool.gpus() - all.leased;
    j["leases"] = all.leases;
  } else if (who.tenant()) {
    // Its own use only: the others' leases would tell who rents what.
    j["leased"] = own.leased;
    j["used"] = own.used;
    j["free"] = nullptr;
    j["leases"] = own.leases;
    j["others_leased"] = nullptr;
  } else {
    for (const char* key : {"leased", "used", "free", "leases"}) j[key] = nullptr;
  }
  return j;
}

Reply fleet(Context& ctx, Call& call) {
  check_query(call, {});
  std::shared_lock lock(ctx.world.mutex);
  const World& w = ctx.world;
  const Policy& p = *w.policy;
  std::unordered_map<std::string, Figures> all, own;
  count_fleet(w, call.who, call.now, all, own);
  // Pools by site, and sites by country, in catalog order.
  std::map<std::string, std::vector<const catalog::Pool*>> pools_of;
  for (const catalog::Pool& pool : p.catalog.pools()) pools_of[pool.site.str()].push_back(&pool);
  std::map<std::string, json> countries;
  const Figures none;
  for (const catalog::Site& site : p.catalog.sites()) {
    json pools = json::array();
    for (const catalog::Pool* pool : pools_of[site.id.str()]) {
      auto a = all.find(pool->id.str());
      auto o = own.find(pool->id.str());
      pools.push_back(pool_figures(call.who, p, *pool, a == all.end() ? none : a->second,
                                   o == own.end() ? none : o->second));
    }
    json& sites = countries[site.country.str()];
    if (sites.is_null()) sites = json::array();
    sites.push_back({{"site", site.id.str()},
                     {"name", site.name},
                     {"operator", site.operator_id.str()},
                     {"pools", pools}});
  }
  json out = {{"at", to_iso8601(call.now)}, {"countries", json::array()}};
  for (auto& [country, sites] : countries) {
    out["countries"].push_back({{"country", country}, {"sites", std::move(sites)}});
  }
  return reply(200, out);
}

// ---- dated rule changes ----------------------------------------------------

// A rule's citation as the console lists it: its `source`, or none.
json citations(const policy::RuleChange& c) {
  return c.source.empty() ? json::array() : json::array({c.source});
}

Reply rule_changes(Context& ctx, Call& call) {
  check_query(call, {"from", "days"});
  const Instant from = query_instant(call, "from").value_or(call.now);
  const auto days = query_integer(call, "days", 1, 3650).value_or(365);
  const Instant to = from + Duration::days(days);
  std::shared_lock lock(ctx.world.mutex);
  const Policy& p = *ctx.world.policy;
  json items = json::array();
  for (const policy::RuleChange& c : p.engine->rule_changes()) {
    if (c.at < from || c.at > to) continue;
    items.push_back({{"at", to_iso8601(c.at)},
                     {"rule", c.rule.str()},
                     {"kind", c.starts ? "takes_effect" : "ends"},
                     {"summary", c.title},
                     {"pack", c.pack},
                     {"ruleset", p.ruleset_at(c.at)},
                     {"citation", citations(c)}});
  }
  return reply(200, json{{"from", to_iso8601(from)}, {"to", to_iso8601(to)}, {"items", items}});
}

// ---- what happens next ------------------------------------------------------

// One event ahead; `rank` orders events of one instant: lease ends, then
// rule sets, then rules.
struct Ahead {
  Instant at;
  int rank = 0;
  json item;
};

json job_ref(const JobEntry& e) {
  return {{"job", e.record.id},
          {"name", e.spec.value("name", "")},
          {"org", e.record.org},
          {"pool", e.pool.value_or("")},
          {"action", "checkpoint_and_move"}};
}

Instant started_at(const JobEntry& e) {
  json placement = json::parse(e.record.placement_json, nullptr, false);
  if (!placement.is_object() || !placement.contains("started_at")) return Instant::min();
  auto at = parse_instant(placement["started_at"].get<std::string>());
  return at ? *at : Instant::min();
}

using OrgPool = std::pair<std::string, std::string>;

// Lease ends in (now, to]: the jobs of the lease's org on its pool that the
// GPUs still leased there after the end cannot hold, the latest started
// first (as the scheduling loop cuts them).
void lease_ends(const World& w, const Principal& who, Instant now, Instant to,
                const std::map<OrgPool, std::vector<const JobEntry*>>& placed,
                std::vector<Ahead>& out) {
  const Policy& p = *w.policy;
  std::map<OrgPool, std::vector<const store::LeaseRecord*>> active;
  for (const auto& [id, l] : w.leases) {
    if (lease_state(l, now) == "active") active[{l.org, l.pool}].push_back(&l);
  }
  for (const auto& [key, leases] : active) {
    const catalog::Pool* pool = p.catalog.find_pool(PoolId(key.second));
    const bool owned = pool && pool->owner && pool->owner->str() == key.first;
    for (const store::LeaseRecord* l : leases) {
      if (l->end <= now || l->end > to) continue;
      if (!sees_org(who, p, l->org) && !sees_pool_leases(who, p, l->pool)) continue;
      json jobs = json::array();
      auto on_pool = placed.find(key);
      if (!owned && on_pool != placed.end()) {
        std::int64_t remaining = 0, used = 0;
        for (const store::LeaseRecord* m : leases) {
          if (m != l && m->start <= l->end && l->end < m->end) remaining += m->gpus;
        }
        std::vector<std::pair<Instant, const JobEntry*>> by_start;
        for (const JobEntry* e : on_pool->second) {
          used += e->job.gpus;
          by_start.emplace_back(started_at(*e), e);
        }
        std::sort(by_start.begin(), by_start.end(), [](const auto& a, const auto& b) {
          return a.first != b.first ? a.first > b.first : a.second->record.id < b.second->record.id;
        });
        for (const auto& [start, e] : by_start) {
          if (used <= remaining) break;
          jobs.push_back(job_ref(*e));
          used -= e->job.gpus;
        }
      }
      out.push_back({l->end, 0,
                     json{{"at", to_iso8601(l->end)},
                          {"kind", "lease_end"},
                          {"title", "lease " + l->id + " of " + l->org + " on " + l->pool +
                                        " ends (" + std::to_string(l->gpus) + " GPUs)"},
                          {"lease", l->id},
                          {"pool", l->pool},
                          {"org", l->org},
                          {"jobs", jobs}}});
    }
  }
}

// For each placed job, the first instant of `ahead` at which its run stops
// being allowed (jobs of one kind on one pool decided once).
std::map<Instant, json> runs_denied(const Policy& p, Instant now, const std::set<Instant>& ahead,
                                    const std::map<OrgPool, std::vector<const JobEntry*>>& placed) {
  std::map<Instant, json> out;
  std::map<std::string, Instant> decided;  // (org, pool, gpus, purpose, datasets) -> instant
  for (const auto& [key, jobs] : placed) {
    for (const JobEntry* e : jobs) {
      std::string kind = key.first + '\n' + key.second + '\n' + std::to_string(e->job.gpus) + '\n' +
                         e->job.purpose;
      for (const DatasetId& d : e->job.datasets) kind += '\n' + d.str();
      auto [it, fresh] = decided.try_emplace(kind, Instant::max());
      if (fresh) {
        policy::JobSpec spec{e->job.gpus, 0, e->job.purpose, e->job.datasets};
        auto subject = p.engine->resolve(policy::RunRequest{e->job.org, PoolId(key.second), spec});
        if (!subject || p.engine->evaluate(*subject, now) != policy::Outcome::kAllow) continue;
        for (Instant t : ahead) {
          if (p.engine->evaluate(*subject, t) != policy::Outcome::kAllow) {
            it->second = t;
            break;
          }
        }
      }
      if (it->second == Instant::max()) continue;
      json& list = out[it->second];
      if (list.is_null()) list = json::array();
      list.push_back(job_ref(*e));
    }
  }
  return out;
}

// Dated rules of the policy in force, and adopted rule sets, taking effect
// in (now, to]; the jobs whose run turns to deny go with the first event of
// that instant.
void rule_events(const World& w, Instant now, Instant to,
                 const std::map<OrgPool, std::vector<const JobEntry*>>& placed,
                 std::vector<Ahead>& out) {
  const Policy& p = *w.policy;
  std::set<Instant> ahead;
  std::vector<Ahead> events;
  for (const auto& [id, set] : w.rulesets) {
    if (set.state != "adopted" || !set.effective || *set.effective <= now || *set.effective > to) {
      continue;
    }
    ahead.insert(*set.effective);
    events.push_back({*set.effective, 1,
                      json{{"at", to_iso8601(*set.effective)},
                           {"kind", "ruleset_change"},
                           {"title", "rule set " + set.name + " (" + id + ") takes effect"},
                           {"ruleset", id}}});
  }
  for (const policy::RuleChange& c : p.engine->rule_changes()) {
    if (c.at <= now || c.at > to) continue;
    ahead.insert(c.at);
    events.push_back({c.at, 2,
                      json{{"at", to_iso8601(c.at)},
                           {"kind", "rule_change"},
                           {"title", std::string(c.starts ? "takes effect: " : "ends: ") + c.title},
                           {"rule", c.rule.str()},
                           {"ruleset", p.ruleset_at(c.at)},
                           {"citation", citations(c)}}});
  }
  std::stable_sort(events.begin(), events.end(), [](const Ahead& a, const Ahead& b) {
    return a.at != b.at ? a.at < b.at : a.rank < b.rank;
  });
  std::map<Instant, json> denied = runs_denied(p, now, ahead, placed);
  for (Ahead& e : events) {
    auto jobs = denied.find(e.at);
    e.item["jobs"] = jobs == denied.end() ? json::array() : std::move(jobs->second);
    if (jobs != denied.end()) denied.erase(jobs);
    out.push_back(std::move(e));
  }
}

Reply upcoming(Context& ctx, Call& call) {
  check_query(call, {"days"});
  const auto days = query_integer(call, "days", 1, 365).value_or(30);
  const Instant to = call.now + Duration::days(days);
  std::shared_lock lock(ctx.world.mutex);
  const World& w = ctx.world;
  // The placed jobs the caller may see, by org and pool.
  std::map<OrgPool, std::vector<const JobEntry*>> placed;
  for (const auto& [id, e] : w.jobs) {
    if (placed_state(e.state) && e.pool && sees_org(call.who, *w.policy, e.record.org)) {
      placed[{e.record.org, *e.pool}].push_back(&e);
    }
  }
  std::vector<Ahead> ahead;
  lease_ends(w, call.who, call.now, to, placed, ahead);
  rule_events(w, call.now, to, placed, ahead);
  std::stable_sort(ahead.begin(), ahead.end(), [](const Ahead& a, const Ahead& b) {
    return a.at != b.at ? a.at < b.at : a.rank < b.rank;
  });
  json items = json::array();
  for (Ahead& a : ahead) items.push_back(std::move(a.item));
  return reply(200, json{{"from", to_iso8601(call.now)}, {"to", to_iso8601(to)}, {"items", items}});
}

// ---- the signed audit bundle ------------------------------------------------

// At most this many events in one bundle: a bigger range is exported in
// pieces (each one verifies alone: a run of the chain with its heads).
constexpr std::int64_t kMaxBundleEvents = 100'000;

// GET /v1/audit/export?from_seq=&to_seq=: events from_seq..to_seq, then on to
// the first signed head at or after to_seq, with those heads and the key:
// the bundle `straits audit export` writes (format straits-audit-bundle/1),
// which `straits audit verify-bundle` checks offline.
Reply audit_export(Context& ctx, Call& call) {
  require_role(call.who, {"admin", "auditor", "compliance"}, "export the audit log");
  check_query(call, {"from_seq", "to_seq"});
  const std::int64_t from_seq = query_integer(call, "from_seq", 1, INT64_MAX).value_or(1);
  const std::int64_t last = [&] {
    std::shared_lock lock(ctx.world.mutex);
    return ctx.world.audit_seq;
  }();
  std::int64_t to_seq = query_integer(call, "to_seq", 1, INT64_MAX).value_or(last);
  if (from_seq > last) bad_field("from_seq", "no audit event " + std::to_string(from_seq));
  if (to_seq < from_seq) bad_field("to_seq", "'to_seq' must not be below 'from_seq'");
  to_seq = std::min(to_seq, last);
  if (to_seq - from_seq >= kMaxBundleEvents) {
    bad_field("to_seq", "a bundle holds at most " + std::to_string(kMaxBundleEvents) +
                            " events: export the range in pieces");
  }
  // The first signed head at or after to_seq: it covers every event.
  auto heads = ctx.store.signed_heads(from_seq - 1, static_cast<std::size_t>(kMaxBundleEvents));
  if (!heads) fail_with(heads.error());
  std::int64_t end_seq = -1;
  json head_items = json::array();
  std::string key;
  for (const store::SignedHead& h : *heads) {
    if (end_seq >= 0) break;
    if (h.seq >= to_seq) end_seq = h.seq;
    head_items.push_back(store::bundle_json(h));
    key = h.public_key;
  }
  if (end_seq < 0) {
    fail(409, "conflict",
         "no signed head covers events " + std::to_string(from_seq) + ".." +
             std::to_string(to_seq) + " yet");
  }
  auto events =
      ctx.store.audit_events(from_seq - 1, static_cast<std::size_t>(end_seq - from_seq + 1));
  if (!events) fail_with(events.error());
  json items = json::array();
  for (const store::AuditEvent& e : *events) {
    items.push_back(store::bundle_json(e));
  }
  const json from = events->empty() ? json(nullptr) : json(to_iso8601(events->front().at));
  const json to = events->empty() ? json(nullptr) : json(to_iso8601(events->back().at));
  return reply(200, json{{"format", "straits-audit-bundle/1"},
                         {"from", from},
                         {"to", to},
                         {"from_seq", from_seq},
                         {"to_seq", end_seq},
                         {"exported_at", to_iso8601(call.now)},
                         {"source", "api"},
                         {"public_key", key.empty() ? ctx.store.signing_public_key() : key},
                         {"events", items},
                         {"heads", head_items}});
}

}  // namespace

void add_console_routes(std::vector<Route>& routes) {
  routes.push_back({"GET", "/v1/fleet", fleet});
  routes.push_back({"GET", "/v1/upcoming", upcoming});
  routes.push_back({"GET", "/v1/rules/changes", rule_changes});
  routes.push_back({"GET", "/v1/audit/export", audit_export});
}

}  // namespace straits::api::internal
