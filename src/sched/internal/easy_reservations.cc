// EASY reservations (the reserve / backfill stage of a pass). Each pool
// holds at most one, for the first blocked job (in queue order) whose
// soonest start, among the pools it waits on that hold none yet, is there.
// Claims are settled lazily (see Impl::Claim); a later job may start on a
// reserved pool if it ends before the reserved start or leaves room for the
// gang then.
#include "sched/internal/scheduler_impl.h"

namespace straits::sched {

// When the claim's gang could start on pool p: release running jobs in
// order of their end until it fits. Also says after how many.
Scheduler::Impl::Search Scheduler::Impl::search(const ClusterState& state, const Claim& claim,
                                                std::uint32_t p) {
  const Job& job = *claim.job;
  Search& slot = searches[static_cast<std::size_t>(p) * kSearchSlots + claim.klass % kSearchSlots];
  const bool untouched = !node_copied[p];
  const std::uint64_t revision = state.pools()[p].revision();
  if (untouched && slot.klass == claim.klass && slot.revision == revision &&
      slot.ent_version == ent_version) {
    return slot;
  }
  const Room room = room_of(state, claim.org, p);
  const NodeView nodes = view(state, p);
  Search found{claim.klass, revision, ent_version, std::nullopt, 0};
  // Whether the gang fits follows from how many nodes have how many GPUs
  // free (as fit() places it: whole free nodes, then the rest on another
  // node with room), kept up to date as jobs end, in O(1) a node.
  const std::int32_t per_node = nodes.per_node;
  const std::int32_t whole = job.gpus / per_node, rest = job.gpus % per_node;
  level_count.assign(static_cast<std::size_t>(per_node) + 1, 0);
  for (std::size_t n = 0; n < nodes.nodes; ++n)
    ++level_count[static_cast<std::size_t>(nodes.free[n])];
  auto fits = [&] {
    const std::int32_t full = level_count[static_cast<std::size_t>(per_node)];
    if (full < whole) return false;
    if (rest == 0 || full > whole) return true;
    for (std::int32_t v = rest; v < per_node; ++v) {
      if (level_count[static_cast<std::size_t>(v)] > 0) return true;
    }
    return false;
  };
  future_free.assign(nodes.free, nodes.free + nodes.nodes);
  std::int32_t future_total = nodes.free_total;
  std::int32_t future_in_use = room.in_use;
  const std::vector<std::uint32_t>& ending = by_end(state, p);
  for (std::size_t i = 0; i < ending.size(); ++i) {
    const RunningJob& r = state.running()[ending[i]];
    release(r, claim.org, future_free, future_total, future_in_use, &level_count);
    std::int32_t future_room =
        room.owned ? future_total : std::min(future_total, room.entitled - future_in_use);
    if (future_room >= job.gpus && fits()) {
      found.when = r.frees_at();
      found.ended = i + 1;
      break;
    }
  }
  if (untouched) slot = found;
  return found;
}

// Settles the claims in queue order: each gets a reservation on the pool,
// among those it claimed that hold none yet, where it could start soonest.
void Scheduler::Impl::settle_claims(const ClusterState& state, std::size_t upto) {
  for (; settled < upto; ++settled) {
    const Claim& claim = claims[settled];
    std::optional<std::pair<std::uint32_t, Search>> best;
    for (std::size_t k = claim.first; k < claim.first + claim.count; ++k) {
      const std::uint32_t p = claim_pools[k];
      if (reservations[p].held) continue;
      Search found = search(state, claim, p);
      if (found.when && (!best || *found.when < *best->second.when)) best.emplace(p, found);
    }
    if (!best) continue;
    const std::uint32_t p = best->first;
    Reservation& r = reservations[p];
    const Room room = room_of(state, claim.org, p);
    const NodeView nodes = view(state, p);
    r.held = true;
    touched.push_back(p);
    r.shadow = *best->second.when;
    r.job = claim.job;
    r.klass = claim.klass;
    r.org = claim.org;
    r.owned = room.owned;
    r.entitled = room.entitled;
    r.free.assign(nodes.free, nodes.free + nodes.nodes);
    r.free_total = nodes.free_total;
    r.in_use = room.in_use;
    const std::vector<std::uint32_t>& ending = by_end(state, p);
    for (std::size_t i = 0; i < best->second.ended; ++i) {
      release(state.running()[ending[i]], claim.org, r.free, r.free_total, r.in_use);
    }
  }
  if (settled < claims.size()) return;
  for (std::uint32_t p : claim_pools) claimed[p] = 0;
  settled = 0;
  claims.clear();
  claim_pools.clear();
}

// Whether a claim was made: none if every pool of it is reserved already.
bool Scheduler::Impl::add_claim(const Job& job, std::uint32_t klass, std::uint32_t who,
                                const std::vector<std::uint32_t>& pools) {
  const std::size_t first = claim_pools.size();
  for (std::uint32_t p : pools) {
    if (reservations[p].held) continue;
    claim_pools.push_back(p);
    claimed[p] = claims.size() + 1;  // (cleared with claim_pools, see begin_pass)
  }
  if (claim_pools.size() == first) return false;
  claims.push_back(Claim{&job, klass, who, first, claim_pools.size() - first});
  return true;
}

// Whether a job starting now on `allocation`'s pool, running until `end`,
// leaves the pool's reservation whole.
bool Scheduler::Impl::spares_reservation(const Allocation& allocation, std::uint32_t who,
                                         std::int32_t gpus, Instant end) {
  const Reservation& r = reservations[allocation.pool];
  if (!r.held || end <= r.shadow) return true;
  future_free = r.free;
  for (const auto& [node, n] : allocation.nodes) future_free[static_cast<std::size_t>(node)] -= n;
  const NodeView after{future_free.data(), future_free.size(), r.free_total - gpus,
                       catalog.pools()[allocation.pool].gpus_per_node, allocation.pool};
  const std::int32_t in_use = r.in_use + (who == r.org ? gpus : 0);
  const std::int32_t room =
      r.owned ? after.free_total : std::min(after.free_total, r.entitled - in_use);
  const bool fits = can_fit(after, r.job->gpus);
#ifndef NDEBUG
  // (fit() would allocate; the debug builds check the two agree.)
  const bool placed = fit(after, r.job->gpus).has_value();
  assert(fits == placed);
#endif
  return room >= r.job->gpus && fits;
}

// A job started: what it holds at a reservation's start is not free then.
void Scheduler::Impl::hold_against_reservation(const Allocation& allocation, std::uint32_t who,
                                               std::int32_t gpus, Instant end) {
  Reservation& r = reservations[allocation.pool];
  if (!r.held || end <= r.shadow) return;
  for (const auto& [node, n] : allocation.nodes) r.free[static_cast<std::size_t>(node)] -= n;
  r.free_total -= gpus;
  if (who == r.org) r.in_use += gpus;
}

// Whether each reserved pool that refused the class's last job tried would
// refuse `pending` too (see Hopeless::blocked). Settles the claims on them.
bool Scheduler::Impl::still_blocked(const Scheduler& scheduler, const ClusterState& state,
                                    const PendingJob& pending, const JobClass& klass, Instant now) {
  for (const auto& b : klass.hopeless.blocked) {
    const std::uint32_t p = b.pool;
    if (node_copied[p] || state.pools()[p].revision() != b.revision) return false;
    if (claimed[p] > settled) settle_claims(state, claimed[p]);
    const Reservation& r = reservations[p];
    if (!r.held || r.klass != b.reserved_for || r.shadow != b.shadow) return false;
    // When it would leave the pool: its end, or the cut it checkpoints for.
    const Instant leaves =
        std::min(now + scheduler.run_time(pending, klass.speed(p)), cut_at(klass, p));
    if (leaves <= r.shadow) return false;
  }
  return true;
}

// EASY: a job may jump the reserved head only if it does not delay it
// (which depends on how long the job runs: its own, not its class's).
void Scheduler::Impl::keep_reservations(Pass& pass, Trial& t) {
  const ClusterState& state = pass.state;
  auto& candidates = t.candidates;
  if (!claims.empty()) {
    std::size_t upto = 0;
    for (const Candidate& c : candidates) upto = std::max(upto, claimed[c.pool]);
    if (upto > settled) settle_claims(state, upto);
  }
  if (std::none_of(candidates.begin(), candidates.end(),
                   [&](const Candidate& c) { return reservations[c.pool].held; })) {
    return;
  }
  t.job_specific = true;
  const std::int32_t gpus = t.pending->job->gpus;
  candidates.erase(
      std::remove_if(
          candidates.begin(), candidates.end(),
          [&](const Candidate& c) {
            const Instant leaves = std::min(c.expected_end, c.must_leave_by);
            if (!reservations[c.pool].held || leaves <= reservations[c.pool].shadow ||
                spares_reservation(*fit(view(state, c.pool), gpus), t.org_index, gpus, leaves)) {
              return false;
            }
            const Reservation& r = reservations[c.pool];
            blocked_at.push_back({c.pool,
                                  node_copied[c.pool] ? 0 : state.pools()[c.pool].revision(),
                                  r.klass, r.shadow});
            return true;
          }),
      candidates.end());
}

}  // namespace straits::sched
