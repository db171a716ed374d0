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
    std::string state;
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
    if (e.record.state == "queued") {
      s.queued.push_back(e.job);
    } else if (placed_state(e.record.state) && e.pool) {
      auto index = pool_index(catalog, *e.pool);
      if (!index) continue;
      json placement = json::parse(e.record.placement_json, nullptr, false);
      if (placement.is_discarded()) placement = json::object();
      s.placed.push_back(
          {e.job, e.record.state, *index, e.nodes, placement_instant(placement, "started_at", now),
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
};

}  // namespace

SchedulingLoop::SchedulingLoop(World& world, Writer& writer, const Clock& clock, Metrics& metrics,
                               const ServerOptions& options)
    : world_(world), writer_(writer), clock_(clock), metrics_(metrics), options_(options) {}

SchedulingLoop::~SchedulingLoop() {
  stop();
}

Result<Server::PassSummary> SchedulingLoop::pass() {
  std::lock_guard pass_lock(pass_mutex_);
  const auto wall_start = std::chrono::steady_clock::now();
  const Instant now = clock_.now();
  Snapshot snap = take_snapshot(world_, now);
  auto lap = [last = std::chrono::steady_clock::now()]() mutable {
    const auto at = std::chrono::steady_clock::now();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(at - last).count();
    last = at;
    return Duration::microseconds(us);
  };
  const Duration snapshot_took =
      Duration::microseconds(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - wall_start)
                                 .count());
  (void)lap();
  const Policy& p = *snap.policy;
  if (scheduler_policy_ != snap.policy) {
    sched::SchedulerOptions options;
    options.max_jobs_per_pass = options_.max_jobs_per_pass;
    options.share_window_by_org = true;  // one org's flood cannot starve the others
    scheduler_ = std::make_unique<sched::Scheduler>(p.catalog, *p.engine, *p.throughput, options);
    scheduler_policy_ = snap.policy;
  }

  sched::ClusterState state = sched::ClusterState::empty_fleet(p.catalog);
  state.set_leases(snap.leases);
  for (std::uint32_t i = 0; i < state.pools().size(); ++i) {
    if (snap.retired_pools.count(state.pools()[i].pool->id.str())) state.set_all_free(i, 0);
  }
  // Jobs in place hold their GPUs; a checkpointing one is leaving.
  std::vector<Cut> cuts;
  std::map<std::pair<std::string, std::uint32_t>, std::vector<const Snapshot::Placed*>> by_org_pool;
  for (const Snapshot::Placed& placed : snap.placed) {
    std::string misfit;
    sched::Allocation allocation =
        fitted(state.pools()[placed.pool], placed.pool, placed.nodes, misfit);
    if (!misfit.empty() && placed.state != "checkpointing") {
      const std::string pool = state.pools()[placed.pool].pool->id.str();
      cuts.push_back({placed.job.id.str(), now + scheduler_->checkpoint_time(placed.job),
                      "its placement no longer fits pool " + pool + ": " + misfit, false});
      if (options_.log) {
        options_.log(json{{"level", "warning"},
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
    running.leaving = placed.state == "checkpointing";
    state.add_running(std::move(running));
    by_org_pool[{placed.job.org.str(), placed.pool}].push_back(&placed);
  }
  // Capacity an org holds on a pool now: its own pool, or its leases.
  for (auto& [key, jobs] : by_org_pool) {
    const catalog::Pool& pool = p.catalog.pools()[key.second];
    // Owned by the org or by a group it belongs to (as the scheduler sees
    // it): no lease needed.
    if (pool.owner) {
      bool owned = false;
      for (const catalog::Org* o : p.catalog.ownership_chain(OrgId(key.first))) {
        owned |= o->id == *pool.owner;
      }
      if (owned) continue;
    }
    std::int32_t leased = 0;
    for (const sched::Lease& l : snap.leases) {
      if (l.org.str() == key.first && l.pool == pool.id && l.start <= now && now < l.end) {
        leased += l.gpus;
      }
    }
    std::int32_t used = 0;
    for (const auto* j : jobs) used += j->job.gpus;
    // Over what its leases give: the latest started leave first.
    std::sort(jobs.begin(), jobs.end(),
              [](const auto* a, const auto* b) { return a->started > b->started; });
    for (const auto* j : jobs) {
      if (used <= leased) break;
      const std::string id = j->job.id.str();
      if (j->state == "checkpointing" ||
          std::any_of(cuts.begin(), cuts.end(), [&](const Cut& c) { return c.job == id; })) {
        used -= j->job.gpus;
        continue;
      }
      cuts.push_back({j->job.id.str(), now + scheduler_->checkpoint_time(j->job),
                      "the lease of org " + key.first + " on pool " + pool.id.str() + " ended",
                      false});
      used -= j->job.gpus;
    }
  }
  // Windows closing as the scheduler foresaw (lease ends, rule changes), and
  // runs a new rule forbids now.
  for (const Snapshot::Placed& placed : snap.placed) {
    const std::string id = placed.job.id.str();
    if (std::any_of(cuts.begin(), cuts.end(), [&](const Cut& c) { return c.job == id; })) continue;
    const Duration checkpoint = scheduler_->checkpoint_time(placed.job);
    if (placed.must_leave_by != Instant::max() && placed.must_leave_by <= now) {
      cuts.push_back({id, placed.must_leave_by, "", true});
      continue;
    }
    if (placed.state == "checkpointing") continue;
    if (placed.must_leave_by != Instant::max() && placed.must_leave_by - checkpoint <= now) {
      cuts.push_back({id, placed.must_leave_by, "", false});
      continue;
    }
    const catalog::Pool& pool = p.catalog.pools()[placed.pool];
    policy::JobSpec spec{placed.job.gpus, 0, placed.job.purpose, placed.job.datasets};
    auto run = p.engine->decide(policy::RunRequest{placed.job.org, pool.id, spec}, now);
    if (run && run->outcome != policy::Outcome::kAllow) {
      std::string rule = run->rules.empty() ? "" : " (rule " + run->rules.front().id.str() + ")";
      cuts.push_back({id, now + checkpoint, "the policy no longer allows the run" + rule, false});
    }
  }

  for (const sched::Job& job : snap.queued) state.pending.push_back({&job, job.work});
  sched::Plan plan = scheduler_->plan(state, now, /*explain=*/true);

  struct Placement {
    std::string job;
    std::string placement_json, decision_json;
    std::string pool;
    std::vector<std::pair<std::int32_t, std::int32_t>> nodes;
    Instant must_leave_by;
    std::string cut_reason;
  };
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
    placements.push_back({job.id.str(), placement.dump(),
                          decided ? policy::decision_json(*decided).dump() : "", pool.id.str(),
                          start.allocation.nodes, start.must_leave_by, start.cut_reason});
  }
  std::map<std::string, std::pair<std::string, std::string>> waiting;
  for (const sched::Waiting& w : plan.waiting) {
    waiting[state.pending[w.pending_index].job->id.str()] = {w.reason, w.rule.str()};
  }

  Server::PassSummary summary;
  summary.snapshot = snapshot_took;
  summary.plan = lap();
  Instant next_due = Instant::max();
  bool replan = false;
  writer_.run([&](World& world, store::Batch& batch) {
    const bool stale = world.policy != snap.policy || world.lease_revision != snap.lease_revision;
    auto add_event = [&](JobEntry& e, const std::string& kind, const std::string& message,
                         const std::string& data) {
      e.events.push_back(
          {e.record.id, static_cast<std::int64_t>(e.events.size()) + 1, now, kind, message, data});
      batch.job_events.push_back(e.events.back());
    };
    // Agents not heard from: their jobs go back to the queue.
    if (mark_lost_agents(world, batch, now, options_) > 0) replan = true;
    for (const Cut& cut : stale ? std::vector<Cut>{} : cuts) {
      auto it = world.jobs.find(cut.job);
      if (it == world.jobs.end() || !placed_state(it->second.record.state)) continue;
      JobEntry& e = it->second;
      const std::string before = e.record.state;
      const std::string reason = cut.reason.empty() ? e.cut_reason : cut.reason;
      if (cut.now_move && run_active(e)) {
        // Its window closed with the run still going: the agent stops it by
        // then on its own; tell it too, and give it stop_grace to say so
        // before the job is queued anyway (never two runs at once).
        if (now < e.must_leave_by + options_.agent_stop_grace) {
          if (e.run.value("stop", "").empty()) {
            e.run["stop"] = "stop";
            e.run["stop_reason"] =
                "its window closed at " + to_iso8601(e.must_leave_by) + ": " + reason;
            add_event(e, "stop", "stop requested: " + e.run["stop_reason"].get<std::string>(), "");
            save_job(world, e, batch, now);
          }
          next_due = std::min(next_due, e.must_leave_by + options_.agent_stop_grace);
          continue;
        }
        e.run["active"] = false;
      }
      if (cut.now_move) {
        add_event(e, "moved", "checkpointed and left pool " + e.pool.value_or("") + ": " + reason,
                  json{{"pool", e.pool.value_or("")}, {"reason", reason}}.dump());
        e.record.state = "queued";
        e.record.placement_json.clear();
        e.pool.reset();
        e.nodes.clear();
        e.must_leave_by = Instant::max();
        ++summary.moved;
      } else {
        e.record.state = "checkpointing";
        e.must_leave_by = cut.must_leave_by;
        e.cut_reason = reason;
        json placement = json::parse(e.record.placement_json, nullptr, false);
        if (placement.is_object()) {
          placement["must_leave_by"] = to_iso8601(cut.must_leave_by);
          placement["cut_reason"] = reason;
          e.record.placement_json = placement.dump();
        }
        add_event(
            e, "checkpoint",
            "checkpoint requested, to leave by " + to_iso8601(cut.must_leave_by) + ": " + reason,
            "");
        next_due = std::min(next_due, cut.must_leave_by);
        ++summary.checkpointing;
      }
      e.record.updated_at = now;
      batch.jobs.push_back(e.record);
      batch.audit.push_back({now, "system", cut.now_move ? "job.move" : "job.checkpoint",
                             "jobs/" + e.record.id, json{{"state", before}}.dump(),
                             json{{"state", e.record.state}, {"reason", reason}}.dump(), ""});
      world.render(e);
    }
    for (const Placement& pl : stale ? std::vector<Placement>{} : placements) {
      auto it = world.jobs.find(pl.job);
      if (it == world.jobs.end() || it->second.record.state != "queued") continue;
      JobEntry& e = it->second;
      e.record.state = "assigned";
      begin_attempt(e);
      e.record.run_json = e.run.dump();
      e.record.placement_json = pl.placement_json;
      e.record.decision_json = pl.decision_json;
      e.record.updated_at = now;
      e.pool = pl.pool;
      e.nodes = pl.nodes;
      e.must_leave_by = pl.must_leave_by;
      e.cut_reason = pl.cut_reason;
      e.waiting_reason.clear();
      e.waiting_rule.clear();
      add_event(e, "placed", "placed on pool " + pl.pool, pl.placement_json);
      batch.jobs.push_back(e.record);
      batch.audit.push_back({now, "system", "job.place", "jobs/" + e.record.id, "",
                             pl.placement_json, pl.decision_json});
      if (pl.must_leave_by != Instant::max()) {
        next_due = std::min(next_due, pl.must_leave_by - scheduler_->checkpoint_time(e.job));
      }
      world.render(e);
      ++summary.started;
    }
    for (auto& [id, why] : waiting) {
      auto it = world.jobs.find(id);
      if (it == world.jobs.end() || it->second.record.state != "queued") continue;
      JobEntry& e = it->second;
      if (e.waiting_reason == why.first && e.waiting_rule == why.second) continue;
      e.waiting_reason = why.first;
      e.waiting_rule = why.second;
    }
    // The earliest checkpoint or move still ahead; and the queued jobs of
    // each org counted again (jobs placed and queued again above).
    world.queued_by_org.clear();
    for (const auto& [id, e] : world.jobs) {
      if (e.record.state == "queued") ++world.queued_by_org[e.record.org];
      if (!placed_state(e.record.state) || e.must_leave_by == Instant::max()) continue;
      next_due = std::min(next_due, e.record.state == "checkpointing"
                                        ? e.must_leave_by
                                        : e.must_leave_by - scheduler_->checkpoint_time(e.job));
    }
    replan = replan || stale;
    return Reply{200, ""};
  });
  // Plan again on the new state; moved jobs are queued again and want a place.
  if (replan || summary.moved > 0) wake();
  summary.apply = lap();
  summary.waiting = plan.waiting.size();
  {
    std::lock_guard lock(mutex_);
    next_due_ = next_due;
  }
  summary.took = Duration::microseconds(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::steady_clock::now() - wall_start)
                                            .count());
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
