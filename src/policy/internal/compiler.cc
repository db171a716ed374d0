// Checks parsed packs against the catalog and the attribute table, and
// compiles them. Every problem is reported with its place; nothing is
// compiled from a pack with errors (the caller discards the result).
#include <algorithm>
#include <bit>
#include <set>

#include "core/strings.h"
#include "policy/internal/compiled.h"

namespace straits::policy::internal {

std::int64_t Symbols::intern(const std::string& text) {
  auto [it, inserted] = ids_.emplace(text, static_cast<std::int64_t>(texts_.size()));
  if (inserted) texts_.push_back(text);
  return it->second;
}

std::int64_t Symbols::find(const std::string& text) const {
  auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

namespace {

struct Typed {
  std::int32_t node = -1;
  Type type = Type::kBool;
  const Expr* expr = nullptr;
  const Attribute* attribute = nullptr;  // when the node is a plain attribute
};

std::string describe_expr(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kAttribute: return e.text;
    case Expr::Kind::kNumber: return e.text;
    case Expr::Kind::kString: return "\"" + e.text + "\"";
    case Expr::Kind::kDate: return e.text;
    case Expr::Kind::kBool: return e.boolean ? "true" : "false";
    case Expr::Kind::kAnd: return "an 'and' expression";
    case Expr::Kind::kOr: return "an 'or' expression";
    case Expr::Kind::kNot: return "a 'not' expression";
    case Expr::Kind::kCompare: return "a comparison";
    case Expr::Kind::kInGroup:
    case Expr::Kind::kInList: return "an 'in' test";
  }
  return "an expression";
}

std::string a_type(Type t) {
  switch (t) {
    case Type::kBool: return "true/false";
    case Type::kNumber: return "a number";
    case Type::kString: return "a string";
    case Type::kCountry: return "a country";
    case Type::kDate: return "a date";
  }
  return "?";
}

CompareOp flip(CompareOp op) {
  switch (op) {
    case CompareOp::kLt: return CompareOp::kGt;
    case CompareOp::kLe: return CompareOp::kGe;
    case CompareOp::kGt: return CompareOp::kLt;
    case CompareOp::kGe: return CompareOp::kLe;
    default: return op;
  }
}

std::string action_names(unsigned mask) {
  std::string out;
  for (int a = 0; a < kActionCount; ++a) {
    if (mask & (1u << a)) {
      out += (out.empty() ? "" : ", ") + std::string(to_string(static_cast<Action>(a)));
    }
  }
  return out;
}

class Compiler {
 public:
  Compiler(CompiledPolicy& out, Diagnostics& diagnostics)
      : out_(out), diagnostics_(diagnostics), catalog_(*out.catalog) {}

  void run(std::vector<PackAst>& packs, const ParamOverrides& overrides) {
    intern_catalog();
    add_groups(packs);
    add_params(packs, overrides);
    add_conditions(packs);
    std::vector<const RuleAst*> rules = select_rules(packs);
    for (const RuleAst* rule : rules) compile_rule(*rule);
    std::sort(out_.rules.begin(), out_.rules.end(),
              [](const CompiledRule& a, const CompiledRule& b) { return a.id < b.id; });
    build_epochs();
  }

 private:
  struct ConditionEntry {
    const ConditionAst* ast = nullptr;
    bool valid = true;
  };

  void error(const SourceLocation& where, std::string message) {
    diagnostics_.add(where, std::move(message));
  }

  void intern_catalog() {
    for (const auto& c : catalog_.countries()) out_.symbols.intern(c.code.str());
    for (const auto& x : catalog_.chips()) {
      out_.symbols.intern(x.id.str());
      out_.symbols.intern(x.vendor);
      chip_ids_.push_back(x.id.str());
    }
    for (const auto& x : catalog_.sites()) {
      out_.symbols.intern(x.id.str());
      out_.symbols.intern(x.city);
      site_ids_.push_back(x.id.str());
    }
    for (const auto& x : catalog_.pools()) {
      out_.symbols.intern(x.id.str());
      pool_ids_.push_back(x.id.str());
    }
    for (const auto& x : catalog_.orgs()) {
      out_.symbols.intern(x.id.str());
      org_ids_.push_back(x.id.str());
    }
    for (const auto& x : catalog_.operators()) {
      out_.symbols.intern(x.id.str());
      operator_ids_.push_back(x.id.str());
    }
    for (const auto& x : catalog_.datasets()) {
      out_.symbols.intern(x.id.str());
      dataset_ids_.push_back(x.id.str());
    }
    for (const auto& x : catalog_.licences()) out_.symbols.intern(x.name);
    for (auto c : {catalog::DataClass::kPublic, catalog::DataClass::kPersonal,
                   catalog::DataClass::kImportant}) {
      out_.symbols.intern(std::string(catalog::to_string(c)));
    }
    out_.symbols.intern("");
  }

  std::int32_t add_group_bits(const std::vector<std::int64_t>& members) {
    std::vector<std::uint64_t> bits;
    for (std::int64_t m : members) {
      auto word = static_cast<std::size_t>(m / 64);
      if (bits.size() <= word) bits.resize(word + 1, 0);
      bits[word] |= std::uint64_t{1} << (m % 64);
    }
    out_.groups.push_back(std::move(bits));
    return static_cast<std::int32_t>(out_.groups.size() - 1);
  }

  void add_groups(const std::vector<PackAst>& packs) {
    for (const auto& g : catalog_.groups()) {
      std::vector<std::int64_t> members;
      for (const auto& m : g.members) members.push_back(out_.symbols.find(m.str()));
      group_index_[g.id.str()] = add_group_bits(members);
      group_names_.push_back(g.id.str());
    }
    for (const PackAst& pack : packs) {
      for (const GroupAst& g : pack.groups) {
        if (group_index_.count(g.id)) {
          error(g.where,
                "group '" + g.id + "' is already defined (by the catalog or an earlier pack)");
          continue;
        }
        std::vector<std::int64_t> members;
        bool ok = true;
        for (const auto& [code, where] : g.members) {
          if (catalog_.find_country(CountryCode(code)) == nullptr) {
            error(where,
                  "group '" + g.id + "': '" + code + "' is not a country code in the catalog");
            ok = false;
            continue;
          }
          members.push_back(out_.symbols.find(code));
        }
        if (!ok) continue;
        group_index_[g.id] = add_group_bits(members);
        group_names_.push_back(g.id);
      }
    }
  }

  void add_params(const std::vector<PackAst>& packs, const ParamOverrides& overrides) {
    std::map<std::string, SourceLocation> declared_at;
    for (const PackAst& pack : packs) {
      for (const ParamAst& p : pack.params) {
        auto [it, inserted] = declared_at.emplace(p.name, p.where);
        if (!inserted) {
          error(p.where, "param '" + p.name + "' is already declared at " + to_string(it->second));
          continue;
        }
        out_.params[p.name] = p.value;
      }
    }
    for (const auto& [name, value] : overrides) {
      if (!out_.params.count(name)) {
        std::vector<std::string> known;
        for (const auto& [k, v] : out_.params) known.push_back(k);
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        error(
            SourceLocation{"--param", 0, 0},
            "no loaded pack declares param '" + name + "'" + did_you_mean(name, known) +
                (list.empty() ? " (the loaded packs declare none)" : " (declared: " + list + ")"));
        continue;
      }
      auto date = parse_instant(value);
      if (!date) {
        error(SourceLocation{"--param", 0, 0}, name + ": " + date.error().message());
        continue;
      }
      out_.params[name] = *date;
    }
  }

  // Named conditions are shared by every loaded pack; each is checked once on
  // its own (names and types), and again where a rule uses it (attributes
  // available for that rule's actions).
  void add_conditions(const std::vector<PackAst>& packs) {
    for (const PackAst& pack : packs) {
      for (const ConditionAst& c : pack.conditions) {
        if (c.name == "now" || c.name == "true" || c.name == "false") {
          error(c.where, "'" + c.name + "' cannot name a condition");
          continue;
        }
        auto [it, inserted] = conditions_.emplace(c.name, ConditionEntry{&c, true});
        if (!inserted) {
          error(c.where, "condition '" + c.name + "' is already defined at " +
                             to_string(it->second.ast->where));
        }
      }
    }
    for (auto& [name, entry] : conditions_) {
      std::size_t before = diagnostics_.size();
      subject_ = "condition '" + name + "'";
      rule_actions_ = 0;  // availability is checked where a rule uses it
      expanding_ = {name};
      auto typed = check(*entry.ast->expr);
      if (typed && typed->type != Type::kBool) {
        error(entry.ast->expr->where,
              subject_ + ": a condition must be true/false, got " + a_type(typed->type));
      }
      entry.valid =
          typed.has_value() && typed->type == Type::kBool && diagnostics_.size() == before;
      expanding_.clear();
    }
  }

  // Applies `replaces` across packs and rejects duplicate ids.
  std::vector<const RuleAst*> select_rules(std::vector<PackAst>& packs) {
    std::map<std::string, std::pair<const RuleAst*, std::size_t>> by_id;
    for (std::size_t p = 0; p < packs.size(); ++p) {
      for (const RuleAst& rule : packs[p].rules) {
        if (rule.replaces) {
          auto target = by_id.find(*rule.replaces);
          if (target == by_id.end() || target->second.second >= p) {
            std::vector<std::string> ids;
            for (const auto& [id, entry] : by_id) {
              if (entry.second < p) ids.push_back(id);
            }
            error(rule.replaces_where, "rule '" + rule.id + "' replaces '" + *rule.replaces +
                                           "', which no earlier pack defines" +
                                           did_you_mean(*rule.replaces, ids));
            continue;
          }
          by_id.erase(target);
        }
        auto [it, inserted] = by_id.emplace(rule.id, std::make_pair(&rule, p));
        if (!inserted) {
          error(rule.where, "duplicate rule id '" + rule.id + "' (first defined at " +
                                to_string(it->second.first->where) + ")");
        }
      }
    }
    std::vector<const RuleAst*> rules;
    for (const auto& [id, entry] : by_id) rules.push_back(entry.first);
    return rules;
  }

  std::optional<Instant> resolve_date(const DateRef& ref, const std::string& rule_id) {
    if (ref.date) return ref.date;
    auto it = out_.params.find(ref.param);
    if (it == out_.params.end()) {
      std::vector<std::string> known;
      for (const auto& [k, v] : out_.params) known.push_back(k);
      error(ref.where, "rule '" + rule_id + "': '" + ref.param +
                           "' is neither a date YYYY-MM-DD nor a declared param" +
                           did_you_mean(ref.param, known));
      return std::nullopt;
    }
    return it->second;
  }

  void compile_rule(const RuleAst& rule) {
    std::size_t errors_before = diagnostics_.size();
    const std::string subject = "rule '" + rule.id + "'";
    if (!rule.title) error(rule.where, subject + ": missing 'title'");
    if (!rule.source || rule.source->empty()) {
      error(rule.where, subject + ": missing 'source' (every rule must cite where it comes from)");
    }
    if (!rule.from) error(rule.where, subject + ": missing 'effective FROM ..'");
    if (rule.actions.empty()) error(rule.where, subject + ": missing 'on ACTION'");
    if (rule.effects.empty()) {
      error(rule.where,
            subject + ": missing 'then' (forbid, require licence \"NAME\" or record \"TEXT\")");
    }
    CompiledRule compiled;
    compiled.id = RuleId(rule.id);
    compiled.title = rule.title.value_or("");
    compiled.source = rule.source.value_or("");
    compiled.pack = rule.pack;
    compiled.where = rule.where;
    for (Action a : rule.actions) compiled.actions |= action_bit(a);
    if (rule.from) {
      auto from = resolve_date(*rule.from, rule.id);
      if (from) compiled.from = *from;
      if (rule.until) {
        auto until = resolve_date(*rule.until, rule.id);
        if (until) compiled.until = *until;
        if (from && until && *until <= *from) {
          error(rule.until->where, subject + ": the end (" + to_iso_date(*until) +
                                       ") must be after the start (" + to_iso_date(*from) + ")");
        }
      }
    }
    for (const Effect& e : rule.effects) {
      CompiledEffect effect;
      effect.kind = e.kind;
      effect.text = e.text;
      if (e.kind == EffectKind::kRequireLicence) {
        if (e.text.empty()) error(e.where, subject + ": the licence name is empty");
        effect.licence = out_.symbols.intern(e.text);
      } else if (e.kind == EffectKind::kRecord && e.text.empty()) {
        error(e.where, subject + ": the obligation recorded is empty");
      }
      compiled.effects.push_back(std::move(effect));
    }
    if (rule.when && compiled.actions != 0) {
      rule_actions_ = compiled.actions;
      subject_ = subject;
      uses_dataset_ = false;
      auto root = check(*rule.when);
      if (root && root->type != Type::kBool) {
        error(rule.when->where, subject + ": 'when' needs a true/false condition, got " +
                                    a_type(root->type) + " (" + describe_expr(*rule.when) + ")");
      } else if (root) {
        compiled.root = root->node;
      }
      compiled.uses_dataset = uses_dataset_;
    }
    if (diagnostics_.size() == errors_before) out_.rules.push_back(std::move(compiled));
  }

  std::int32_t emit(Node node, const std::vector<std::int32_t>& kids = {}) {
    node.kids_begin = static_cast<std::uint32_t>(out_.kids.size());
    for (std::int32_t k : kids) out_.kids.push_back(static_cast<std::uint32_t>(k));
    node.kids_end = static_cast<std::uint32_t>(out_.kids.size());
    out_.nodes.push_back(node);
    return static_cast<std::int32_t>(out_.nodes.size() - 1);
  }

  // A string literal takes the type of what it is compared with: a country
  // code must exist, an id must name a catalog entity.
  std::optional<Typed> literal_for(const Expr& e, const Typed& other) {
    Node n;
    n.op = Node::Op::kConst;
    if (other.type == Type::kCountry) {
      if (catalog_.find_country(CountryCode(e.text)) == nullptr) {
        std::string hint;
        for (const auto& c : catalog_.countries()) {
          std::string upper = e.text;
          for (char& ch : upper)
            ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
          if (c.code.str() == upper || c.name == e.text)
            hint = " (did you mean '" + c.code.str() + "'?)";
        }
        error(e.where,
              subject_ + ": \"" + e.text + "\" is not a country code in the catalog" + hint);
        return std::nullopt;
      }
      n.constant = out_.symbols.find(e.text);
      return Typed{emit(n), Type::kCountry, &e};
    }
    if (other.attribute != nullptr) {
      const std::vector<std::string>* ids = nullptr;
      const char* kind = "";
      switch (other.attribute->slot) {
        case kChipId:
          ids = &chip_ids_;
          kind = "chip";
          break;
        case kSiteId:
          ids = &site_ids_;
          kind = "site";
          break;
        case kPoolId:
          ids = &pool_ids_;
          kind = "pool";
          break;
        case kOrgId:
          ids = &org_ids_;
          kind = "org";
          break;
        case kOperatorId:
          ids = &operator_ids_;
          kind = "operator";
          break;
        case kDatasetId:
          ids = &dataset_ids_;
          kind = "dataset";
          break;
        case kDatasetClass: {
          static const std::vector<std::string> kClasses = {"public", "personal", "important"};
          if (std::find(kClasses.begin(), kClasses.end(), e.text) == kClasses.end()) {
            error(e.where, subject_ + ": dataset.class is public, personal or important, not \"" +
                               e.text + "\"" + did_you_mean(e.text, kClasses));
            return std::nullopt;
          }
          break;
        }
        default: break;
      }
      if (ids != nullptr && std::find(ids->begin(), ids->end(), e.text) == ids->end()) {
        error(e.where, subject_ + ": no " + kind + " '" + e.text + "' in the catalog" +
                           did_you_mean(e.text, *ids));
        return std::nullopt;
      }
    }
    n.constant = out_.symbols.intern(e.text);
    return Typed{emit(n), Type::kString, &e};
  }

  // Types and compiles an expression; nullopt (with its errors reported)
  // when it does not check.
  std::optional<Typed> check(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kAttribute: return check_name(e);
      case Expr::Kind::kNumber:
        return constant(e, Type::kNumber, std::bit_cast<std::int64_t>(e.number));
      case Expr::Kind::kDate: return constant(e, Type::kDate, e.date.unix_microseconds());
      case Expr::Kind::kBool: return constant(e, Type::kBool, e.boolean ? 1 : 0);
      case Expr::Kind::kString: {
        Typed string_context;
        string_context.type = Type::kString;
        return literal_for(e, string_context);
      }
      case Expr::Kind::kAnd:
      case Expr::Kind::kOr: return check_and_or(e);
      case Expr::Kind::kNot: return check_not(e);
      case Expr::Kind::kCompare: return check_compare(e);
      case Expr::Kind::kInGroup: return check_in_group(e);
      case Expr::Kind::kInList: return check_in_list(e);
    }
    return std::nullopt;
  }

  static Node node(Node::Op op, bool negated = false) {
    Node n;
    n.op = op;
    n.negated = negated;
    return n;
  }
  // A true/false node over `kids`, typing `e`.
  Typed boolean(const Expr& e, const Node& n, const std::vector<std::int32_t>& kids = {}) {
    return Typed{emit(n, kids), Type::kBool, &e};
  }

  std::optional<Typed> constant(const Expr& e, Type type, std::int64_t value) {
    Node n;
    n.op = type == Type::kBool && value != 0 ? Node::Op::kTrue : Node::Op::kConst;
    n.constant = value;
    return Typed{emit(n), type, &e};
  }

  // A name: an attribute of the table, or a named condition expanded in place.
  std::optional<Typed> check_name(const Expr& e) {
    const Attribute* a = find_attribute(e.text);
    auto condition = conditions_.find(e.text);
    if (a == nullptr && condition != conditions_.end()) return expand(e, condition->second);
    if (a == nullptr) {
      std::vector<std::string> names;
      for (const Attribute& x : attributes()) names.emplace_back(x.name);
      for (const auto& [name, entry] : conditions_) names.push_back(name);
      error(e.where,
            subject_ + ": unknown attribute '" + e.text + "'" + did_you_mean(e.text, names));
      return std::nullopt;
    }
    unsigned missing = rule_actions_ & ~a->actions;
    if (missing != 0) {
      error(e.where, subject_ + ": attribute '" + e.text + "' is not available for action " +
                         action_names(missing) + " (it is available for " +
                         action_names(a->actions) + ")");
      return std::nullopt;
    }
    if (a->is_dataset()) uses_dataset_ = true;
    Node n;
    n.op = a->type == Type::kBool ? Node::Op::kAttrBool : Node::Op::kAttr;
    n.slot = a->slot;
    n.type = a->type;
    return Typed{emit(n), a->type, &e, a};
  }

  std::optional<Typed> expand(const Expr& e, const ConditionEntry& condition) {
    if (std::find(expanding_.begin(), expanding_.end(), e.text) != expanding_.end()) {
      error(e.where, subject_ + ": condition '" + e.text + "' refers to itself");
      return std::nullopt;
    }
    if (!condition.valid) return std::nullopt;  // reported where it is defined
    expanding_.push_back(e.text);
    auto typed = check(*condition.ast->expr);
    expanding_.pop_back();
    if (typed) typed->attribute = nullptr;
    return typed;
  }

  std::optional<Typed> check_and_or(const Expr& e) {
    std::vector<std::int32_t> kids;
    bool ok = true;
    for (const auto& child : e.children) {
      auto t = check(*child);
      if (!t) {
        ok = false;
        continue;
      }
      if (t->type != Type::kBool) {
        error(child->where, subject_ + ": '" + (e.kind == Expr::Kind::kAnd ? "and" : "or") +
                                "' needs true/false on each side; " + describe_expr(*child) +
                                " is " + a_type(t->type));
        ok = false;
        continue;
      }
      kids.push_back(t->node);
    }
    if (!ok) return std::nullopt;
    return boolean(e, node(e.kind == Expr::Kind::kAnd ? Node::Op::kAnd : Node::Op::kOr), kids);
  }

  std::optional<Typed> check_not(const Expr& e) {
    auto t = check(*e.children[0]);
    if (!t) return std::nullopt;
    if (t->type != Type::kBool) {
      error(e.children[0]->where, subject_ + ": 'not' needs true/false; " +
                                      describe_expr(*e.children[0]) + " is " + a_type(t->type));
      return std::nullopt;
    }
    return boolean(e, node(Node::Op::kNot), {t->node});
  }

  std::optional<Typed> check_in_group(const Expr& e) {
    auto t = check(*e.children[0]);
    if (!t) return std::nullopt;
    auto g = group_index_.find(e.text);
    bool ok = true;
    if (g == group_index_.end()) {
      error(e.where,
            subject_ + ": unknown group '" + e.text + "'" + did_you_mean(e.text, group_names_));
      ok = false;
    }
    if (t->type != Type::kCountry) {
      error(e.children[0]->where, subject_ + ": 'in group' needs a country; " +
                                      describe_expr(*e.children[0]) + " is " + a_type(t->type));
      ok = false;
    }
    if (!ok) return std::nullopt;
    Node n = node(Node::Op::kInGroup, e.negated);
    n.group = g->second;
    return boolean(e, n, {t->node});
  }

  std::optional<Typed> check_in_list(const Expr& e) {
    auto left = check_operand(*e.children[0], nullptr);
    if (!left) return std::nullopt;
    std::vector<std::int32_t> kids = {left->node};
    bool ok = true;
    for (std::size_t i = 1; i < e.children.size(); ++i) {
      auto item = check_operand(*e.children[i], &*left);
      if (!item) {
        ok = false;
        continue;
      }
      if (item->type != left->type) {
        error(e.children[i]->where, subject_ + ": list item " + describe_expr(*e.children[i]) +
                                        " is " + a_type(item->type) + ", but " +
                                        describe_expr(*e.children[0]) + " is " +
                                        a_type(left->type));
        ok = false;
        continue;
      }
      kids.push_back(item->node);
    }
    if (left->type == Type::kBool) {
      error(e.where, subject_ + ": 'in' does not apply to true/false values");
      ok = false;
    }
    if (!ok) return std::nullopt;
    Node n = node(Node::Op::kInList, e.negated);
    n.type = left->type;
    return boolean(e, n, kids);
  }

  // An operand of a comparison: string literals take the other side's type.
  std::optional<Typed> check_operand(const Expr& e, const Typed* other) {
    if (e.kind == Expr::Kind::kString && other != nullptr) return literal_for(e, *other);
    return check(e);
  }

  std::optional<Typed> check_compare(const Expr& e) {
    const Expr& lhs = *e.children[0];
    const Expr& rhs = *e.children[1];
    // Type the non-literal side first so that a string literal can take its type.
    bool lhs_literal = lhs.kind == Expr::Kind::kString;
    std::optional<Typed> left, right;
    if (lhs_literal) {
      right = check_operand(rhs, nullptr);
      if (!right) return std::nullopt;
      left = check_operand(lhs, &*right);
    } else {
      left = check_operand(lhs, nullptr);
      if (!left) return std::nullopt;
      right = check_operand(rhs, &*left);
    }
    if (!left || !right) return std::nullopt;
    if (left->type != right->type) {
      error(e.where, subject_ + ": type mismatch: " + describe_expr(lhs) + " is " +
                         a_type(left->type) + ", " + describe_expr(rhs) + " is " +
                         a_type(right->type));
      return std::nullopt;
    }
    bool ordering = e.op != CompareOp::kEq && e.op != CompareOp::kNe;
    if (ordering && left->type != Type::kNumber && left->type != Type::kDate) {
      error(e.where, subject_ + ": '" + std::string(to_string(e.op)) +
                         "' needs numbers or dates; " + describe_expr(lhs) + " is " +
                         a_type(left->type));
      return std::nullopt;
    }
    Node n;
    n.type = left->type;
    n.cmp = e.op;
    const Node& l = out_.nodes[static_cast<std::size_t>(left->node)];
    const Node& r = out_.nodes[static_cast<std::size_t>(right->node)];
    auto is_attr = [](const Node& x) {
      return x.op == Node::Op::kAttr || x.op == Node::Op::kAttrBool;
    };
    auto is_const = [](const Node& x) {
      return x.op == Node::Op::kConst || x.op == Node::Op::kTrue;
    };
    if (is_attr(l) && is_const(r)) {
      n.op = Node::Op::kCompareAttrConst;
      n.slot = l.slot;
      n.constant = r.constant;
      return Typed{emit(n), Type::kBool, &e};
    }
    if (is_const(l) && is_attr(r)) {
      n.op = Node::Op::kCompareAttrConst;
      n.slot = r.slot;
      n.constant = l.constant;
      n.cmp = flip(e.op);
      return Typed{emit(n), Type::kBool, &e};
    }
    n.op = Node::Op::kCompare;
    return Typed{emit(n, {left->node, right->node}), Type::kBool, &e};
  }

  void build_epochs() {
    std::set<std::int64_t> cuts;
    for (const CompiledRule& r : out_.rules) {
      if (r.from != Instant::min()) cuts.insert(r.from.unix_microseconds());
      if (r.until != Instant::max()) cuts.insert(r.until.unix_microseconds());
      for (int a = 0; a < kActionCount; ++a) {
        if (r.actions & (1u << a)) {
          auto& b = out_.action_boundaries[static_cast<std::size_t>(a)];
          if (r.from != Instant::min()) b.push_back(r.from.unix_microseconds());
          if (r.until != Instant::max()) b.push_back(r.until.unix_microseconds());
        }
      }
    }
    for (auto& b : out_.action_boundaries) {
      std::sort(b.begin(), b.end());
      b.erase(std::unique(b.begin(), b.end()), b.end());
    }
    out_.boundaries.assign(cuts.begin(), cuts.end());
    std::size_t epochs = out_.boundaries.size() + 1;
    out_.active.assign(epochs * kActionCount, {});
    for (std::size_t e = 0; e < epochs; ++e) {
      // A representative instant of the epoch: its start (or the dawn of time).
      std::int64_t t = e == 0 ? INT64_MIN : out_.boundaries[e - 1];
      for (std::uint32_t i = 0; i < out_.rules.size(); ++i) {
        const CompiledRule& r = out_.rules[i];
        if (r.from.unix_microseconds() > t || r.until.unix_microseconds() <= t) continue;
        for (int a = 0; a < kActionCount; ++a) {
          if (r.actions & (1u << a))
            out_.active[e * kActionCount + static_cast<std::size_t>(a)].push_back(i);
        }
      }
    }
  }

  CompiledPolicy& out_;
  Diagnostics& diagnostics_;
  const catalog::Catalog& catalog_;
  std::map<std::string, std::int32_t> group_index_;
  std::vector<std::string> group_names_;
  std::vector<std::string> chip_ids_, site_ids_, pool_ids_, org_ids_, operator_ids_, dataset_ids_;
  unsigned rule_actions_ = 0;
  std::string subject_;  // "rule 'x'" or "condition 'y'", to start messages
  std::map<std::string, ConditionEntry> conditions_;
  std::vector<std::string> expanding_;  // conditions being expanded, to catch cycles
  bool uses_dataset_ = false;
};

}  // namespace

void compile_packs(std::vector<PackAst>& packs, const ParamOverrides& overrides,
                   CompiledPolicy& out, Diagnostics& diagnostics) {
  Compiler(out, diagnostics).run(packs, overrides);
}

}  // namespace straits::policy::internal
