// The impact of a proposed rule set on the server's fleet (issue 17, part 4):
// the World turned into the sched module's inputs (sched/impact.h) and the
// answer rendered as the API's JSON; and, for `straits rules impact
// --simulate DAYS`, the store's recent jobs as a native workload and the
// catalog as files, to replay under both rule sets (sim/rule_change.h).
//
// Every function reads the world: the caller holds its shared lock.
#pragma once

#include <map>
#include <string>

#include "api/internal/rulesets.h"
#include "api/internal/world.h"
#include "policy/engine.h"
#include "sched/state.h"

namespace straits::api::internal {

// The fleet as it is at `now` (leases, the jobs placed on their pools, the
// queue) as a sched::ClusterState over the catalog in force, with the queued
// and placed jobs it points to in the world. REQUIRES: the shared lock, held
// while the state is used.
sched::ClusterState fleet_state(const World& world, Instant now);

// What adopting `proposed` from `from` instead of the rules in force would do
// to the fleet at `now`, as JSON: leases, running and queued jobs, datasets,
// orgs and GPU-hours and money at risk per ISO week (docs/operations.md).
// REQUIRES: `proposed` was loaded over world.policy->catalog; from >= now.
std::string ruleset_impact_json(const World& world, const policy::Engine& proposed, Instant from,
                                Instant now);

// The jobs submitted in [from, to), in the native workload format (JSONL,
// docs/scenarios.md), by submission instant then id: jobs without work (the
// format requires it) are left out.
std::string native_workload_jsonl(const World& world, Instant from, Instant to);

// The adopted rule set in force at `now` (the one whose hash the policy names
// then); nullptr when none is.
const store::RulesetRecord* ruleset_in_force(const World& world, Instant now);
// A stored set's packs and params (500 when the store holds a broken one).
RulesetContent stored_content(const store::RulesetRecord& set);

// The catalog in force as the files of a catalog folder (name -> text): the
// base files (chips, countries) and one file per kind of managed entity.
std::map<std::string, std::string> catalog_files(const World& world);

}  // namespace straits::api::internal
