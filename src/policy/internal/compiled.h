// The compiled form of loaded packs: flat expression nodes over attribute slots,
// interned symbols, group bitsets, and per-epoch lists of the rules in force,
// so that evaluating a decision touches only the rules that can apply.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.h"
#include "policy/engine.h"
#include "policy/internal/ast.h"
#include "policy/internal/facts.h"

namespace straits::policy::internal {

static_assert(Subject::kSlots == kSlotCount,
              "Subject::kSlots (engine.h) must be the number of rows of kAttributes");

struct Node {
  enum class Op : std::uint8_t {
    kConst,  // value: constant
    kAttr,   // value: facts[slot]
    kTrue,
    kAttrBool,          // facts[slot] != 0
    kAnd,               // kids
    kOr,                // kids
    kNot,               // kids[0]
    kCompare,           // kids[0] cmp kids[1], typed by `type`
    kCompareAttrConst,  // facts[slot] cmp constant (the common case)
    kInGroup,           // facts of kids[0] in group; negated
    kInList,            // kids[0] in kids[1..]; negated
  };
  Op op = Op::kTrue;
  Type type = Type::kBool;  // of the operands, for comparisons
  CompareOp cmp = CompareOp::kEq;
  bool negated = false;
  std::uint8_t slot = 0;
  std::int32_t group = -1;
  std::uint32_t kids_begin = 0, kids_end = 0;  // into CompiledPolicy::kids
  std::int64_t constant = 0;                   // number as bit_cast double
};

struct CompiledEffect {
  EffectKind kind = EffectKind::kRecord;
  std::int64_t licence = -1;  // interned licence name
  std::string text;
};

struct CompiledRule {
  RuleId id;
  std::string title, source, pack;
  SourceLocation where;
  unsigned actions = 0;
  Instant from = Instant::min();
  Instant until = Instant::max();
  std::int32_t root = -1;     // -1: no condition (always holds)
  bool uses_dataset = false;  // run rules over dataset.*: any of the job's datasets
  std::vector<CompiledEffect> effects;
};

struct CompiledPolicy {
  const catalog::Catalog* catalog = nullptr;
  Symbols symbols;
  std::vector<std::vector<std::uint64_t>> groups;  // bitset over symbols, per group
  std::vector<Node> nodes;
  std::vector<std::uint32_t> kids;
  std::vector<CompiledRule> rules;  // sorted by id
  std::vector<std::string> pack_names;
  std::map<std::string, Instant> params;

  // Epochs: boundaries sorted; epoch e covers [boundaries[e-1], boundaries[e]).
  std::vector<std::int64_t> boundaries;
  // active[e * kActionCount + action]: the rules in force in epoch e.
  std::vector<std::vector<std::uint32_t>> active;
  // Per action: every boundary of its rules, sorted, for next_change_after.
  std::array<std::vector<std::int64_t>, kActionCount> action_boundaries;

  // Catalog entities by id, to their index in the catalog's lists.
  std::unordered_map<std::string, std::uint32_t> chip_index, site_index, pool_index, org_index,
      dataset_index, operator_index;

  // Per entity scope (kChip .. kDataset), the values of its rows of
  // kAttributes for each entity of the catalog, computed once at load by the
  // extractors: entity i's at [i * count, (i + 1) * count), count being the
  // scope's number of rows. resolve() copies them into a Subject, so that it
  // costs a lookup per id and no string work.
  std::array<std::vector<std::int64_t>, kEntityScopes> entity_values;
  const std::int64_t* values_of(Scope scope, std::uint32_t entity) const {
    auto s = static_cast<std::size_t>(scope);
    return entity_values[s].data() + std::size_t{entity} * kEntitySlots[s].count;
  }
  // What else resolve() needs of an entity: the entities it refers to and
  // the parties whose licences count.
  struct SiteLinks {
    bool valid = false;  // its operator is in the catalog
    std::int32_t operator_party = -1, top_operator_party = -1;
  };
  struct OrgLinks {
    std::int32_t party = -1, top_party = -1;  // the org and its ultimate parent
  };
  struct PoolLinks {
    std::int32_t chip = -1, site = -1;  // -1: not in the catalog
    std::int32_t owner_party = -1;
  };
  std::vector<SiteLinks> site_links;
  std::vector<OrgLinks> org_links;
  std::vector<PoolLinks> pool_links;
  std::vector<std::int32_t> dataset_owner;  // org index, -1 if not in the catalog
  // Parties (orgs, operators, licence holders) numbered by id: a licence
  // counts when its holder's number is among a subject's parties.
  std::unordered_map<std::string, std::int32_t> party_index;
  std::vector<std::int32_t> licence_holder;  // party number, by licence
  std::vector<std::int64_t> licence_name;    // interned name, by licence
  // By licence: the first licence with the same id (decisions name licences
  // by id), for comparing decisions without building them.
  std::vector<std::uint32_t> licence_same_id;
  bool distinct_rule_ids = true;  // the compiler rejects duplicates; checked at load
  // Fills the members above from `catalog`.
  void index_catalog();
  // Checks the ids of a request and writes into `s` its action and the
  // values of every attribute of that action (but `now`, and dataset.* in
  // run, which go to s.datasets_), its datasets and its licences. Slots of
  // other actions are left as they are.
  Status resolve_into(const Request& request, Subject& s) const;

  // What decide_at() at `at` would answer, as numbers: for each rule in force
  // that applies and has effects, its index, then for each licence it
  // requires the licence_same_id of the one that lifts it, or -1. With
  // distinct rule ids, two instants' decisions are the same (same_decision)
  // exactly when these are equal; no text is built.
  void decision_key(const Subject& s, Instant at, std::vector<std::int64_t>& out) const;

  // `dataset`: the dataset.* values of the dataset being tried, in run rules.
  static std::int64_t fetch(const Subject& s, std::uint8_t slot, const std::int64_t* dataset,
                            std::int64_t now);
  Decision decide_at(const Subject& s, Instant at) const;
  Instant next_change_after(const Subject& subject, Instant after) const;
  bool holds(std::int32_t node, const Subject& s, const std::int64_t* dataset,
             std::int64_t now) const;
  bool rule_applies(const CompiledRule& rule, const Subject& s, Instant at) const;
  const std::vector<std::uint32_t>& rules_in_force(Action action, Instant at) const;
  // Whether a licence named `licence` held by a party is valid at `at`;
  // returns its catalog index or -1.
  std::int64_t lifting_licence(const Subject& s, std::int64_t licence, Instant at) const;
};

// Rule sets adopted one after another (Engine::load_timeline). Segment i
// decides over [from, until); the first one's `from` is Instant::min() and
// the last one's `until` Instant::max(), whatever the sets said, so that
// every instant has exactly one. Each set is compiled on its own, seeded with
// the symbols of the one before it, so a symbol means the same text in all.
struct Timeline {
  struct Segment {
    Instant from, until;
    std::shared_ptr<const CompiledPolicy> policy;
    std::string hash;
  };
  std::vector<Segment> segments;  // by `from`
  const Segment& at(Instant t) const {
    auto it = std::upper_bound(segments.begin(), segments.end(), t,
                               [](Instant x, const Segment& s) { return x < s.from; });
    return *(it - 1);  // segments[0].from is Instant::min()
  }
};

// Reads a slot; dataset slots come from the dataset being tried, in run rules.
inline std::int64_t CompiledPolicy::fetch(const Subject& s, std::uint8_t slot,
                                          const std::int64_t* dataset, std::int64_t now) {
  if (slot == kNow) return now;
  if (dataset != nullptr && kDatasetSlots.contains(slot))
    return dataset[slot - kDatasetSlots.first];
  return s.facts_[slot];
}

// Checks and compiles parsed packs; every problem goes to `diagnostics`.
void compile_packs(std::vector<PackAst>& packs, const ParamOverrides& overrides,
                   CompiledPolicy& out, Diagnostics& diagnostics);

}  // namespace straits::policy::internal
