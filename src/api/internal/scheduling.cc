#include "api/internal/scheduling.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "api/internal/runs.h"
#include "policy/decision_json.h"

namespace straits::api::internal {
namespace {

// What a pass works on, copied under the shared lock.
struct Snapshot {
  std::shared_ptr<const Policy> policy;
  std::uint64_t lease_revision = 0;
  std::vector<sched::Job> queued;  // by job id (submission order)
  struct Placed {
    sched::Job job;
    JobState state = JobState::kAssigned;
    std::uint32_t pool = 0;
    std::vector<std::pair<std::int32_t, std::int32_t>> nodes;
    Instant started, expected_end, must_leave_by;
  };
  std::vector<Placed> placed;
  std::vector<sched::Lease> leases;
  std::set<std::string> retired_pools;
};

std::optional<std::uint32_t> pool_index(const catalog::Catalog& catalog, const std::string& id) {
  const auto& pools = catalog.pools();
  for (std::uint32_t i = 0; i < pools.size(); ++i) {
    if (pools[i].id.str() == id) return i;
  }
  return std::nullopt;
}

Instant placement_instant(const json& placement, const char* key, Instant fallback) {
  auto it = placement.find(key);
  if (it == placement.end() || !it->is_string()) return fallback;
  auto t = parse_instant(it->get<std::string>());
  return t ? *t : fallback;
}

Snapshot take_snapshot(const World& world, Instant now) {
  std::shared_lock lock(world.mutex);
  Snapshot s;
  s.policy = world.policy;
  s.lease_revision = world.lease_revision;
  const catalog::Catalog& catalog = s.policy->catalog;
  for (const auto& [id, e] : world.jobs) {
    if (e.state == JobState::kQueued) {
      s.queued.push_back(e.job);
    } else if (placed_state(e.state) && e.pool) {
      auto index = pool_index(catalog, *e.pool);
      if (!index) continue;
      json placement = json::parse(e.record.placement_json, nullptr, false);
      if (placement.is_discarded()) placement = json::object();
      s.placed.push_back(
          {e.job, e.state, *index, e.nodes, placement_instant(placement, "started_at", now),
           placement_instant(placement, "expected_end", Instant::max()), e.must_leave_by});
    }
  }
  for (const auto& [id, l] : world.leases) {
    const Instant end =
        l.state == "terminated" && l.terminated_at ? std::min(l.end, *l.terminated_at) : l.end;
    if (end <= now || end <= l.start) continue;
    s.leases.push_back({LeaseId(l.id), OrgId(l.org), PoolId(l.pool), l.gpus, l.start, end,
                        Money(l.price_micros, Currency())});
  }
  auto pools = world.entities.find("pool");
  if (pools != world.entities.end()) {
    for (const auto& [id, record] : pools->second) {
      if (record.retired_at) s.retired_pools.insert(id);
    }
  }
  return s;
}

// The part of a placement that the pool holds as it is now: the nodes that
// exist, at most their free GPUs. A store edited behind the server's back (or
// written before edits were checked against placements) may place a job on
// nodes a pool no longer has: such a job keeps what exists and is cut, and
// nothing indexes past the pool. `problem` says what did not fit ("" when all
// did).
sched::Allocation fitted(const sched::PoolState& pool, std::uint32_t index,
                         const std::vector<std::pair<std::int32_t, std::int32_t>>& nodes,
                         std::string& problem) {
  sched::Allocation allocation{index, {}};
  std::map<std::int32_t, std::int32_t> taken;  // by node, a node listed twice included
  auto note = [&problem](const std::string& text) {
    problem += (problem.empty() ? "" : "; ") + text;
  };
  std::string missing;  // "1, 2, 3": one note for them all
  for (const auto& [node, gpus] : nodes) {
    if (node < 0 || static_cast<std::size_t>(node) >= pool.free().size()) {
      missing += (missing.empty() ? "" : ", ") + std::to_string(node);
      continue;
    }
    if (gpus <= 0) continue;
    const std::int32_t room = pool.free()[static_cast<std::size_t>(node)] - taken[node];
    const std::int32_t take = std::min(gpus, std::max(room, 0));
    if (take < gpus) {
      note("node " + std::to_string(node) + " has " + std::to_string(std::max(room, 0)) +
           " GPUs left for the job's " + std::to_string(gpus));
    }
    if (take <= 0) continue;
    taken[node] += take;
    allocation.nodes.emplace_back(node, take);
  }
  if (!missing.empty()) {
    note("nodes " + missing + " do not exist (the pool has " + std::to_string(pool.free().size()) +
         ")");
  }
  std::sort(allocation.nodes.begin(), allocation.nodes.end());
  return allocation;
}

struct Cut {
  std::string job;
  Instant must_leave_by;
  std::string reason;
  bool now_move = false;  // must_leave_by has passed: queue it again
  // Foreseen only: a rule change ahead (a dated rule, a rule set adopted for
  // a later instant) ends its window; it runs on, to leave by must_leave_by.
  bool foresee = false;
};

bool is_cut(const std::vector<Cut>& cuts, const std::string& job) {
  return std::any_of(cuts.begin(), cuts.end(), [&](const Cut& c) { return c.job == job; });
}

// A start of the plan, as the writer applies it (prepared outside the lock).
struct Placement {
  std::string job;
  std::string placement_json, decision_json;
  std::string pool;
  std::vector<std::pair<std::int32_t, std::int32_t>> nodes;
  Instant must_leave_by;
  std::string cut_reason;
};

// The placed jobs of each (org, pool), for the capacity they hold there.
using ByOrgPool =
    std::map<std::pair<std::string, std::uint32_t>, std::vector<const Snapshot::Placed*>>;

// The fleet as it is: leases, retired pools emptied, the jobs in place
// holding their GPUs (a checkpointing one is leaving). A placement off its
// pool's nodes is cut.
sched::ClusterState fleet_now(const Snapshot& snap, const sched::Scheduler& scheduler, Instant now,
                              const ServerOptions& options, std::vector<Cut>& cuts,
                              ByOrgPool& by_org_pool) {
  const Policy& p = *snap.policy;
  sched::ClusterState state = sched::ClusterState::empty_fleet(p.catalog);
  state.set_leases(snap.leases);
  for (std::uint32_t i = 0; i < state.pools().size(); ++i) {
    if (snap.retired_pools.count(state.pools()[i].pool->id.str())) state.set_all_free(i, 0);
  }
  for (const Snapshot::Placed& placed : snap.placed) {
    std::string misfit;
    sched::Allocation allocation =
        fitted(state.pools()[placed.pool], placed.pool, placed.nodes, misfit);
    if (!misfit.empty() && placed.state != JobState::kCheckpointing) {
      const std::string pool = state.pools()[placed.pool].pool->id.str();
      cuts.push_back({placed.job.id.str(), now + scheduler.checkpoint_time(placed.job),
                      "its placement no longer fits pool " + pool + ": " + misfit, false});
      if (options.log) {
        options.log(json{{"level", "warning"},
                         {"msg", "placement off the pool's nodes"},
                         {"job", placed.job.id.str()},
                         {"pool", pool},
                         {"problem", misfit},
                         {"ts", to_iso8601(now)}}
                        .dump());
      }
    }
    state.allocate(placed.job.org, allocation);
    sched::RunningJob running{&placed.job,         allocation,           placed.started,
                              placed.expected_end, placed.must_leave_by, placed.job.work};
    running.leaving = placed.state == JobState::kCheckpointing;
    state.add_running(std::move(running));
    by_org_pool[{placed.job.org.str(), placed.pool}].push_back(&placed);
  }
  return state;
}

// Whether the org, or a group it belongs to (as the scheduler sees it),
// owns the pool: no lease needed there.
bool owns(const catalog::Catalog& catalog, const std::string& org, const catalog::Pool& pool) {
  if (!pool.owner) return false;
  bool owned = false;
  for (const catalog::Org* o : catalog.ownership_chain(OrgId(org))) owned |= o->id == *pool.owner;
  return owned;
}

// Jobs over the capacity their org holds on a pool now (its own pool, or its
// leases) are cut: the latest started leave first.
void cut_over_leases(const Snapshot& snap, const sched::Scheduler& scheduler, Instant now,
                     ByOrgPool& by_org_pool, std::vector<Cut>& cuts) {
  const catalog::Catalog& catalog = snap.policy->catalog;
  for (auto& [key, jobs] : by_org_pool) {
    const catalog::Pool& pool = catalog.pools()[key.second];
    if (owns(catalog, key.first, pool)) continue;
    std::int32_t leased = 0;
    for (const sched::Lease& l : snap.leases) {
      if (l.org.str() == key.first && l.pool == pool.id && l.start <= now && now < l.end) {
        leased += l.gpus;
      }
    }
    std::int32_t used = 0;
    for (const auto* j : jobs) used += j->job.gpus;
    std::sort(jobs.begin(), jobs.end(),
              [](const auto* a, const auto* b) { return a->started > b->started; });
    for (const auto* j : jobs) {
      if (used <= leased) break;
      const std::string id = j->job.id.str();
      if (j->state != JobState::kCheckpointing && !is_cut(cuts, id)) {
        cuts.push_back({id, now + scheduler.checkpoint_time(j->job),
                        "the lease of org " + key.first + " on pool " + pool.id.str() + " ended",
                        false});
      }
      used -= j->job.gpus;
    }
  }
}

// Windows closing as the scheduler foresaw (lease ends, rule changes), and
// runs a new rule forbids now.
void cut_closing_windows(const Snapshot& snap, const sched::Scheduler& scheduler, Instant now,
                         std::vector<Cut>& cuts) {
  const Policy& p = *snap.policy;
  for (const Snapshot::Placed& placed : snap.placed) {
    const std::string id = placed.job.id.str();
    if (is_cut(cuts, id)) continue;
    const Duration checkpoint = scheduler.checkpoint_time(placed.job);
    if (placed.must_leave_by != Instant::max() && placed.must_leave_by <= now) {
      cuts.push_back({id, placed.must_leave_by, "", true});
      continue;
    }
    if (placed.state == JobState::kCheckpointing) continue;
    if (placed.must_leave_by != Instant::max() && placed.must_leave_by - checkpoint <= now) {
      cuts.push_back({id, placed.must_leave_by, "", false});
      continue;
    }
    const catalog::Pool& pool = p.catalog.pools()[placed.pool];
    policy::JobSpec spec{placed.job.gpus, 0, placed.job.purpose, placed.job.datasets};
    auto subject = p.engine->resolve(policy::RunRequest{placed.job.org, pool.id, spec});
    if (!subject) continue;
    auto first_rule = [&](Instant at) {
      const policy::Decision run = p.engine->explain(*subject, at);
      return run.rules.empty() ? std::string() : " (rule " + run.rules.front().id.str() + ")";
    };
    if (p.engine->evaluate(*subject, now) != policy::Outcome::kAllow) {
      cuts.push_back(
          {id, now + checkpoint, "the policy no longer allows the run" + first_rule(now), false});
      continue;
    }
    // Foresight over the rules in force now: the first change ahead, before
    // the job would leave anyway, at which its run stops being allowed.
    const Instant horizon = std::min(placed.must_leave_by, placed.expected_end);
    for (Instant t = p.engine->next_change_after(*subject, now); t < horizon;
         t = p.engine->next_change_after(*subject, t)) {
      if (p.engine->evaluate(*subject, t) == policy::Outcome::kAllow) continue;
      const std::string why =
          "the rules from " + to_iso8601(t) + " no longer allow the run" + first_rule(t);
      cuts.push_back({id, t, why, false, t - checkpoint > now});
      break;
    }
  }
}

// The plan's starts as records: the placement and the decision, rendered.
std::vector<Placement> placements_of(const sched::Plan& plan, const sched::ClusterState& state,
                                     const Policy& p, Instant now) {
  std::vector<Placement> placements;
  for (const sched::Start& start : plan.starts) {
    const sched::Job& job = *state.pending[start.pending_index].job;
    const catalog::Pool& pool = p.catalog.pools()[start.allocation.pool];
    policy::JobSpec spec{job.gpus, 0, job.purpose, job.datasets};
    auto decided = p.engine->decide(policy::RunRequest{job.org, pool.id, spec}, now);
    json nodes = json::array();
    for (const auto& [node, gpus] : start.allocation.nodes) {
      nodes.push_back({{"node", node}, {"gpus", gpus}});
    }
    json placement = {
        {"pool", pool.id.str()},         {"site", pool.site.str()},
        {"chip", pool.chip.str()},       {"nodes", nodes},
        {"started_at", to_iso8601(now)}, {"expected_end", to_iso8601(start.expected_end)}};
    placement["must_leave_by"] = start.must_leave_by == Instant::max()
                                     ? json(nullptr)
                                     : json(to_iso8601(start.must_leave_by));
    placement["cut_reason"] = start.cut_reason.empty() ? json(nullptr) : json(start.cut_reason);
    // The rule set it was placed under (issue 17).
    if (const std::string& ruleset = p.ruleset_at(now); !ruleset.empty()) {
      placement["ruleset"] = ruleset;
    }
    placements.push_back({job.id.str(), placement.dump(),
                          decided ? policy::decision_json(*decided).dump() : "", pool.id.str(),
                          start.allocation.nodes, start.must_leave_by, start.cut_reason});
  }
  return placements;
}

// What a pass decided, applied by the writer (world locked exclusively).
struct Applying {
  World& world;
  store::Batch& batch;
  Instant now;
  const ServerOptions& options;
  const sched::Scheduler& scheduler;
  Server::PassSummary& summary;
  Instant& next_due;  // lowered to each checkpoint or move ahead
};

// A window that closes ahead: the running job's placement says by when it
// must leave, and the loop wakes to checkpoint it in time (as it does for a
// lease's end).
void foresee_window(Applying& a, JobEntry& e, const Cut& cut) {
  if (e.state == JobState::kCheckpointing || cut.must_leave_by >= e.must_leave_by) return;
  e.must_leave_by = cut.must_leave_by;
  e.cut_reason = cut.reason;
  json placement = json::parse(e.record.placement_json, nullptr, false);
  if (placement.is_object()) {
    placement["must_leave_by"] = to_iso8601(cut.must_leave_by);
    placement["cut_reason"] = cut.reason;
    e.record.placement_json = placement.dump();
  }
  add_job_event(e, a.batch, a.now, "window",
                "must leave by " + to_iso8601(cut.must_leave_by) + ": " + cut.reason,
                e.record.placement_json);
  save_job(a.world, e, a.batch, a.now);
  a.batch.audit.push_back(
      job_audit(a.now, "system", "job.window", e.record.id, e.state,
                json{{"must_leave_by", to_iso8601(cut.must_leave_by)}, {"reason", cut.reason}}));
  a.next_due = std::min(a.next_due, cut.must_leave_by - a.scheduler.checkpoint_time(e.job));
}

// A cut: asks the job to checkpoint by must_leave_by, or queues it again
// once that has passed.
void apply_cut(Applying& a, const Cut& cut) {
  auto it = a.world.jobs.find(cut.job);
  if (it == a.world.jobs.end() || !placed_state(it->second.state)) return;
  JobEntry& e = it->second;
  if (cut.foresee) {
    foresee_window(a, e, cut);
    return;
  }
  const Instant now = a.now;
  const JobState before = e.state;
  const std::string reason = cut.reason.empty() ? e.cut_reason : cut.reason;
  if (cut.now_move && run_active(e)) {
    // Its window closed with the run still going: the agent stops it by
    // then on its own; tell it too, and give it stop_grace to say so
    // before the job is queued anyway (never two runs at once).
    const Instant grace_end = e.must_leave_by + a.options.agent_stop_grace;
    if (now < grace_end) {
      if (e.run->stop.empty()) {
        e.run->stop = "stop";
        e.run->stop_reason = "its window closed at " + to_iso8601(e.must_leave_by) + ": " + reason;
        add_job_event(e, a.batch, now, "stop", "stop requested: " + e.run->stop_reason, "");
        save_job(a.world, e, a.batch, now);
      }
      a.next_due = std::min(a.next_due, grace_end);
      return;
    }
    e.run->active = false;
  }
  if (cut.now_move) {
    add_job_event(e, a.batch, now, "moved",
                  "checkpointed and left pool " + e.pool.value_or("") + ": " + reason,
                  json{{"pool", e.pool.value_or("")},
                       {"reason", reason},
                       {"ruleset", a.world.policy->ruleset_at(now)}}
                      .dump());
    e.state = JobState::kQueued;
    e.record.placement_json.clear();
    e.pool.reset();
    e.nodes.clear();
    e.must_leave_by = Instant::max();
    ++a.summary.moved;
  } else {
    e.state = JobState::kCheckpointing;
    e.must_leave_by = cut.must_leave_by;
    e.cut_reason = reason;
    json placement = json::parse(e.record.placement_json, nullptr, false);
    if (placement.is_object()) {
      placement["must_leave_by"] = to_iso8601(cut.must_leave_by);
      placement["cut_reason"] = reason;
      e.record.placement_json = placement.dump();
    }
    add_job_event(
        e, a.batch, now, "checkpoint",
        "checkpoint requested, to leave by " + to_iso8601(cut.must_leave_by) + ": " + reason, "");
    a.next_due = std::min(a.next_due, cut.must_leave_by);
    ++a.summary.checkpointing;
  }
  // The run is saved too: a run whose window closed was marked ended above,
  // and memory must not run ahead of the store (after a restart the job
  // would come back with a run still active).
  save_job(a.world, e, a.batch, now);
  a.batch.audit.push_back(job_audit(now, "system", cut.now_move ? "job.move" : "job.checkpoint",
                                    e.record.id, before,
                                    json{{"state", to_string(e.state)}, {"reason", reason}}));
}

// A start: the job is assigned, its next attempt begins.
void apply_placement(Applying& a, const Placement& pl) {
  auto it = a.world.jobs.find(pl.job);
  if (it == a.world.jobs.end() || it->second.state != JobState::kQueued) return;
  JobEntry& e = it->second;
  e.state = JobState::kAssigned;
  begin_attempt(e);
  e.record.placement_json = pl.placement_json;
  e.record.decision_json = pl.decision_json;
  e.pool = pl.pool;
  e.nodes = pl.nodes;
  e.must_leave_by = pl.must_leave_by;
  e.cut_reason = pl.cut_reason;
  e.waiting_reason.clear();
  e.waiting_rule.clear();
  add_job_event(e, a.batch, a.now, "placed", "placed on pool " + pl.pool, pl.placement_json);
  save_job(a.world, e, a.batch, a.now);
  a.batch.audit.push_back({a.now, "system", "job.place", "jobs/" + e.record.id, "",
                           pl.placement_json, pl.decision_json});
  if (pl.must_leave_by != Instant::max()) {
    a.next_due = std::min(a.next_due, pl.must_leave_by - a.scheduler.checkpoint_time(e.job));
  }
  ++a.summary.started;
}

// The earliest checkpoint or move still ahead; and the queued jobs of each
// org counted again (jobs were placed and queued again without put_job).
void recount(Applying& a) {
  a.world.queued_by_org.clear();
  for (const auto& [id, e] : a.world.jobs) {
    if (e.state == JobState::kQueued) ++a.world.queued_by_org[e.record.org];
    if (!placed_state(e.state) || e.must_leave_by == Instant::max()) continue;
    a.next_due = std::min(a.next_due, e.state == JobState::kCheckpointing
                                          ? e.must_leave_by
                                          : e.must_leave_by - a.scheduler.checkpoint_time(e.job));
  }
}

// What a pass decided, from the snapshot, outside any lock.
struct Decided {
  std::vector<Cut> cuts;
  std::vector<Placement> placements;
  std::map<std::string, std::pair<std::string, std::string>> waiting;  // job -> reason, rule
  std::vector<std::string> queue;  // the queued jobs in the queue policy's order
};

// The queued jobs in the order the queue policy tries them (the sort the
// pass itself uses, before its window): what GET /v1/jobs shows as each
// job's queue_position.
std::vector<std::string> queue_order(const sched::ClusterState& state,
                                     const sched::SchedulerOptions& options) {
  std::vector<std::size_t> order(state.pending.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const sched::QueuePolicyInfo& info = sched::queue_policy_info(options.policy);
  if (info.sort) {
    std::map<OrgId, std::int32_t> org_gpus;
    std::map<std::pair<OrgId, std::string>, std::int32_t> team_gpus;
    if (info.counts_held) {
      for (const sched::RunningJob& r : state.running()) {
        org_gpus[r.job->org] += r.job->gpus;
        team_gpus[{r.job->org, r.job->team}] += r.job->gpus;
      }
    }
    info.sort(sched::QueueSortContext{state, options, org_gpus, team_gpus}, order);
  }
  std::vector<std::string> ids;
  ids.reserve(order.size());
  for (std::size_t i : order) ids.push_back(state.pending[i].job->id.str());
  return ids;
}

// Applies it through the writer, unless the world changed under the plan (a
// policy or a lease): then only lost agents and why jobs wait. Returns
// whether to plan again at once.
bool apply_decided(Writer& writer, const Snapshot& snap, const Decided& d,
                   const sched::Scheduler& scheduler, const ServerOptions& options, Instant now,
                   Server::PassSummary& summary, Instant& next_due) {
  bool replan = false;
  writer.run([&](World& world, store::Batch& batch) {
    const bool stale = world.policy != snap.policy || world.lease_revision != snap.lease_revision;
    Applying a{world, batch, now, options, scheduler, summary, next_due};
    // Agents not heard from: their jobs go back to the queue.
    if (mark_lost_agents(world, batch, now, options) > 0) replan = true;
    if (!stale) {
      for (const Cut& cut : d.cuts) apply_cut(a, cut);
      for (const Placement& pl : d.placements) apply_placement(a, pl);
    }
    for (const auto& [id, why] : d.waiting) {
      auto it = world.jobs.find(id);
      if (it == world.jobs.end() || it->second.state != JobState::kQueued) continue;
      it->second.waiting_reason = why.first;
      it->second.waiting_rule = why.second;
    }
    recount(a);
    world.rank_queue(d.queue);
    replan = replan || stale;
    return Reply{200, ""};
  });
  return replan;
}

Duration since(std::chrono::steady_clock::time_point start) {
  return Duration::microseconds(std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::steady_clock::now() - start)
                                    .count());
}

}  // namespace

SchedulingLoop::SchedulingLoop(World& world, Writer& writer, const Clock& clock, Metrics& metrics,
                               const ServerOptions& options)
    : world_(world), writer_(writer), clock_(clock), metrics_(metrics), options_(options) {}

SchedulingLoop::~SchedulingLoop() {
  stop();
}

void SchedulingLoop::use_policy(const std::shared_ptr<const Policy>& policy) {
  if (scheduler_policy_ == policy) return;
  sched::SchedulerOptions options;
  options.max_jobs_per_pass = options_.max_jobs_per_pass;
  options.share_window_by_org = true;  // one org's flood cannot starve the others
  scheduler_ = std::make_unique<sched::Scheduler>(policy->catalog, *policy->engine,
                                                  *policy->throughput, options);
  scheduler_policy_ = policy;
}

Result<Server::PassSummary> SchedulingLoop::pass() {
  std::lock_guard pass_lock(pass_mutex_);
  const auto wall_start = std::chrono::steady_clock::now();
  const Instant now = clock_.now();
  Server::PassSummary summary;
  Snapshot snap = take_snapshot(world_, now);
  summary.snapshot = since(wall_start);
  const auto plan_start = std::chrono::steady_clock::now();
  use_policy(snap.policy);

  Decided d;
  ByOrgPool by_org_pool;
  sched::ClusterState state = fleet_now(snap, *scheduler_, now, options_, d.cuts, by_org_pool);
  cut_over_leases(snap, *scheduler_, now, by_org_pool, d.cuts);
  cut_closing_windows(snap, *scheduler_, now, d.cuts);
  for (const sched::Job& job : snap.queued) state.pending.push_back({&job, job.work});
  d.queue = queue_order(state, scheduler_->options());
  const sched::Plan plan = scheduler_->plan(state, now, /*explain=*/true);
  d.placements = placements_of(plan, state, *snap.policy, now);
  for (const sched::Waiting& w : plan.waiting) {
    d.waiting[state.pending[w.pending_index].job->id.str()] = {w.reason, w.rule.str()};
  }
  summary.plan = since(plan_start);

  const auto apply_start = std::chrono::steady_clock::now();
  Instant next_due = Instant::max();
  const bool replan =
      apply_decided(writer_, snap, d, *scheduler_, options_, now, summary, next_due);
  // Plan again on the new state; moved jobs are queued again and want a place.
  if (replan || summary.moved > 0) wake();
  summary.apply = since(apply_start);
  summary.waiting = plan.waiting.size();
  {
    std::lock_guard lock(mutex_);
    next_due_ = next_due;
  }
  summary.took = since(wall_start);
  metrics_.record_pass(summary.took, summary.started, summary.waiting);
  return summary;
}

void SchedulingLoop::start(Duration interval, Duration min_gap) {
  thread_ = std::thread([this, interval, min_gap] { loop(interval, min_gap); });
}

void SchedulingLoop::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_one();
}

void SchedulingLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SchedulingLoop::loop(Duration interval, Duration min_gap) {
  const auto to_chrono = [](Duration d) {
    return std::chrono::microseconds(d.count_microseconds());
  };
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      auto deadline = std::chrono::steady_clock::now() + to_chrono(interval);
      if (next_due_ != Instant::max()) {
        const Duration until = next_due_ - clock_.now();
        deadline = std::min(deadline, std::chrono::steady_clock::now() +
                                          to_chrono(std::max(until, Duration::seconds(0))));
      }
      cv_.wait_until(lock, deadline, [&] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    (void)pass();  // a failed pass is retried by the next
    // Changes arriving in a burst share the next pass.
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, to_chrono(min_gap), [&] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace straits::api::internal
