#include "policy/internal/parser.h"

#include <set>

#include "core/strings.h"
#include "policy/internal/lexer.h"

namespace straits::policy::internal {
namespace {

// Thrown inside the parser only, caught at the rule (or top-level item) it
// belongs to; never crosses the module.
struct SyntaxError {};

const std::vector<std::string> kClauses = {"title", "source", "note", "effective",
                                           "on",    "when",   "then", "replaces"};
const std::vector<std::string> kActions = {"ship", "lease", "run", "transfer"};
const std::vector<std::string> kTopLevel = {"rule", "group", "param", "condition"};

class Parser {
 public:
  Parser(std::string_view text, std::string file, PackAst& pack, Diagnostics& diagnostics)
      : tokens_(lex(text)), file_(std::move(file)), pack_(pack), diagnostics_(diagnostics) {}

  void parse_file() {
    while (!at(TokenKind::kEnd)) {
      std::size_t before = pos_;
      nesting_ = 0;
      try {
        if (at_word("rule")) {
          parse_rule();
        } else if (at_word("group")) {
          parse_group();
        } else if (at_word("param")) {
          parse_param();
        } else if (at_word("condition")) {
          parse_condition();
        } else {
          std::string hint;
          if (peek().kind == TokenKind::kWord) hint = did_you_mean(peek().text, kTopLevel);
          error(peek(),
                "expected 'rule', 'condition', 'group' or 'param', got " + describe(peek()) + hint);
          throw SyntaxError{};
        }
      } catch (const SyntaxError&) {
        recover_top_level(before);
      }
    }
  }

 private:
  const Token& peek(std::size_t ahead = 0) const {
    std::size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  bool at(TokenKind kind) const { return peek().kind == kind; }
  bool at_word(std::string_view word) const {
    return peek().kind == TokenKind::kWord && peek().text == word;
  }
  const Token& advance() {
    const Token& t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  SourceLocation where(const Token& t) const { return SourceLocation{file_, t.line, t.column}; }

  void error(const Token& t, const std::string& message) {
    // An invalid token says itself what is wrong.
    if (t.kind == TokenKind::kInvalid) {
      diagnostics_.add(where(t), t.text);
    } else {
      diagnostics_.add(where(t), message);
    }
  }

  const Token& expect(TokenKind kind, const std::string& what) {
    if (!at(kind)) {
      error(peek(), "expected " + what + ", got " + describe(peek()));
      throw SyntaxError{};
    }
    return advance();
  }

  void expect_word(std::string_view word) {
    if (!at_word(word)) {
      error(peek(), "expected '" + std::string(word) + "', got " + describe(peek()));
      throw SyntaxError{};
    }
    advance();
  }

  std::string expect_string(const std::string& what) {
    return expect(TokenKind::kString, what + " (a string in double quotes)").text;
  }

  // A rule id: words joined by dots, which the lexer already keeps in one word.
  std::string expect_name(const std::string& what) {
    if (!at(TokenKind::kWord)) {
      error(peek(), "expected " + what + ", got " + describe(peek()));
      throw SyntaxError{};
    }
    return advance().text;
  }

  // After an error: skip to the end of the broken item. Inside a rule that is
  // its closing brace; braces nest.
  void recover_top_level(std::size_t item_start) {
    if (pos_ == item_start) advance();
    int depth = 0;
    // Count the braces already consumed by the broken item.
    for (std::size_t i = item_start; i < pos_; ++i) {
      if (tokens_[i].kind == TokenKind::kLBrace) ++depth;
      if (tokens_[i].kind == TokenKind::kRBrace) --depth;
    }
    while (!at(TokenKind::kEnd)) {
      if (depth <= 0 && peek().kind == TokenKind::kWord &&
          (peek().text == "rule" || peek().text == "group" || peek().text == "param" ||
           peek().text == "condition") &&
          peek().column == 1) {
        return;
      }
      if (at(TokenKind::kLBrace)) ++depth;
      if (at(TokenKind::kRBrace)) {
        --depth;
        advance();
        if (depth <= 0) return;
        continue;
      }
      advance();
    }
  }

  void parse_param() {
    const Token& keyword = advance();
    std::string name = expect_name("a param name");
    expect(TokenKind::kAssign, "'='");
    const Token& value = expect(TokenKind::kDate, "a date YYYY-MM-DD");
    auto date = parse_instant(value.text);
    if (!date) {
      error(value, date.error().message());
      return;
    }
    pack_.params.push_back(ParamAst{name, *date, where(keyword)});
  }

  void parse_condition() {
    const Token& keyword = advance();
    ConditionAst condition;
    condition.where = where(keyword);
    const Token& name = peek();
    condition.name = expect_name("a condition name");
    if (condition.name.find('.') != std::string::npos) {
      error(name, "a condition name has no dots (dots belong to attributes such as chip.tpp)");
      throw SyntaxError{};
    }
    expect(TokenKind::kAssign, "'=' after the condition name");
    condition.expr = parse_or();
    pack_.conditions.push_back(std::move(condition));
  }

  void parse_group() {
    const Token& keyword = advance();
    GroupAst group;
    group.where = where(keyword);
    group.id = expect_name("a group name");
    expect(TokenKind::kLBrace, "'{'");
    std::set<std::string> seen;
    while (!at(TokenKind::kRBrace)) {
      const Token& field = peek();
      std::string name = expect_name("'label', 'members' or 'source'");
      if (!seen.insert(name).second) error(field, "'" + name + "' is given twice");
      if (name == "label") {
        group.label = expect_string("a label");
      } else if (name == "source") {
        group.source = expect_string("a source");
      } else if (name == "members") {
        expect(TokenKind::kLBracket, "'['");
        while (true) {
          const Token& member = expect(TokenKind::kString, "a country code in double quotes");
          group.members.emplace_back(member.text, where(member));
          if (at(TokenKind::kComma)) {
            advance();
            continue;
          }
          break;
        }
        expect(TokenKind::kRBracket, "']'");
      } else {
        error(field, "unknown group field '" + name + "'" +
                         did_you_mean(name, {{"label", "members", "source"}}));
        throw SyntaxError{};
      }
    }
    advance();
    if (group.source.empty())
      diagnostics_.add(group.where, "group '" + group.id + "': missing 'source'");
    if (group.members.empty()) {
      diagnostics_.add(group.where, "group '" + group.id + "': missing 'members'");
    }
    pack_.groups.push_back(std::move(group));
  }

  DateRef parse_date_ref() {
    DateRef ref;
    const Token& t = peek();
    ref.where = where(t);
    if (at(TokenKind::kDate)) {
      auto date = parse_instant(advance().text);
      if (!date) {
        error(t, date.error().message());
        throw SyntaxError{};
      }
      ref.date = *date;
    } else if (at(TokenKind::kWord)) {
      ref.param = advance().text;
    } else {
      error(t, "expected a date YYYY-MM-DD or a param name, got " + describe(t));
      throw SyntaxError{};
    }
    return ref;
  }

  Effect parse_effect() {
    Effect effect;
    const Token& t = peek();
    effect.where = where(t);
    if (at_word("forbid")) {
      advance();
      effect.kind = EffectKind::kForbid;
    } else if (at_word("require")) {
      advance();
      expect_word("licence");
      effect.kind = EffectKind::kRequireLicence;
      effect.text = expect_string("a licence name");
    } else if (at_word("record")) {
      advance();
      effect.kind = EffectKind::kRecord;
      effect.text = expect_string("an obligation");
    } else {
      std::string hint =
          t.kind == TokenKind::kWord ? did_you_mean(t.text, {{"forbid", "require", "record"}}) : "";
      error(t, "expected 'forbid', 'require licence \"NAME\"' or 'record \"TEXT\"', got " +
                   describe(t) + hint);
      throw SyntaxError{};
    }
    return effect;
  }

  void parse_rule() {
    const Token& keyword = advance();
    RuleAst rule;
    rule.where = where(keyword);
    rule.pack = pack_.name;
    rule.id = expect_name("a rule id");
    expect(TokenKind::kLBrace, "'{' after the rule id");
    std::set<std::string> seen;
    while (!at(TokenKind::kRBrace)) {
      const Token& clause = peek();
      if (clause.kind != TokenKind::kWord) {
        error(clause,
              "expected a clause (title, source, effective, on, when, then, ...) or '}', got " +
                  describe(clause));
        throw SyntaxError{};
      }
      std::string name = clause.text;
      advance();
      if (name != "then" && !seen.insert(name).second) {
        error(clause, "rule '" + rule.id + "': '" + name + "' is given twice");
      }
      if (name == "title") {
        rule.title = expect_string("a title");
      } else if (name == "source") {
        rule.source = expect_string("a source");
      } else if (name == "note") {
        rule.note = expect_string("a note");
      } else if (name == "effective") {
        rule.from = parse_date_ref();
        expect(TokenKind::kDotDot, "'..' (effective FROM .. or FROM .. UNTIL)");
        if (at(TokenKind::kDate) ||
            (at(TokenKind::kWord) &&
             std::find(kClauses.begin(), kClauses.end(), peek().text) == kClauses.end())) {
          rule.until = parse_date_ref();
        }
      } else if (name == "on") {
        rule.actions_where = where(peek());
        while (true) {
          const Token& a = peek();
          std::string word = expect_name("an action (ship, lease, run, transfer)");
          auto action = parse_action(word);
          if (!action) {
            error(a, "unknown action '" + word + "'" + did_you_mean(word, kActions) +
                         "; actions are ship, lease, run, transfer");
            throw SyntaxError{};
          }
          if (std::find(rule.actions.begin(), rule.actions.end(), *action) != rule.actions.end()) {
            error(a, "action '" + word + "' is listed twice");
          } else {
            rule.actions.push_back(*action);
          }
          if (!at(TokenKind::kComma)) break;
          advance();
        }
      } else if (name == "when") {
        rule.when = parse_or();
      } else if (name == "then") {
        rule.effects.push_back(parse_effect());
      } else if (name == "replaces") {
        rule.replaces_where = where(peek());
        rule.replaces = expect_name("the id of the rule replaced");
      } else {
        error(clause, "unknown clause '" + name + "'" + did_you_mean(name, kClauses));
        throw SyntaxError{};
      }
    }
    advance();  // '}'
    pack_.rules.push_back(std::move(rule));
  }

  std::unique_ptr<Expr> node(Expr::Kind kind, const Token& at_token) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->where = where(at_token);
    return e;
  }

  std::unique_ptr<Expr> parse_or() {
    const Token& first = peek();
    auto left = parse_and();
    if (!at_word("or")) return left;
    auto e = node(Expr::Kind::kOr, first);
    e->children.push_back(std::move(left));
    while (at_word("or")) {
      advance();
      e->children.push_back(parse_and());
    }
    return e;
  }

  std::unique_ptr<Expr> parse_and() {
    const Token& first = peek();
    auto left = parse_unary();
    if (!at_word("and")) return left;
    auto e = node(Expr::Kind::kAnd, first);
    e->children.push_back(std::move(left));
    while (at_word("and")) {
      advance();
      e->children.push_back(parse_unary());
    }
    return e;
  }

  // Expressions nest through '(' and 'not'; a limit keeps recursion (here,
  // in the checker and in evaluation) far from the stack's end.
  static constexpr int kMaxNesting = 64;

  void enter(const Token& t) {
    if (++nesting_ > kMaxNesting) {
      error(t, "expression nested more than " + std::to_string(kMaxNesting) + " levels deep");
      throw SyntaxError{};
    }
  }

  std::unique_ptr<Expr> parse_unary() {
    if (at_word("not")) {
      enter(peek());
      auto e = node(Expr::Kind::kNot, advance());
      e->children.push_back(parse_unary());
      --nesting_;
      return e;
    }
    return parse_compare();
  }

  std::unique_ptr<Expr> parse_list_or_group(std::unique_ptr<Expr> left, bool negated,
                                            const Token& op_token) {
    if (at_word("group")) {
      advance();
      auto e = node(Expr::Kind::kInGroup, op_token);
      e->negated = negated;
      e->text = expect_name("a group name");
      e->children.push_back(std::move(left));
      return e;
    }
    if (at(TokenKind::kLBracket)) {
      advance();
      auto e = node(Expr::Kind::kInList, op_token);
      e->negated = negated;
      e->children.push_back(std::move(left));
      while (true) {
        e->children.push_back(parse_value());
        if (!at(TokenKind::kComma)) break;
        advance();
      }
      expect(TokenKind::kRBracket, "']' or ','");
      return e;
    }
    error(peek(), "expected 'group NAME' or a list '[...]' after 'in', got " + describe(peek()));
    throw SyntaxError{};
  }

  std::unique_ptr<Expr> parse_compare() {
    auto left = parse_value();
    const Token& t = peek();
    CompareOp op;
    switch (t.kind) {
      case TokenKind::kEq: op = CompareOp::kEq; break;
      case TokenKind::kNe: op = CompareOp::kNe; break;
      case TokenKind::kLt: op = CompareOp::kLt; break;
      case TokenKind::kLe: op = CompareOp::kLe; break;
      case TokenKind::kGt: op = CompareOp::kGt; break;
      case TokenKind::kGe: op = CompareOp::kGe; break;
      case TokenKind::kAssign: error(t, "'=' is not a comparison; write '=='"); throw SyntaxError{};
      case TokenKind::kWord:
        if (t.text == "in") {
          advance();
          return parse_list_or_group(std::move(left), false, t);
        }
        if (t.text == "not" && peek(1).kind == TokenKind::kWord && peek(1).text == "in") {
          advance();
          advance();
          return parse_list_or_group(std::move(left), true, t);
        }
        return left;
      default: return left;
    }
    advance();
    auto e = node(Expr::Kind::kCompare, t);
    e->op = op;
    e->children.push_back(std::move(left));
    e->children.push_back(parse_value());
    return e;
  }

  std::unique_ptr<Expr> parse_value() {
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::kNumber: {
        auto e = node(Expr::Kind::kNumber, advance());
        e->number = t.number;
        e->text = t.text;
        return e;
      }
      case TokenKind::kString: {
        auto e = node(Expr::Kind::kString, advance());
        e->text = t.text;
        return e;
      }
      case TokenKind::kDate: {
        auto date = parse_instant(t.text);
        if (!date) {
          error(t, date.error().message());
          throw SyntaxError{};
        }
        auto e = node(Expr::Kind::kDate, advance());
        e->date = *date;
        e->text = t.text;
        return e;
      }
      case TokenKind::kLParen: {
        enter(t);
        advance();
        auto inner = parse_or();
        expect(TokenKind::kRParen, "')'");
        --nesting_;
        return inner;
      }
      case TokenKind::kWord: {
        if (t.text == "true" || t.text == "false") {
          auto e = node(Expr::Kind::kBool, advance());
          e->boolean = t.text == "true";
          return e;
        }
        static const std::set<std::string> kReserved = {"and",   "or",     "not",  "in",
                                                        "then",  "when",   "on",   "effective",
                                                        "title", "source", "note", "replaces"};
        if (kReserved.count(t.text)) {
          error(t, "expected a value (an attribute, number, string or date), got " + describe(t));
          throw SyntaxError{};
        }
        auto e = node(Expr::Kind::kAttribute, advance());
        e->text = t.text;
        return e;
      }
      default:
        error(t, "expected a value (an attribute, number, string or date), got " + describe(t));
        throw SyntaxError{};
    }
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int nesting_ = 0;
  std::string file_;
  PackAst& pack_;
  Diagnostics& diagnostics_;
};

}  // namespace

std::string_view to_string(CompareOp op) {
  switch (op) {
    case CompareOp::kEq: return "==";
    case CompareOp::kNe: return "!=";
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
  }
  return "?";
}

void parse_rule_file(std::string_view text, const std::string& file_name, PackAst& pack,
                     Diagnostics& diagnostics) {
  Parser(text, file_name, pack, diagnostics).parse_file();
}

}  // namespace straits::policy::internal
