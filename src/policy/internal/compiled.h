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
