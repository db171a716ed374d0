// Export of compiled rules to Cedar policy text and of subjects to Cedar
// request contexts. Numbers become Longs exactly: each numeric attribute gets
// a power-of-ten scale at which every constant it is compared with is whole,
// and a value v is encoded as 2*floor(v*scale) + (fractional part ? 1 : 0),
// a constant c as 2*c*scale, which keeps <, <=, ==, >=, > exact.
#include <bit>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "policy/engine.h"
#include "policy/internal/compiled.h"

namespace straits::policy {
namespace {

using internal::CompiledPolicy;
using internal::Node;
using internal::Type;

std::string context_key(const internal::Attribute& a) {
  std::string key(a.name);
  for (char& c : key) {
    if (c == '.') c = '_';
  }
  return key;
}

const internal::Attribute& attribute_of_slot(std::uint8_t slot) {
  return internal::attributes()[slot];  // a slot is its row's position
}

// Concatenation through append: GCC 12 warns (-Wrestrict, falsely) on chains
// of operator+ that start with a literal.
std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// The smallest power of ten at which `c` is a whole number (k may be negative).
std::optional<int> decimals_needed(double c) {
  if (c == 0) return 0;
  for (int k = -18; k <= 9; ++k) {
    double scaled = c * std::pow(10.0, k);
    if (std::fabs(scaled) < 0.5) continue;  // rounds to zero: not yet whole
    if (std::fabs(scaled) > 1e15) return std::nullopt;
    if (std::fabs(scaled - std::round(scaled)) <= 1e-9 * std::max(1.0, std::fabs(scaled))) {
      return k;
    }
  }
  return std::nullopt;
}

long long encode_value(double v, int k) {
  double scaled = v * std::pow(10.0, k);
  double whole = std::floor(scaled);
  return static_cast<long long>(whole) * 2 + (scaled > whole ? 1 : 0);
}

long long encode_constant(double c, int k) {
  return static_cast<long long>(std::llround(c * std::pow(10.0, k))) * 2;
}

class CedarWriter {
 public:
  explicit CedarWriter(const CompiledPolicy& c) : c_(c) {}

  Status scan_scales() {
    for (const Node& n : c_.nodes) {
      if (n.op == Node::Op::kCompareAttrConst && n.type == Type::kNumber) {
        STRAITS_TRY(note_constant(n.slot, std::bit_cast<double>(n.constant)));
      }
      if ((n.op == Node::Op::kCompare || n.op == Node::Op::kInList) && n.type == Type::kNumber) {
        std::optional<std::uint8_t> slot;
        for (std::uint32_t k = n.kids_begin; k < n.kids_end; ++k) {
          const Node& kid = c_.nodes[c_.kids[k]];
          if (kid.op == Node::Op::kAttr) {
            if (slot && *slot != kid.slot) {
              return Error(ErrorCode::kInvalidArgument,
                           "comparing two numeric attributes has no exact Cedar encoding");
            }
            slot = kid.slot;
          }
        }
        for (std::uint32_t k = n.kids_begin; k < n.kids_end && slot; ++k) {
          const Node& kid = c_.nodes[c_.kids[k]];
          if (kid.op == Node::Op::kConst) {
            STRAITS_TRY(note_constant(*slot, std::bit_cast<double>(kid.constant)));
          }
        }
      }
    }
    return ok();
  }

  int scale_of(std::uint8_t slot) const {
    auto it = scales_.find(slot);
    return it == scales_.end() ? 0 : it->second;
  }

  std::string value(std::uint32_t index, std::uint8_t number_slot) const {
    const Node& n = c_.nodes[index];
    if (n.op == Node::Op::kAttr || n.op == Node::Op::kAttrBool) {
      return "context." + context_key(attribute_of_slot(n.slot));
    }
    return literal(n.type == Type::kBool ? Type::kBool : n.type, n.constant, number_slot, index);
  }

  // A constant of `type`; numbers at the scale of the slot they meet.
  std::string literal(Type type, std::int64_t constant, std::uint8_t number_slot,
                      std::uint32_t) const {
    switch (type) {
      case Type::kNumber:
        return std::to_string(
            encode_constant(std::bit_cast<double>(constant), scale_of(number_slot)));
      case Type::kDate: return std::to_string(constant);
      case Type::kBool: return constant != 0 ? "true" : "false";
      default: return quote(c_.symbols.text(constant));
    }
  }

  std::string expr(std::uint32_t index) const {
    const Node& n = c_.nodes[index];
    auto cmp = [](internal::CompareOp op) { return std::string(internal::to_string(op)); };
    switch (n.op) {
      case Node::Op::kTrue: return "true";
      case Node::Op::kConst: return n.constant != 0 ? "true" : "false";
      case Node::Op::kAttrBool:
      case Node::Op::kAttr: return "context." + context_key(attribute_of_slot(n.slot));
      case Node::Op::kAnd:
      case Node::Op::kOr: {
        std::string out = "(";
        for (std::uint32_t k = n.kids_begin; k < n.kids_end; ++k) {
          if (k != n.kids_begin) out += n.op == Node::Op::kAnd ? " && " : " || ";
          out += expr(c_.kids[k]);
        }
        return out + ")";
      }
      case Node::Op::kNot: return "!(" + expr(c_.kids[n.kids_begin]) + ")";
      case Node::Op::kCompareAttrConst: {
        // Stored types: the operands' type.
        std::string lhs = "context." + context_key(attribute_of_slot(n.slot));
        std::string rhs = n.type == Type::kString || n.type == Type::kCountry
                              ? quote(c_.symbols.text(n.constant))
                              : literal(n.type, n.constant, n.slot, 0);
        return join({"(", lhs, " ", cmp(n.cmp), " ", rhs, ")"});
      }
      case Node::Op::kCompare: {
        std::uint8_t slot = number_slot_of(n);
        return join({"(", value(c_.kids[n.kids_begin], slot), " ", cmp(n.cmp), " ",
                     value(c_.kids[n.kids_begin + 1], slot), ")"});
      }
      case Node::Op::kInGroup: {
        std::string set = "[";
        const auto& bits = c_.groups[static_cast<std::size_t>(n.group)];
        bool first = true;
        for (std::size_t w = 0; w < bits.size(); ++w) {
          for (int b = 0; b < 64; ++b) {
            if ((bits[w] >> b) & 1u) {
              set += (first ? "" : ", ") +
                     quote(c_.symbols.text(static_cast<std::int64_t>(w * 64 + b)));
              first = false;
            }
          }
        }
        set += "]";
        std::string test = set + ".contains(" + value(c_.kids[n.kids_begin], 0) + ")";
        if (n.negated) test.insert(0, 1, '!');
        return test;
      }
      case Node::Op::kInList: {
        std::uint8_t slot = number_slot_of(n);
        std::string set = "[";
        for (std::uint32_t k = n.kids_begin + 1; k < n.kids_end; ++k) {
          set += (k == n.kids_begin + 1 ? "" : ", ") + value(c_.kids[k], slot);
        }
        set += "]";
        std::string test = set + ".contains(" + value(c_.kids[n.kids_begin], slot) + ")";
        if (n.negated) test.insert(0, 1, '!');
        return test;
      }
    }
    return "false";
  }

 private:
  std::uint8_t number_slot_of(const Node& n) const {
    for (std::uint32_t k = n.kids_begin; k < n.kids_end; ++k) {
      const Node& kid = c_.nodes[c_.kids[k]];
      if (kid.op == Node::Op::kAttr) return kid.slot;
    }
    return 0;
  }

  Status note_constant(std::uint8_t slot, double c) {
    auto k = decimals_needed(c);
    if (!k) {
      return Error(ErrorCode::kInvalidArgument,
                   "the constant " + std::to_string(c) + " has no exact Cedar Long encoding");
    }
    auto [it, inserted] = scales_.emplace(slot, *k);
    if (!inserted) it->second = std::max(it->second, *k);
    return ok();
  }

  const CompiledPolicy& c_;
  std::map<std::uint8_t, int> scales_;
};

}  // namespace

Result<std::string> Engine::to_cedar(const std::vector<Action>& actions) const {
  const CompiledPolicy& c = *compiled_;
  CedarWriter writer(c);
  STRAITS_TRY(writer.scan_scales());
  std::string out =
      "// Generated by straits from the loaded rule packs: allow unless a rule forbids or\n"
      "// requires a licence not held. Numbers are encoded as Longs (see cedar.cc).\n"
      "permit(principal, action, resource);\n";
  unsigned wanted = 0;
  for (Action a : actions) wanted |= internal::action_bit(a);
  for (const auto& rule : c.rules) {
    unsigned mask = rule.actions & wanted;
    if (mask == 0) continue;
    std::string scope;
    std::vector<std::string> names;
    for (int a = 0; a < kActionCount; ++a) {
      if (mask & (1u << a)) {
        names.push_back("Action::" + quote(std::string(to_string(static_cast<Action>(a)))));
      }
    }
    if (names.size() == 1) {
      scope = "action == " + names[0];
    } else {
      scope = "action in [";
      for (std::size_t i = 0; i < names.size(); ++i) scope += (i ? ", " : "") + names[i];
      scope += "]";
    }
    std::string when = "context.now >= " + std::to_string(rule.from.unix_microseconds());
    if (rule.until != Instant::max()) {
      when += " && context.now < " + std::to_string(rule.until.unix_microseconds());
    }
    if (rule.uses_dataset) when += " && context.has_dataset";
    if (rule.root >= 0) when += " && " + writer.expr(static_cast<std::uint32_t>(rule.root));
    for (const auto& effect : rule.effects) {
      if (effect.kind == EffectKind::kRecord) continue;
      out += "\n// " + rule.id.str() + ": " + rule.title + "\n";
      out += "@id(" +
             quote(rule.id.str() + (effect.kind == EffectKind::kForbid ? "" : ":licence")) + ")\n";
      out += "forbid(principal, " + scope + ", resource)\n  when { " + when + " }";
      if (effect.kind == EffectKind::kRequireLicence) {
        out += "\n  unless { context.licences.contains(" + quote(effect.text) + ") }";
      }
      out += ";\n";
    }
  }
  // Keep the scales for cedar_context(): recomputed there from the same nodes.
  return out;
}

std::string Engine::cedar_context(const Subject& s, Instant at) const {
  const CompiledPolicy& c = *compiled_;
  CedarWriter writer(c);
  (void)writer.scan_scales();
  std::string out = "{";
  bool first = true;
  auto field = [&](const std::string& key, const std::string& value) {
    if (!first) out += ',';
    out += quote(key);
    out += ':';
    out += value;
    first = false;
  };
  const std::int64_t* dataset = s.datasets_.empty() ? nullptr : s.datasets_.data();
  for (const auto& a : internal::attributes()) {
    if ((a.actions & internal::action_bit(s.action())) == 0) continue;
    std::int64_t raw = CompiledPolicy::fetch(s, a.slot, dataset, at.unix_microseconds());
    if (a.is_dataset() && s.action() == Action::kRun && dataset == nullptr) {
      raw = a.type == Type::kNumber ? std::bit_cast<std::int64_t>(0.0) : c.symbols.find("");
    }
    std::string value;
    switch (a.type) {
      case Type::kNumber:
        value = std::to_string(encode_value(std::bit_cast<double>(raw), writer.scale_of(a.slot)));
        break;
      case Type::kDate: value = std::to_string(raw); break;
      case Type::kBool: value = raw != 0 ? "true" : "false"; break;
      default: value = quote(raw >= 0 ? c.symbols.text(raw) : std::string()); break;
    }
    field(context_key(a), value);
  }
  field("has_dataset", s.action() == Action::kTransfer || dataset != nullptr ? "true" : "false");
  std::string licences = "[";
  std::set<std::string> names;
  for (const auto& l : s.licences_) {
    if (l.from <= at && at < l.until) names.insert(c.symbols.text(l.name));
  }
  bool first_licence = true;
  for (const auto& n : names) {
    if (!first_licence) licences += ',';
    licences += quote(n);
    first_licence = false;
  }
  licences += ']';
  field("licences", licences);
  return out + "}";
}

}  // namespace straits::policy
