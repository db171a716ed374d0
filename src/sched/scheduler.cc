#include "sched/scheduler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

namespace straits::sched {

std::string_view to_string(QueuePolicy policy) {
  switch (policy) {
    case QueuePolicy::kFifo: return "fifo";
    case QueuePolicy::kEasyBackfill: return "easy-backfill";
    case QueuePolicy::kPriorityFairShare: return "priority-fair-share";
    case QueuePolicy::kLeastAttained: return "least-attained";
    case QueuePolicy::kThroughput: return "throughput";
    case QueuePolicy::kCost: return "cost";
  }
  return "?";
}

std::optional<QueuePolicy> parse_queue_policy(std::string_view text) {
  for (QueuePolicy p :
       {QueuePolicy::kFifo, QueuePolicy::kEasyBackfill, QueuePolicy::kPriorityFairShare,
        QueuePolicy::kLeastAttained, QueuePolicy::kThroughput, QueuePolicy::kCost}) {
    if (text == to_string(p)) return p;
  }
  if (text == "easy") return QueuePolicy::kEasyBackfill;
  return std::nullopt;
}

namespace {

// A policy decision and how long it holds: [from, until).
struct Window {
  Instant from;
  Instant until;
  bool allowed = false;
  std::string reason;      // the rule that denies, when not allowed
  Instant allowed_until;   // when allowed: first instant it stops being allowed
  std::string cut_reason;  // the rule that stops it then
  bool resolved = false;   // the subject resolved (ids known to the catalog)
  std::optional<policy::Subject> subject;
};

std::string describe_denial(const policy::Decision& d) {
  for (const auto& m : d.rules) {
    if (m.effect == policy::EffectKind::kForbid) return "rule " + m.id.str() + " forbids it";
  }
  for (const auto& m : d.rules) {
    if (m.effect == policy::EffectKind::kRequireLicence && !m.lifted_by) {
      return "rule " + m.id.str() + " requires licence " + m.licence_name + ", not held";
    }
  }
  return "denied";
}

// Best fit of a gang on a pool's nodes: whole free nodes for the gang's
// multiple of a node, the rest (and small jobs) on the node with the least
// room that still fits, to keep whole nodes free for big gangs.
std::optional<Allocation> fit(const PoolState& pool, std::int32_t gpus) {
  const std::int32_t per_node = pool.pool->gpus_per_node;
  if (gpus > pool.free_total) return std::nullopt;
  Allocation a;
  a.pool = pool.index;
  std::int32_t whole = gpus / per_node;
  std::int32_t rest = gpus % per_node;
  // Whole nodes are the first free ones; `last_whole` marks where they stop.
  std::size_t last_whole = 0;
  for (std::size_t n = 0; n < pool.free.size() && whole > 0; ++n) {
    if (pool.free[n] == per_node) {
      a.nodes.emplace_back(static_cast<std::int32_t>(n), per_node);
      last_whole = n + 1;
      --whole;
    }
  }
  if (whole > 0) return std::nullopt;
  auto taken = [&](std::size_t n) {
    return n < last_whole && pool.free[n] == per_node &&
           std::find(a.nodes.begin(), a.nodes.end(),
                     std::make_pair(static_cast<std::int32_t>(n), per_node)) != a.nodes.end();
  };
  if (rest > 0) {
    std::int64_t best = -1;
    for (std::size_t n = 0; n < pool.free.size(); ++n) {
      if (pool.free[n] < rest || taken(n)) continue;
      if (best < 0 || pool.free[n] < pool.free[static_cast<std::size_t>(best)]) {
        best = static_cast<std::int64_t>(n);
      }
    }
    if (best < 0) return std::nullopt;
    a.nodes.emplace_back(static_cast<std::int32_t>(best), rest);
  }
  std::sort(a.nodes.begin(), a.nodes.end());
  return a;
}

std::string gpus_text(std::int32_t n) {
  return std::to_string(n) + (n == 1 ? " GPU" : " GPUs");
}

}  // namespace

struct Scheduler::Impl {
  const catalog::Catalog& catalog;
  const policy::Engine& engine;
  const ThroughputModel& throughput;
  SchedulerOptions options;
  // Decisions by (org) and by (job class), one window per pool.
  std::unordered_map<std::string, std::vector<Window>> lease_cache;
  std::unordered_map<std::string, std::vector<Window>> run_cache;

  Impl(const catalog::Catalog& c, const policy::Engine& e, const ThroughputModel& t,
       SchedulerOptions o)
      : catalog(c), engine(e), throughput(t), options(o) {}

  // The decision for a subject at `now`, from the cache while it holds.
  template <typename MakeRequest>
  const Window& decision(Window& w, Instant now, MakeRequest make_request) {
    if (w.resolved && w.from <= now && now < w.until) return w;
    if (!w.subject) {
      auto subject = engine.resolve(make_request());
      if (!subject) {
        w.resolved = true;
        w.allowed = false;
        w.reason = subject.error().message();
        w.from = Instant::min();
        w.until = Instant::max();
        return w;
      }
      w.subject = std::move(subject).value();
    }
    w.resolved = true;
    w.from = now;
    w.until = engine.next_change_after(*w.subject, now);
    w.allowed = engine.evaluate(*w.subject, now) == policy::Outcome::kAllow;
    w.reason.clear();
    w.cut_reason.clear();
    w.allowed_until = Instant::max();
    if (!w.allowed) {
      w.reason = describe_denial(engine.explain(*w.subject, now));
    } else {
      // Walk the changes ahead to the first at which it stops being allowed.
      for (Instant t = w.until; t != Instant::max(); t = engine.next_change_after(*w.subject, t)) {
        if (engine.evaluate(*w.subject, t) != policy::Outcome::kAllow) {
          w.allowed_until = t;
          w.cut_reason = describe_denial(engine.explain(*w.subject, t));
          break;
        }
      }
    }
    return w;
  }

  // Whether the org (or an org above it) owns each pool; the catalog does
  // not change, so this is computed once per org.
  std::unordered_map<std::string, std::vector<char>> owned_pools;

  const std::vector<char>& owned_by(const OrgId& org) {
    auto& owned = owned_pools[org.str()];
    if (owned.empty()) {
      const auto& pools = catalog.pools();
      owned.assign(pools.size(), 0);
      auto chain = catalog.ownership_chain(org);
      for (std::size_t p = 0; p < pools.size(); ++p) {
        if (!pools[p].owner) continue;
        for (const catalog::Org* o : chain) owned[p] |= o->id == *pools[p].owner ? 1 : 0;
      }
    }
    return owned;
  }

  bool owns(const Job& job, const catalog::Pool& pool) {
    return owned_by(job.org)[static_cast<std::size_t>(&pool - catalog.pools().data())] != 0;
  }

  // What an org's leases give it on each pool at one instant.
  struct Entitlement {
    std::int32_t gpus = 0;  // active leases, summed
    Instant end;            // the latest end among them
    const Lease* latest = nullptr;
    std::int32_t future_max = 0;  // the largest lease not yet ended
  };

  // Pool ids to their index in the catalog (and in ClusterState::pools).
  std::unordered_map<std::string, std::uint32_t> pool_index;

  std::vector<Entitlement> entitlements(const ClusterState& state, const OrgId& org, Instant now) {
    if (pool_index.empty()) {
      for (std::uint32_t p = 0; p < catalog.pools().size(); ++p) {
        pool_index.emplace(catalog.pools()[p].id.str(), p);
      }
    }
    std::vector<Entitlement> out(state.pools.size());
    for (const auto& l : state.leases) {
      if (l.org != org) continue;
      auto found = pool_index.find(l.pool.str());
      if (found == pool_index.end()) continue;
      std::uint32_t p = found->second;
      Entitlement& e = out[p];
      if (l.end > now) e.future_max = std::max(e.future_max, l.gpus);
      if (l.start <= now && now < l.end) {
        e.gpus += l.gpus;
        if (e.latest == nullptr || l.end > e.end) {
          e.end = l.end;
          e.latest = &l;
        }
      }
    }
    return out;
  }

  // GPUs the org's active leases give it on a pool, and when the last ends.
  std::pair<std::int32_t, Instant> entitlement(const ClusterState& state, const Job& job,
                                               std::uint32_t pool, Instant now,
                                               std::string* lease_id) const {
    std::int32_t gpus = 0;
    Instant end = now;
    for (const Lease& l : state.leases) {
      if (l.org != job.org || l.pool != state.pools[pool].pool->id) continue;
      if (l.start <= now && now < l.end) {
        gpus += l.gpus;
        if (l.end > end) {
          end = l.end;
          if (lease_id) *lease_id = l.id.str();
        }
      }
    }
    return {gpus, end};
  }

  static std::string run_key(const Job& job) {
    std::string key;
    key.reserve(64);
    key.append(job.org.str()).append("|").append(std::to_string(job.gpus)).append("|");
    key.append(job.purpose);
    for (const auto& d : job.datasets) key.append("|").append(d.str());
    return key;
  }

  std::vector<Window>& windows(std::unordered_map<std::string, std::vector<Window>>& cache,
                               const std::string& key) {
    auto& v = cache[key];
    if (v.empty()) v.resize(catalog.pools().size());
    return v;
  }

  const Window& run_decision(const Job& job, std::vector<Window>& runs, std::uint32_t pool,
                             Instant now) {
    return decision(runs[pool], now, [&] {
      policy::JobSpec spec{job.gpus, 0, job.purpose, job.datasets};
      return policy::Request(policy::RunRequest{job.org, catalog.pools()[pool].id, spec});
    });
  }

  const Window& lease_decision(const Job& job, std::vector<Window>& leases, std::uint32_t pool,
                               Instant now) {
    return decision(leases[pool], now, [&] {
      return policy::Request(policy::LeaseRequest{job.org, catalog.pools()[pool].id, {}, {}, {}});
    });
  }

  const Window& run_decision(const Job& job, std::uint32_t pool, Instant now) {
    return run_decision(job, windows(run_cache, run_key(job)), pool, now);
  }

  const Window& lease_decision(const Job& job, std::uint32_t pool, Instant now) {
    return lease_decision(job, windows(lease_cache, job.org.str()), pool, now);
  }
};

Scheduler::Scheduler(const catalog::Catalog& catalog, const policy::Engine& engine,
                     const ThroughputModel& throughput, SchedulerOptions options)
    : impl_(std::make_unique<Impl>(catalog, engine, throughput, options)), options_(options) {}

Scheduler::~Scheduler() = default;

Duration Scheduler::checkpoint_time(const Job& job) const {
  if (job.checkpoint_gb <= 0 || options_.checkpoint_bandwidth_gbps <= 0) return Duration();
  return Duration::seconds(
      static_cast<std::int64_t>(std::ceil(job.checkpoint_gb / options_.checkpoint_bandwidth_gbps)));
}

std::pair<Instant, std::string> Scheduler::allowed_until(const ClusterState& state, const Job& job,
                                                         std::uint32_t pool, Instant now) {
  Instant until = Instant::max();
  std::string why;
  const catalog::Pool& p = *state.pools[pool].pool;
  if (!impl_->owns(job, p)) {
    std::string lease_id;
    auto [gpus, end] = impl_->entitlement(state, job, pool, now, &lease_id);
    if (gpus > 0) {
      until = end;
      why = "lease " + lease_id + " ends";
    } else {
      return {now, "no active lease"};
    }
    const Window& lease = impl_->lease_decision(job, pool, now);
    if (lease.allowed && lease.allowed_until < until) {
      until = lease.allowed_until;
      why = lease.cut_reason;
    }
  }
  const Window& run = impl_->run_decision(job, pool, now);
  if (run.allowed && run.allowed_until < until) {
    until = run.allowed_until;
    why = run.cut_reason;
  }
  return {until, why};
}

namespace {

struct Candidate {
  std::uint32_t pool = 0;
  Allocation allocation;
  Instant expected_end;
  Instant must_leave_by = Instant::max();
  std::string cut_reason;
  // Score: smaller is better, compared in this order.
  std::size_t site_rank = 0;
  std::int64_t price = 0;
  double neg_speed = 0;
  double cost = 0;  // price x GPUs x run time, for the cost policy
};

}  // namespace

Plan Scheduler::plan(const ClusterState& state, Instant now, bool explain) {
  return plan_subset(state, now, {}, explain);
}

Plan Scheduler::plan_subset(const ClusterState& state, Instant now,
                            const std::vector<std::size_t>& indexes, bool explain) {
  Impl& impl = *impl_;
  Plan plan;
  // Working copies: what this pass has already given out.
  std::vector<PoolState> pools = state.pools;
  // GPUs this pass gives out, by (org, pool), over what `state.usage` says.
  std::map<std::pair<OrgId, std::uint32_t>, std::int32_t> added;

  // The head job's reservation under EASY: (pool, shadow time).
  std::optional<std::pair<std::uint32_t, Instant>> reservation;
  std::unordered_map<std::string, std::vector<Impl::Entitlement>> entitlements;  // by org
  // Running jobs of each pool by the time they end, built when first needed.
  std::vector<std::vector<std::pair<Instant, const RunningJob*>>> ends_by_pool(pools.size());
  std::vector<char> ends_ready(pools.size(), 0);
  bool blocked = false;  // FIFO: a job could not start; the rest wait behind it
  std::string blocked_by;

  // The order jobs are tried in.
  std::vector<std::size_t> order;
  if (indexes.empty()) {
    order.resize(state.pending.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  } else {
    order = indexes;
  }
  std::map<OrgId, std::int32_t> org_gpus;  // held now, across all sites
  std::map<std::pair<OrgId, std::string>, std::int32_t> team_gpus;
  const bool fair_share = options_.policy == QueuePolicy::kPriorityFairShare;
  if (fair_share || !options_.quotas.empty()) {
    for (const RunningJob& r : state.running) {
      org_gpus[r.job->org] += r.job->gpus;
      if (fair_share) team_gpus[{r.job->org, r.job->team}] += r.job->gpus;
    }
  }
  if (options_.policy == QueuePolicy::kPriorityFairShare) {
    auto share = [&](const OrgId& org) {
      auto it = options_.shares.find(org);
      return it == options_.shares.end() ? 1.0 : it->second;
    };
    auto held = [](const auto& map, const auto& key) {
      auto it = map.find(key);
      return it == map.end() ? 0 : it->second;
    };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const Job& x = *state.pending[a].job;
      const Job& y = *state.pending[b].job;
      if (x.priority != y.priority) return x.priority > y.priority;
      double ux = held(org_gpus, x.org) / share(x.org), uy = held(org_gpus, y.org) / share(y.org);
      if (ux != uy) return ux < uy;
      return held(team_gpus, std::make_pair(x.org, x.team)) <
             held(team_gpus, std::make_pair(y.org, y.team));
    });
  } else if (options_.policy == QueuePolicy::kLeastAttained) {
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const PendingJob& x = state.pending[a];
      const PendingJob& y = state.pending[b];
      return x.job->work - x.remaining_work < y.job->work - y.remaining_work;
    });
  }

  std::size_t considered = 0;
  for (std::size_t i : order) {
    const PendingJob& pending = state.pending[i];
    if (options_.max_jobs_per_pass != 0 && ++considered > options_.max_jobs_per_pass) {
      plan.waiting.push_back(
          Waiting{i,
                  explain ? "not reached in this pass (the scheduler considers the first " +
                                std::to_string(options_.max_jobs_per_pass) + " queued jobs)"
                          : std::string(),
                  false});
      continue;
    }
    const Job& job = *pending.job;
    if (blocked && options_.policy == QueuePolicy::kFifo) {
      plan.waiting.push_back(
          Waiting{i, explain ? "waiting behind " + blocked_by + " (FIFO)" : std::string(), false});
      continue;
    }
    if (auto quota = options_.quotas.find(job.org); quota != options_.quotas.end()) {
      auto held = org_gpus.find(job.org);
      std::int32_t now_held = held == org_gpus.end() ? 0 : held->second;
      if (now_held + job.gpus > quota->second) {
        plan.waiting.push_back(Waiting{i,
                                       explain ? "org " + job.org.str() + " holds " +
                                                     gpus_text(now_held) + " of its quota of " +
                                                     std::to_string(quota->second)
                                               : std::string(),
                                       job.gpus > quota->second});
        continue;
      }
    }
    std::vector<Window>& runs = impl.windows(impl.run_cache, Impl::run_key(job));
    const std::vector<char>& owned_pools = impl.owned_by(job.org);
    auto ent_it = entitlements.find(job.org.str());
    if (ent_it == entitlements.end()) {
      ent_it = entitlements.emplace(job.org.str(), impl.entitlements(state, job.org, now)).first;
    }
    const std::vector<Impl::Entitlement>& ent = ent_it->second;
    std::vector<Window>& lease_windows = impl.windows(impl.lease_cache, job.org.str());
    std::vector<std::string> rejections;
    std::vector<Candidate> candidates;
    bool could_ever = false;
    std::optional<std::pair<std::uint32_t, Instant>> earliest;  // for the reservation
    for (std::uint32_t p = 0; p < pools.size(); ++p) {
      const PoolState& pool = pools[p];
      const catalog::Pool& cp = *pool.pool;
      const std::string& name = cp.id.str();
      if (!job.eligible_chips.empty() &&
          std::find(job.eligible_chips.begin(), job.eligible_chips.end(), cp.chip) ==
              job.eligible_chips.end()) {
        continue;  // not a chip the job can use: not worth a reason
      }
      const auto& prefs = job.preferences;
      if (std::find(prefs.deny_sites.begin(), prefs.deny_sites.end(), cp.site) !=
              prefs.deny_sites.end() ||
          (!prefs.allow_sites.empty() &&
           std::find(prefs.allow_sites.begin(), prefs.allow_sites.end(), cp.site) ==
               prefs.allow_sites.end())) {
        continue;
      }
      bool owned = owned_pools[p] != 0;
      std::int32_t entitled = cp.gpus();
      Instant lease_end = Instant::max();
      const Lease* active_lease = nullptr;
      Money price = pool.price;
      if (!owned) {
        const Impl::Entitlement& e = ent[p];
        if (e.gpus == 0) {
          if (e.future_max >= job.gpus) {
            could_ever = true;
            if (explain) rejections.push_back("lease on " + name + " not started yet");
          }
          continue;
        }
        entitled = e.gpus;
        lease_end = e.end;
        active_lease = e.latest;
        price = e.latest->price_per_gpu_hour;
      }
      if (entitled < job.gpus) {
        if (explain)
          rejections.push_back("the lease on " + name + " gives only " + gpus_text(entitled));
        if (!owned && ent[p].future_max >= job.gpus) could_ever = true;
        continue;
      }
      if (prefs.max_price_per_gpu_hour &&
          price.currency() == prefs.max_price_per_gpu_hour->currency() &&
          price.micros() > prefs.max_price_per_gpu_hour->micros()) {
        if (explain)
          rejections.push_back(name + " costs " + to_string(price) +
                               " per GPU-hour, over the ceiling");
        continue;
      }
      if (!owned) {
        const Window& lease = impl.lease_decision(job, lease_windows, p, now);
        if (!lease.allowed) {
          if (explain) rejections.push_back("lease denied at " + name + ": " + lease.reason);
          if (lease.until != Instant::max()) could_ever = true;
          continue;
        }
      }
      const Window& run = impl.run_decision(job, runs, p, now);
      if (!run.allowed) {
        if (explain) rejections.push_back("denied at " + name + ": " + run.reason);
        if (run.until != Instant::max()) could_ever = true;
        continue;
      }
      could_ever = true;
      // Foresight: what cuts a run started now.
      Instant must_leave_by = lease_end;
      // What cuts it, as text only when needed: the lease's end, or a rule.
      const std::string* cut_rule = nullptr;
      if (!owned) {
        const Window& lease = impl.lease_decision(job, lease_windows, p, now);
        if (lease.allowed_until < must_leave_by) {
          must_leave_by = lease.allowed_until;
          cut_rule = &lease.cut_reason;
        }
      }
      if (run.allowed_until < must_leave_by) {
        must_leave_by = run.allowed_until;
        cut_rule = &run.cut_reason;
      }
      auto cut_text = [&]() -> std::string {
        if (cut_rule != nullptr) return *cut_rule;
        return owned ? std::string() : "lease " + active_lease->id.str() + " ends";
      };
      Duration run_time = impl.throughput.run_time(job, *pool.chip, pending.remaining_work);
      if (pending.remaining_work < job.work) run_time += options_.restart_overhead;
      Instant expected_end = now + run_time;
      if (options_.policy == QueuePolicy::kCost && job.deadline && expected_end > *job.deadline) {
        if (explain) rejections.push_back("at " + name + " it would finish after its deadline");
        continue;
      }
      if (expected_end > must_leave_by) {
        Duration room = must_leave_by - now;
        bool can_checkpoint = job.checkpoint_interval > Duration() &&
                              room > checkpoint_time(job) + options_.restart_overhead;
        if (!can_checkpoint) {
          if (explain)
            rejections.push_back("would run past " + to_iso8601(must_leave_by) + " at " + name +
                                 " (" + cut_text() + ") and cannot checkpoint before");
          continue;
        }
      } else {
        must_leave_by = Instant::max();
      }
      // Capacity now: the org's entitlement left and a node arrangement.
      std::int32_t in_use = 0;
      if (auto u = state.usage.find({job.org, p}); u != state.usage.end()) in_use += u->second;
      if (!added.empty()) {
        if (auto a = added.find({job.org, p}); a != added.end()) in_use += a->second;
      }
      std::int32_t room = owned ? pool.free_total : std::min(pool.free_total, entitled - in_use);
      std::optional<Allocation> allocation;
      if (room >= job.gpus) allocation = fit(pool, job.gpus);
      if (!allocation) {
        if (explain)
          rejections.push_back(name + " has " + gpus_text(std::max(0, room)) +
                               " free for it now, needs " + std::to_string(job.gpus));
        // When could it start here? Only the first blocked job under EASY
        // needs to know (its reservation); release running jobs in order of
        // their end (sorted once per pool and pass) until it fits.
        if (options_.policy != QueuePolicy::kEasyBackfill || reservation) continue;
        auto& ends = ends_by_pool[p];
        if (!ends_ready[p]) {
          ends_ready[p] = 1;
          for (const RunningJob& r : state.running) {
            if (r.allocation.pool == p) {
              ends.emplace_back(std::min(r.expected_end, r.must_leave_by), &r);
            }
          }
          std::sort(ends.begin(), ends.end(), [](const auto& x, const auto& y) {
            return x.first < y.first ||
                   (x.first == y.first && x.second->job->id < y.second->job->id);
          });
        }
        PoolState future = pool;
        std::int32_t future_in_use = in_use;
        for (const auto& [when, r] : ends) {
          for (const auto& [node, gpus] : r->allocation.nodes) {
            future.free[static_cast<std::size_t>(node)] += gpus;
            future.free_total += gpus;
          }
          if (r->job->org == job.org) {
            for (const auto& [node, gpus] : r->allocation.nodes) future_in_use -= gpus;
          }
          std::int32_t future_room =
              owned ? future.free_total : std::min(future.free_total, entitled - future_in_use);
          if (future_room >= job.gpus && fit(future, job.gpus)) {
            if (!earliest || when < earliest->second) earliest = std::make_pair(p, when);
            break;
          }
        }
        continue;
      }
      if (!options_.budgets.empty()) {
        auto budget = options_.budgets.find({job.org, job.team});
        if (budget != options_.budgets.end()) {
          auto spent_it = state.spent.find({job.org, job.team});
          double spent = spent_it == state.spent.end() ? 0 : spent_it->second;
          double expected = price.units() * job.gpus * run_time.to_hours();
          if (spent + expected > budget->second.units()) {
            if (explain) {
              rejections.push_back("at " + name + " it would cost about " +
                                   std::to_string(static_cast<long long>(expected)) + " " +
                                   price.currency().str() + ", past team " + job.team +
                                   "'s budget (" + to_string(budget->second) + ", " +
                                   std::to_string(static_cast<long long>(spent)) + " spent)");
            }
            continue;
          }
        }
      }
      Candidate c;
      c.pool = p;
      c.allocation = std::move(*allocation);
      c.expected_end = expected_end;
      c.must_leave_by = must_leave_by;
      if (must_leave_by != Instant::max()) c.cut_reason = cut_text();
      auto rank = std::find(prefs.site_order.begin(), prefs.site_order.end(), cp.site);
      c.site_rank = static_cast<std::size_t>(rank - prefs.site_order.begin());
      c.price = price.micros();
      c.neg_speed = -impl.throughput.speed(job, *pool.chip);
      c.cost = static_cast<double>(c.price) * job.gpus * run_time.to_hours();
      candidates.push_back(std::move(c));
    }

    // EASY: a job may jump the reserved head only if it does not delay it.
    if (reservation && options_.policy == QueuePolicy::kEasyBackfill) {
      candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                      [&](const Candidate& c) {
                                        return c.pool == reservation->first &&
                                               std::min(c.expected_end, c.must_leave_by) >
                                                   reservation->second;
                                      }),
                       candidates.end());
    }
    if (!candidates.empty()) {
      const QueuePolicy policy = options_.policy;
      auto better = [policy](const Candidate& x, const Candidate& y) {
        if (x.site_rank != y.site_rank) return x.site_rank < y.site_rank;
        if (policy == QueuePolicy::kThroughput && x.neg_speed != y.neg_speed) {
          return x.neg_speed < y.neg_speed;
        }
        if (policy == QueuePolicy::kCost && x.cost != y.cost) return x.cost < y.cost;
        if (x.price != y.price) return x.price < y.price;
        if (x.neg_speed != y.neg_speed) return x.neg_speed < y.neg_speed;
        return x.pool < y.pool;
      };
      auto best = std::min_element(candidates.begin(), candidates.end(), better);
      PoolState& pool = pools[best->pool];
      for (const auto& [node, gpus] : best->allocation.nodes) {
        pool.free[static_cast<std::size_t>(node)] -= gpus;
        pool.free_total -= gpus;
      }
      added[{job.org, best->pool}] += job.gpus;
      if (fair_share || !options_.quotas.empty()) org_gpus[job.org] += job.gpus;
      if (fair_share) team_gpus[{job.org, job.team}] += job.gpus;
      plan.starts.push_back(Start{i, std::move(best->allocation), best->expected_end,
                                  best->must_leave_by, best->cut_reason});
      continue;
    }
    std::string reason;
    if (rejections.empty()) {
      reason = "no pool it may use (no lease or own pool with an eligible chip and site)";
    } else {
      reason = rejections[0];
      for (std::size_t r = 1; r < rejections.size() && r < 3; ++r) reason += "; " + rejections[r];
      if (rejections.size() > 3)
        reason += "; and " + std::to_string(rejections.size() - 3) + " more";
    }
    if (!explain) reason.clear();
    plan.waiting.push_back(Waiting{i, reason, !could_ever});
    if (!could_ever) continue;  // never blocks the queue
    if (options_.policy == QueuePolicy::kFifo) {
      blocked = true;
      blocked_by = job.id.str();
    } else if (!reservation && earliest) {
      reservation = earliest;
    }
  }
  return plan;
}

}  // namespace straits::sched
