// The symbolic diff of two rule sets: for which subjects the catalog can form
// (action x chip x destination x org or operator x dataset), over which date
// ranges, the decision changes, from what to what, and under which rules on
// each side (docs/rules.md, "Diffing two rule sets").
//
// Exhaustive over the catalog, no sampling: every subject is resolved on both
// engines and each engine's decision is followed through time from one change
// point to the next (decisions are constant in between: engine.h), so every
// instant of [from, to) is accounted for.
//
// Example:
//   auto base = Engine::load(catalog, {"rules/default"});
//   auto with = Engine::load(catalog, {"rules/default", "rules/scenarios/tier-caps"});
//   auto diff = diff_policies(catalog, *base, *with, {from, to});
//   std::cout << diff_to_text(*diff);
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/error.h"
#include "policy/decision.h"
#include "policy/engine.h"
#include "policy/request.h"

namespace straits::policy {

struct DiffOptions {
  Instant from;  // first instant compared
  Instant to;    // exclusive; must be after `from`
  // The figures of a request that are not catalog values take these: a
  // lease is of the whole pool, a ship of `quantity` chips from their
  // origin or from each site, a run is this job (its datasets replaced by
  // each dataset alone, and none).
  int quantity = 1;
  JobSpec job;
  // A lease: the TPP leased in the site's country and by the org's group,
  // this lease included; absent: the lease's own (see LeaseRequest).
  std::optional<double> country_tpp, org_tpp;
};

// One rule effect as it bears on a decision. Where the rule came from (its
// pack, file and title) is left out: the same rule in two packs is the same.
struct AppliedRule {
  RuleId id;
  EffectKind effect = EffectKind::kRecord;
  std::optional<LicenceId> lifted_by;
  std::string obligation;

  friend bool operator==(const AppliedRule&, const AppliedRule&) = default;
  friend auto operator<=>(const AppliedRule&, const AppliedRule&) = default;
};

// A decision on one side: its outcome and the rules that applied, in the
// engine's order.
struct DiffSide {
  Outcome outcome = Outcome::kAllow;
  std::vector<AppliedRule> rules;

  friend bool operator==(const DiffSide&, const DiffSide&) = default;
  friend auto operator<=>(const DiffSide&, const DiffSide&) = default;
};

// One subject over one interval [from, until) on which the sides differ;
// adjacent intervals with the same sides are merged.
struct DiffRow {
  Request request;
  Instant from;
  Instant until;  // `to` at most
  DiffSide base;
  DiffSide with;
};

// Rows merged for people: every combination of the lists below (those that
// the action has; a pool also fixes its chip and site) changes from `base`
// to `with` over [from, until). Lists hold catalog ids in catalog order; ""
// in `pools` or `sources` means none (a ship to no pool, from the chip's
// country of origin).
struct DiffGroup {
  Action action = Action::kLease;
  std::vector<std::string> chips;     // ship
  std::vector<std::string> sites;     // ship and transfer: the destination
  std::vector<std::string> pools;     // lease and run; ship: the receiving pool
  std::vector<std::string> sources;   // ship: the site shipped from
  std::vector<std::string> orgs;      // lease and run
  std::vector<std::string> datasets;  // transfer; run: "" for a job with none
  // The rules behind the change: applying on one side only, or differently
  // (another lifting licence or obligation). Groups are listed by these.
  std::vector<RuleId> changed;
  Instant from;
  Instant until;
  DiffSide base;
  DiffSide with;
};

struct PolicyDiff {
  Instant from;
  Instant to;
  // Subjects compared: the requests both sides accept as well formed.
  std::size_t subjects = 0;
  std::vector<DiffRow> rows;  // by subject, then by time
  // By the rules behind the change, the sides, the action and time.
  std::vector<DiffGroup> groups;
  std::map<RuleId, std::string> titles;  // every rule named in `rows`
};

// Compares `base` and `with` over every subject `catalog` can form.
// InvalidArgument for an empty range; FailedPrecondition when an engine was
// loaded over another catalog object, or when a subject does
// not resolve on one side (an engine compiled against another catalog).
// REQUIRES: both engines were loaded over `catalog` (the same object).
Result<PolicyDiff> diff_policies(const catalog::Catalog& catalog, const Engine& base,
                                 const Engine& with, const DiffOptions& options);

// For people: one section per set of rules changed, each group a few lines.
std::string diff_to_text(const PolicyDiff& diff, const catalog::Catalog& catalog);
// For scripts and the server: {from, to, subjects, changed_rows, groups:
// [...], rules: {id: title}}.
std::string diff_to_json(const PolicyDiff& diff, const catalog::Catalog& catalog);

}  // namespace straits::policy
