// What a catalog change leaves of the capacity that leases and jobs hold.
// A pool's leases were each granted against its capacity, and its jobs were
// placed on its nodes: an edit that shrinks the pool, or a retirement of the
// pool, its site or its operator, must not leave leases over what the pool
// has, or jobs on nodes it no longer has (the scheduler would plan over GPUs
// that do not exist). Such a change is refused, naming what stands in its
// way, so that the operator ends those leases or moves those jobs first.
//
// And what a store holds that does not fit (however it got there: written by
// an older server, edited behind the server's back): found at start and
// logged, never trusted to fit.
#pragma once

#include <string>
#include <vector>

#include "api/internal/http.h"
#include "api/internal/world.h"

namespace straits::api::internal {

// Refuses (409 "conflict") a change of entity `kind`/`id` that would leave
// leases in force (now or later) over a pool's capacity, or jobs assigned,
// running or checkpointing on nodes of a pool that it would no longer have
// (fewer nodes, fewer GPUs a node, another site or chip, retired). `after`
// is the entity's body after an update, or nullptr for a retirement. The
// message names the pool, the leases and the jobs; the answer's details list
// them ({"pool", "capacity", "leases": [...], "jobs": [...]}).
// REQUIRES: the world held by the writer. Kinds other than pool, site and
// operator change no capacity: nothing is refused.
void check_capacity(const World& world, const std::string& kind, const std::string& id,
                    const json* after, Instant now);

// Leases over a pool's capacity and jobs placed on nodes a pool does not
// have, one message each: what a consistent store never holds.
std::vector<std::string> capacity_problems(const World& world, Instant now);

}  // namespace straits::api::internal
