// The filters of a pass (after the Kubernetes scheduling framework): for a
// job and each pool its class may use, a reason to refuse the pool, or a
// candidate with what scoring needs. In pool order; with explain, the
// reasons are kept (Trial::reject) for the job's wait.
#include "sched/internal/scheduler_impl.h"

namespace straits::sched {

void Scheduler::Impl::filter_pools(Pass& pass, Trial& t) {
  t.holds_until = Instant::max();
  t.claim_whole = true;
  t.could_ever = false;
  t.refusing_rule = 0;
  t.job_specific = false;
  t.rejections.clear();
  t.rejected = 0;
  t.candidates.clear();
  job_claim.clear();
  preempt_pools.clear();
  short_of.clear();
  for (std::uint32_t p : *t.usable) {
    Access a;
    if (admits(pass, t, p, a)) consider(pass, t, p, a);
  }
  t.specific_before_reservations = t.job_specific;
  blocked_at.clear();
}

// Capacity the org may use (a pool it owns, or an active lease with room for
// the gang), the price ceiling, the lease and run decisions, and a hold for
// a preempting job of higher priority.
bool Scheduler::Impl::admits(Pass& pass, Trial& t, std::uint32_t p, Access& a) {
  const Job& job = *t.pending->job;
  const PoolState& pool = pass.state.pools()[p];
  const catalog::Pool& cp = *pool.pool;
  const std::string& name = cp.id.str();
  a.owned = t.org->owned[p] != 0;
  a.entitled = cp.gpus();
  a.price = &pool.price;
  if (!a.owned) {
    const Entitlement& e = t.ent[p];
    if (e.gpus == 0) {
      if (e.future_max >= job.gpus) {
        t.could_ever = true;
        if (pass.explain)
          t.reject([&] { return std::string("lease on " + name + " not started yet"); });
      }
      return false;
    }
    a.entitled = e.gpus;
    a.lease_end = e.end;
    a.active_lease = e.latest;
    a.price = &e.latest->price_per_gpu_hour;
  }
  if (a.entitled < job.gpus) {
    if (pass.explain)
      t.reject([&] {
        return std::string("the lease on " + name + " gives only " + gpus_text(a.entitled));
      });
    if (!a.owned && t.ent[p].future_max >= job.gpus) t.could_ever = true;
    return false;
  }
  const auto& ceiling = job.preferences.max_price_per_gpu_hour;
  if (ceiling && a.price->currency() == ceiling->currency() &&
      a.price->micros() > ceiling->micros()) {
    if (pass.explain)
      t.reject([&] {
        return std::string(name + " costs " + to_string(*a.price) +
                           " per GPU-hour, over the ceiling");
      });
    t.job_specific = true;
    return false;
  }
  if (!a.owned) {
    a.lease = &lease_decision(job, *t.org, p, pass.now);
    t.holds_until = std::min(t.holds_until, a.lease->until);
    if (!a.lease->allowed) {
      if (pass.explain) {
        t.reject([&] { return std::string("lease denied at " + name + ": " + a.lease->reason); });
        if (t.refusing_rule == 0) t.refusing_rule = a.lease->rule;
      }
      if (a.lease->until != Instant::max()) t.could_ever = true;
      return false;
    }
  }
  a.run = &run_decision(job, *t.klass, p, pass.now);
  t.holds_until = std::min(t.holds_until, a.run->until);
  if (!a.run->allowed) {
    if (pass.explain) {
      t.reject([&] { return std::string("denied at " + name + ": " + a.run->reason); });
      if (t.refusing_rule == 0) t.refusing_rule = a.run->rule;
    }
    if (a.run->until != Instant::max()) t.could_ever = true;
    return false;
  }
  t.could_ever = true;
  if (pass.preempting && holds[p].held && holds[p].org == t.org_index &&
      holds[p].priority > job.priority) {
    if (pass.explain)
      t.reject([&] { return std::string(name + " is held for a job of higher priority"); });
    t.job_specific = true;
    return false;
  }
  return true;
}

// At a pool the job may use: room now (the org's entitlement left and a node
// arrangement), its deadline (scoring by cost), foresight (what cuts a run
// started now, and whether it can checkpoint before), the team's budget. A
// pool short of GPUs may be claimed (EASY) or freed (preemption).
void Scheduler::Impl::consider(Pass& pass, Trial& t, std::uint32_t p, const Access& a) {
  const Job& job = *t.pending->job;
  const ClusterState& state = pass.state;
  const std::string& name = state.pools()[p].pool->id.str();
  // Foresight: what cuts a run started now.
  Instant must_leave_by = a.lease_end;
  // What cuts it, as text only when needed: the lease's end, or a rule.
  const std::string* cut_rule = nullptr;
  std::uint32_t cut_rule_id = 0;
  if (a.lease != nullptr && a.lease->allowed_until < must_leave_by) {
    must_leave_by = a.lease->allowed_until;
    cut_rule = &a.lease->cut_reason;
    cut_rule_id = a.lease->cut_rule;
  }
  if (a.run->allowed_until < must_leave_by) {
    must_leave_by = a.run->allowed_until;
    cut_rule = &a.run->cut_reason;
    cut_rule_id = a.run->cut_rule;
  }
  // Capacity now: the org's entitlement left and a node arrangement.
  const std::int32_t in_use = used(state, t.org_index, p) + added_by(t.org_index, p);
  const NodeView nodes = view(state, p);
  std::int32_t room = a.owned ? nodes.free_total : std::min(nodes.free_total, a.entitled - in_use);
  if (room < job.gpus && !pass.explain && !pass.preempting &&
      (!pass.easy || reservations[p].held)) {
    // Cannot start here, and no reservation to claim: what follows
    // would only say more about why.
    if (pass.easy) t.claim_whole = false;
    lacks_gpus(state, p);
    return;
  }
  auto cut_text = [&]() -> std::string {
    if (cut_rule != nullptr) return *cut_rule;
    return a.owned ? std::string() : "lease " + a.active_lease->id.str() + " ends";
  };
  const Duration run_time = pass.scheduler.run_time(*t.pending, t.klass->speed(p));
  Instant expected_end = pass.now + run_time;
  if (meets_deadlines && job.deadline && expected_end > *job.deadline) {
    if (pass.explain)
      t.reject([&] { return std::string("at " + name + " it would finish after its deadline"); });
    t.job_specific = true;
    return;
  }
  if (expected_end > must_leave_by) {
    if (!pass.scheduler.can_checkpoint_before(job, pass.now, must_leave_by)) {
      if (pass.explain)
        t.reject([&] {
          return std::string("would run past " + to_iso8601(must_leave_by) + " at " + name + " (" +
                             cut_text() + ") and cannot checkpoint before");
        });
      t.job_specific = true;
      return;
    }
  } else {
    must_leave_by = Instant::max();
  }
  // (can_fit() says whether fit() would place the gang, without placing
  // it: the allocation is made for the pool chosen.)
  const bool fits = room >= job.gpus &&
                    (job.gpus > 0 ? can_fit(nodes, job.gpus) : fit(nodes, job.gpus).has_value());
  if (!fits) {
    if (pass.explain)
      t.reject([&] {
        return std::string(name + " has " + gpus_text(std::max(0, room)) +
                           " free for it now, needs " + std::to_string(job.gpus));
      });
    if (pass.preempting) preempt_pools.push_back(p);
    lacks_gpus(state, p);
    // Under EASY it may claim the pool's reservation, if it holds none.
    if (!pass.easy) return;
    if (reservations[p].held) {
      t.claim_whole = false;
      return;
    }
    job_claim.push_back(p);
    return;
  }
  if (!within_budget(pass, t, p, *a.price, run_time)) return;
  Candidate c;
  c.pool = p;
  c.expected_end = expected_end;
  c.must_leave_by = must_leave_by;
  if (must_leave_by != Instant::max()) {
    c.cut_text = cut_rule;
    c.lease = a.owned ? nullptr : a.active_lease;
    c.cut_rule = cut_rule_id;
  }
  c.site_rank = t.klass->site_rank(p);
  c.price = a.price->micros();
  c.neg_speed = -t.klass->speed(p);
  c.cost = static_cast<double>(c.price) * job.gpus * run_time.to_hours();
  t.candidates.push_back(std::move(c));
}

// A team's budget: no start where the run's expected cost would take the
// team's spending past it.
bool Scheduler::Impl::within_budget(Pass& pass, Trial& t, std::uint32_t p, const Money& price,
                                    Duration run_time) {
  const auto& budgets = pass.options.budgets;
  if (budgets.empty()) return true;
  const Job& job = *t.pending->job;
  auto budget = budgets.find({job.org, job.team});
  if (budget == budgets.end()) return true;
  const auto& spent_by = pass.state.spent;
  auto spent_it = spent_by.find({job.org, job.team});
  double spent = spent_it == spent_by.end() ? 0 : spent_it->second;
  double expected = price.units() * job.gpus * run_time.to_hours();
  if (!(spent + expected > budget->second.units())) return true;
  if (pass.explain) {
    t.reject([&] {
      return std::string("at " + pass.state.pools()[p].pool->id.str() + " it would cost about " +
                         std::to_string(static_cast<long long>(expected)) + " " +
                         price.currency().str() + ", past team " + job.team + "'s budget (" +
                         to_string(budget->second) + ", " +
                         std::to_string(static_cast<long long>(spent)) + " spent)");
    });
  }
  t.job_specific = true;
  return false;
}

}  // namespace straits::sched
