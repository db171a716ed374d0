#include "api/internal/impact.h"

#include <algorithm>

#include "api/internal/http.h"
#include "sched/impact.h"

namespace straits::api::internal {
namespace {

json instant_or_null(Instant t) {
  return t == Instant::max() || t == Instant::min() ? json(nullptr) : json(to_iso8601(t));
}

// Each element of `list` as a row.
template <typename List, typename Row>
json rows(const List& list, Row row) {
  json out = json::array();
  for (const auto& x : list) out.push_back(row(x));
  return out;
}

json rule_or_null(const RuleId& rule) {
  return rule.empty() ? json(nullptr) : json(rule.str());
}

json bite_json(const sched::Bite& b) {
  return {{"from", to_iso8601(b.at)},
          {"outcome", std::string(policy::to_string(b.outcome))},
          {"rule", rule_or_null(b.rule)},
          {"reason", b.reason}};
}

template <typename Ids>
json ids_json(const Ids& ids) {
  return rows(ids, [](const auto& id) { return id.str(); });
}

json lease_row(const sched::LeaseHit& l) {
  json row = {{"lease", l.lease.str()},
              {"org", l.org.str()},
              {"pool", l.pool.str()},
              {"gpus", l.gpus},
              {"end", to_iso8601(l.end)}};
  row.update(bite_json(l.bite));
  return row;
}

json running_row(const sched::RunningHit& r) {
  json row = {{"job", r.job.str()},
              {"org", r.org.str()},
              {"pool", r.pool.str()},
              {"gpus", r.gpus},
              {"expected_end", instant_or_null(r.expected_end)},
              {"checkpoint_by", to_iso8601(r.checkpoint_by)},
              {"could_go", ids_json(r.could_go)}};
  row.update(bite_json(r.bite));
  return row;
}

json queued_row(const sched::QueuedHit& q) {
  return {{"job", q.job.str()},
          {"org", q.org.str()},
          {"nowhere_from", to_iso8601(q.nowhere_from)},
          {"rule", rule_or_null(q.rule)}};
}

json dataset_row(const sched::DatasetHit& d) {
  return {{"dataset", d.dataset.str()}, {"org", d.org.str()},         {"licence", d.licence},
          {"rule", d.rule.str()},       {"from", to_iso8601(d.from)}, {"pools", ids_json(d.pools)},
          {"jobs", ids_json(d.jobs)}};
}

json org_row(const sched::OrgHit& o) {
  return {{"org", o.org.str()},
          {"leases", o.leases},
          {"running", o.running},
          {"queued", o.queued},
          {"datasets", o.datasets}};
}

json week_row(const sched::WeekAtRisk& w) {
  auto money = [](const std::vector<Money>& totals) {
    return rows(totals, [](const Money& m) { return to_string(m); });
  };
  return {{"week", sched::iso_week_name(w.week)}, {"start", to_iso8601(w.week)},
          {"lease_gpu_hours", w.lease_gpu_hours}, {"lease_money", money(w.lease_money)},
          {"job_gpu_hours", w.job_gpu_hours},     {"job_money", money(w.job_money)}};
}

// When the placement says the job started or will end (`fallback` if not).
Instant placed_at(const JobEntry& e, const char* key, Instant fallback) {
  const json placement = json::parse(e.record.placement_json, nullptr, false);
  if (!placement.is_object() || !placement.contains(key) || !placement[key].is_string()) {
    return fallback;
  }
  auto t = parse_instant(placement[key].get<std::string>());
  return t ? *t : fallback;
}

// The GPUs of a placement that the pool still has (a store edited behind the
// server's back may name nodes it no longer has: the scheduling pass cuts
// such a job; here it keeps what exists).
sched::Allocation held(const sched::PoolState& pool, std::uint32_t index, const JobEntry& e) {
  sched::Allocation a{index, {}};
  std::vector<std::int32_t> left = pool.free();
  for (const auto& [node, gpus] : e.nodes) {
    if (node < 0 || static_cast<std::size_t>(node) >= left.size()) continue;
    const std::int32_t take = std::min(gpus, left[static_cast<std::size_t>(node)]);
    if (take <= 0) continue;
    left[static_cast<std::size_t>(node)] -= take;
    a.nodes.emplace_back(node, take);
  }
  std::sort(a.nodes.begin(), a.nodes.end());
  return a;
}

}  // namespace

sched::ClusterState fleet_state(const World& world, Instant now) {
  const catalog::Catalog& catalog = world.policy->catalog;
  sched::ClusterState state = sched::ClusterState::empty_fleet(catalog);
  std::vector<sched::Lease> leases;
  for (const auto& [id, l] : world.leases) {
    Instant end = l.end;
    if (l.state == "terminated" && l.terminated_at) end = std::min(end, *l.terminated_at);
    if (end > now && end > l.start) {
      leases.push_back({LeaseId(l.id), OrgId(l.org), PoolId(l.pool), l.gpus, l.start, end,
                        Money(l.price_micros, Currency())});
    }
  }
  state.set_leases(std::move(leases));
  std::map<std::string, std::uint32_t> pools;
  for (std::uint32_t p = 0; p < catalog.pools().size(); ++p) {
    pools.emplace(catalog.pools()[p].id.str(), p);
  }
  if (auto retired = world.entities.find("pool"); retired != world.entities.end()) {
    for (const auto& [id, record] : retired->second) {
      auto p = pools.find(id);
      if (record.retired_at && p != pools.end()) state.set_all_free(p->second, 0);
    }
  }
  for (const auto& [id, e] : world.jobs) {
    if (e.state == JobState::kQueued) {
      state.pending.push_back({&e.job, e.job.work});
      continue;
    }
    if (!placed_state(e.state) || !e.pool) continue;
    auto p = pools.find(*e.pool);
    if (p == pools.end()) continue;
    sched::Allocation a = held(state.pools()[p->second], p->second, e);
    state.allocate(e.job.org, a);
    sched::RunningJob running{&e.job,
                              std::move(a),
                              placed_at(e, "started_at", now),
                              placed_at(e, "expected_end", Instant::max()),
                              e.must_leave_by,
                              e.job.work};
    running.leaving = e.state == JobState::kCheckpointing;
    state.add_running(std::move(running));
  }
  return state;
}

std::string ruleset_impact_json(const World& world, const policy::Engine& proposed, Instant from,
                                Instant now) {
  const sched::ClusterState state = fleet_state(world, now);
  const sched::Impact impact =
      sched::rule_change_impact(state, *world.policy->engine, proposed, std::max(from, now));
  json out = {{"now", to_iso8601(now)},
              {"from", to_iso8601(impact.from)},
              {"in_force", {{"packs", world.policy->engine->packs()}}},
              {"proposed", {{"packs", proposed.packs()}}},
              {"leases", rows(impact.leases, lease_row)},
              {"running", rows(impact.running, running_row)},
              {"queued", rows(impact.queued, queued_row)},
              {"datasets", rows(impact.datasets, dataset_row)},
              {"orgs", rows(impact.orgs, org_row)},
              {"weeks", rows(impact.weeks, week_row)}};
  return out.dump();
}

std::string native_workload_jsonl(const World& world, Instant from, Instant to) {
  std::vector<const sched::Job*> jobs;
  for (const auto& [id, e] : world.jobs) {
    if (e.job.submit >= from && e.job.submit < to && e.job.work > 0) jobs.push_back(&e.job);
  }
  std::sort(jobs.begin(), jobs.end(), [](const sched::Job* a, const sched::Job* b) {
    return std::tie(a->submit, a->id) < std::tie(b->submit, b->id);
  });
  std::string out;
  for (const sched::Job* j : jobs) {
    json row = {{"id", j->id.str()},
                {"submit", to_iso8601(j->submit)},
                {"org", j->org.str()},
                {"team", j->team.empty() ? std::string("default") : j->team},
                {"gpus", j->gpus},
                {"work", j->work},
                {"priority", j->priority},
                {"checkpoint_interval", to_iso8601(j->checkpoint_interval)},
                {"checkpoint_gb", j->checkpoint_gb},
                {"purpose", j->purpose.empty() ? std::string("training") : j->purpose}};
    if (!j->eligible_chips.empty()) row["chips"] = ids_json(j->eligible_chips);
    if (!j->datasets.empty()) row["datasets"] = ids_json(j->datasets);
    if (!j->model.empty()) row["model"] = j->model;
    if (j->deadline) row["deadline"] = to_iso8601(*j->deadline);
    const auto& prefs = j->preferences;
    if (!prefs.site_order.empty()) row["site_order"] = ids_json(prefs.site_order);
    if (!prefs.allow_sites.empty()) row["allow_sites"] = ids_json(prefs.allow_sites);
    if (!prefs.deny_sites.empty()) row["deny_sites"] = ids_json(prefs.deny_sites);
    if (prefs.max_price_per_gpu_hour) row["max_price"] = to_string(*prefs.max_price_per_gpu_hour);
    out += row.dump();
    out += '\n';
  }
  return out;
}

std::map<std::string, std::string> catalog_files(const World& world) {
  std::map<std::string, std::string> files(world.base_texts.begin(), world.base_texts.end());
  for (const EntityKind& k : kEntityKinds) {
    auto it = world.entities.find(k.kind);
    json list = json::array();
    if (it != world.entities.end()) {
      for (const auto& [id, record] : it->second) {
        list.push_back(json::parse(record.body_json, nullptr, false));
      }
    }
    // JSON is YAML: the catalog loader reads these as it reads the shipped files.
    files[k.file] = json{{k.plural, std::move(list)}}.dump(2) + "\n";
  }
  return files;
}

const store::RulesetRecord* ruleset_in_force(const World& world, Instant now) {
  const std::string hash = world.policy->ruleset_at(now);
  for (const auto& [_, r] : world.rulesets) {
    if (r.state == "adopted" && r.hash == hash) return &r;
  }
  return nullptr;
}

RulesetContent stored_content(const store::RulesetRecord& set) {
  auto content = parse_packs_json(set.packs_json);
  if (!content) fail(500, "internal", "rule set " + set.id + ": " + content.error().message());
  return std::move(content).value();
}

}  // namespace straits::api::internal
