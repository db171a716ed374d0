// The compiled form of loaded packs: flat expression nodes over Facts slots,
// interned symbols, group bitsets, and per-epoch lists of the rules in force,
// so that evaluating a decision touches only the rules that can apply.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.h"
#include "policy/engine.h"
#include "policy/internal/ast.h"
#include "policy/internal/facts.h"

namespace straits::policy::internal {

static_assert(Subject::kSlots == kSlotCount, "Subject::kSlots must match the attribute table");

// Interned strings: countries first (so that group bitsets stay small), then
// catalog ids and the literals of rules.
class Symbols {
 public:
  std::int64_t intern(const std::string& text);
  // -1 when never interned (it then equals nothing).
  std::int64_t find(const std::string& text) const;
  const std::string& text(std::int64_t symbol) const {
    return texts_[static_cast<std::size_t>(symbol)];
  }

 private:
  std::unordered_map<std::string, std::int64_t> ids_;
  std::vector<std::string> texts_;
};

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

  // Per-entity facts computed once from the catalog, indexed by id.
  std::unordered_map<std::string, std::uint32_t> chip_index, site_index, pool_index, org_index,
      dataset_index, operator_index;
  std::int64_t class_symbols[3] = {0, 0, 0};  // public, personal, important

  // What resolve() copies into a Subject from each catalog entity, computed
  // once at load (by the entity's index in the catalog's list), so that a
  // resolve costs a lookup per id and no string work.
  struct ChipFacts {
    std::int64_t id = -1, vendor = -1, origin = -1, tpp = 0, pd = 0, memory_bandwidth = 0,
                 io_bandwidth = 0, memory_gb = 0, datacenter = 0, hbm = 0;
  };
  struct SiteFacts {
    bool valid = false;  // its operator is in the catalog
    std::int64_t id = -1, city = -1, country = -1, state_funded = 0, operator_id = -1,
                 operator_hq = -1, operator_parent_hq = -1;
    std::int32_t operator_party = -1, top_operator_party = -1;
  };
  struct OrgFacts {
    std::int64_t id = -1, hq = -1, parent_hq = -1;
    std::int32_t party = -1, top_party = -1;  // the org and its ultimate parent
  };
  struct PoolFacts {
    std::int64_t id = -1, gpus = 0, owned = 0;
    std::int32_t chip = -1, site = -1;  // -1: not in the catalog
    std::int32_t owner_party = -1;
  };
  std::vector<ChipFacts> chip_facts;
  std::vector<SiteFacts> site_facts;
  std::vector<OrgFacts> org_facts;
  std::vector<PoolFacts> pool_facts;
  std::vector<Subject::DatasetFacts> dataset_facts;
  std::vector<std::int32_t> dataset_owner;  // org index, -1 if not in the catalog
  // Parties (orgs, operators, licence holders) numbered by id: a licence
  // counts when its holder's number is among a subject's parties.
  std::unordered_map<std::string, std::int32_t> party_index;
  std::vector<std::int32_t> licence_holder;  // party number, by licence
  std::vector<std::int64_t> licence_name;    // interned name, by licence
  // By licence: the first licence with the same id (decisions name licences
  // by id), for comparing decisions without building them.
  std::vector<std::uint32_t> licence_same_id;
  std::int64_t empty_symbol = -1;
  bool distinct_rule_ids = true;  // the compiler rejects duplicates; checked at load
  // Fills the members above from `catalog`.
  void index_catalog();

  // What decide_at() at `at` would answer, as numbers: for each rule in force
  // that applies and has effects, its index, then for each licence it
  // requires the licence_same_id of the one that lifts it, or -1. With
  // distinct rule ids, two instants' decisions are the same (same_decision)
  // exactly when these are equal; no text is built.
  void decision_key(const Subject& s, Instant at, std::vector<std::int64_t>& out) const;

  static std::int64_t fetch(const Subject& s, std::uint8_t slot,
                            const Subject::DatasetFacts* dataset, std::int64_t now);
  Decision decide_at(const Subject& s, Instant at) const;
  Instant next_change_after(const Subject& subject, Instant after) const;
  bool holds(std::int32_t node, const Subject& s, const Subject::DatasetFacts* dataset,
             std::int64_t now) const;
  bool rule_applies(const CompiledRule& rule, const Subject& s, Instant at) const;
  const std::vector<std::uint32_t>& rules_in_force(Action action, Instant at) const;
  // Whether a licence named `licence` held by a party is valid at `at`;
  // returns its catalog index or -1.
  std::int64_t lifting_licence(const Subject& s, std::int64_t licence, Instant at) const;
};

// Reads a slot; dataset slots come from the dataset being tried, in run rules.
inline std::int64_t CompiledPolicy::fetch(const Subject& s, std::uint8_t slot,
                                          const Subject::DatasetFacts* dataset, std::int64_t now) {
  if (slot == kNow) return now;
  if (dataset != nullptr && slot >= kDatasetId && slot <= kDatasetSizeTb) {
    switch (slot) {
      case kDatasetId: return dataset->id;
      case kDatasetOrigin: return dataset->origin;
      case kDatasetClass: return dataset->data_class;
      default: return std::bit_cast<std::int64_t>(dataset->size_tb);
    }
  }
  return s.facts_[slot];
}

// Checks and compiles parsed packs; every problem goes to `diagnostics`.
void compile_packs(std::vector<PackAst>& packs, const ParamOverrides& overrides,
                   CompiledPolicy& out, Diagnostics& diagnostics);

}  // namespace straits::policy::internal
