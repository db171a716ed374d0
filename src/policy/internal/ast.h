// The syntax tree of rule files, as the parser builds it and before the
// checker gives it types. Every node keeps its place in the file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "policy/decision.h"

namespace straits::policy::internal {

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };
std::string_view to_string(CompareOp op);

struct Expr {
  enum class Kind {
    kAttribute,  // text: "chip.tpp"
    kNumber,     // number
    kString,     // text
    kDate,       // date
    kBool,       // boolean
    kCompare,    // op, children[0] op children[1]
    kAnd,        // children
    kOr,         // children
    kNot,        // children[0]
    kInGroup,    // children[0] in group `text`; negated for "not in"
    kInList,     // children[0] in [children[1..]]; negated for "not in"
  };
  Kind kind = Kind::kBool;
  SourceLocation where;
  std::string text;
  double number = 0;
  Instant date;
  bool boolean = false;
  bool negated = false;
  CompareOp op = CompareOp::kEq;
  std::vector<std::unique_ptr<Expr>> children;
};

// A date in an `effective` clause: a literal or the name of a param.
struct DateRef {
  std::optional<Instant> date;
  std::string param;
  SourceLocation where;
};

struct Effect {
  EffectKind kind = EffectKind::kRecord;
  std::string text;  // licence name or obligation
  SourceLocation where;
};

struct RuleAst {
  std::string id;
  SourceLocation where;
  std::optional<std::string> title, source, note;
  std::optional<DateRef> from;
  std::optional<DateRef> until;
  std::vector<Action> actions;
  SourceLocation actions_where;
  std::unique_ptr<Expr> when;
  std::vector<Effect> effects;
  std::optional<std::string> replaces;
  SourceLocation replaces_where;
  std::string pack;  // folder name of the pack
};

struct GroupAst {
  std::string id;
  std::string label;
  std::vector<std::pair<std::string, SourceLocation>> members;
  std::string source;
  SourceLocation where;
};

// A named condition: `condition eccn_3a090 = chip.tpp >= 4800 or ...`, used
// by name inside `when` expressions of any loaded pack.
struct ConditionAst {
  std::string name;
  std::unique_ptr<Expr> expr;
  SourceLocation where;
};

struct ParamAst {
  std::string name;
  Instant value;
  SourceLocation where;
};

// Everything parsed from the files of one pack folder.
struct PackAst {
  std::string name;
  std::string dir;
  std::vector<RuleAst> rules;
  std::vector<GroupAst> groups;
  std::vector<ParamAst> params;
  std::vector<ConditionAst> conditions;
};

}  // namespace straits::policy::internal
