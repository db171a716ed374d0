#include "policy/engine.h"

#include <algorithm>
#include <bit>
#include <fstream>
#include <set>
#include <sstream>

#include "policy/internal/compiled.h"
#include "policy/internal/parser.h"

namespace straits::policy {

using internal::CompiledPolicy;
using internal::CompiledRule;
using internal::Node;
using internal::Type;

std::string_view to_string(Action action) {
  switch (action) {
    case Action::kShip: return "ship";
    case Action::kLease: return "lease";
    case Action::kRun: return "run";
    case Action::kTransfer: return "transfer";
  }
  return "?";
}

std::optional<Action> parse_action(std::string_view text) {
  if (text == "ship") return Action::kShip;
  if (text == "lease") return Action::kLease;
  if (text == "run") return Action::kRun;
  if (text == "transfer") return Action::kTransfer;
  return std::nullopt;
}

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAllow: return "allow";
    case Outcome::kLicenceRequired: return "licence_required";
    case Outcome::kDeny: return "deny";
  }
  return "?";
}

std::string_view to_string(EffectKind effect) {
  switch (effect) {
    case EffectKind::kForbid: return "forbid";
    case EffectKind::kRequireLicence: return "require_licence";
    case EffectKind::kRecord: return "record";
  }
  return "?";
}

namespace internal {
namespace {

inline double as_number(std::int64_t bits) {
  return std::bit_cast<double>(bits);
}

template <typename T>
bool compare(CompareOp op, T a, T b) {
  switch (op) {
    case CompareOp::kEq: return a == b;
    case CompareOp::kNe: return a != b;
    case CompareOp::kLt: return a < b;
    case CompareOp::kLe: return a <= b;
    case CompareOp::kGt: return a > b;
    case CompareOp::kGe: return a >= b;
  }
  return false;
}

inline bool compare_typed(Type type, CompareOp op, std::int64_t a, std::int64_t b) {
  if (type == Type::kNumber) return compare(op, as_number(a), as_number(b));
  return compare(op, a, b);
}

}  // namespace

bool CompiledPolicy::holds(std::int32_t index, const Subject& s, const std::int64_t* dataset,
                           std::int64_t now) const {
  const Node& n = nodes[static_cast<std::size_t>(index)];
  switch (n.op) {
    case Node::Op::kTrue: return true;
    case Node::Op::kConst: return n.constant != 0;
    case Node::Op::kAttrBool: return fetch(s, n.slot, dataset, now) != 0;
    case Node::Op::kAttr: return fetch(s, n.slot, dataset, now) != 0;
    case Node::Op::kCompareAttrConst:
      return compare_typed(n.type, n.cmp, fetch(s, n.slot, dataset, now), n.constant);
    case Node::Op::kAnd:
      for (std::uint32_t k = n.kids_begin; k < n.kids_end; ++k) {
        if (!holds(static_cast<std::int32_t>(kids[k]), s, dataset, now)) return false;
      }
      return true;
    case Node::Op::kOr:
      for (std::uint32_t k = n.kids_begin; k < n.kids_end; ++k) {
        if (holds(static_cast<std::int32_t>(kids[k]), s, dataset, now)) return true;
      }
      return false;
    case Node::Op::kNot:
      return !holds(static_cast<std::int32_t>(kids[n.kids_begin]), s, dataset, now);
    case Node::Op::kCompare:
    case Node::Op::kInGroup:
    case Node::Op::kInList: {
      auto value_of = [&](std::uint32_t k) -> std::int64_t {
        const Node& v = nodes[kids[k]];
        if (v.op == Node::Op::kAttr || v.op == Node::Op::kAttrBool) {
          return fetch(s, v.slot, dataset, now);
        }
        return v.constant;
      };
      if (n.op == Node::Op::kCompare) {
        return compare_typed(n.type, n.cmp, value_of(n.kids_begin), value_of(n.kids_begin + 1));
      }
      std::int64_t x = value_of(n.kids_begin);
      bool member = false;
      if (n.op == Node::Op::kInGroup) {
        const auto& bits = groups[static_cast<std::size_t>(n.group)];
        auto word = static_cast<std::size_t>(x / 64);
        member = x >= 0 && word < bits.size() && ((bits[word] >> (x % 64)) & 1u);
      } else {
        for (std::uint32_t k = n.kids_begin + 1; k < n.kids_end && !member; ++k) {
          member = compare_typed(n.type, CompareOp::kEq, x, value_of(k));
        }
      }
      return member != n.negated;
    }
  }
  return false;
}

bool CompiledPolicy::rule_applies(const CompiledRule& rule, const Subject& s, Instant at) const {
  if (rule.root < 0) return true;
  std::int64_t now = at.unix_microseconds();
  if (rule.uses_dataset && s.action_ == Action::kRun) {
    for (std::size_t d = 0; d < s.datasets_.size(); d += kDatasetSlots.count) {
      if (holds(rule.root, s, &s.datasets_[d], now)) return true;
    }
    return false;
  }
  return holds(rule.root, s, nullptr, now);
}

const std::vector<std::uint32_t>& CompiledPolicy::rules_in_force(Action action, Instant at) const {
  auto e = static_cast<std::size_t>(
      std::upper_bound(boundaries.begin(), boundaries.end(), at.unix_microseconds()) -
      boundaries.begin());
  return active[e * kActionCount + static_cast<std::size_t>(action)];
}

std::int64_t CompiledPolicy::lifting_licence(const Subject& s, std::int64_t licence,
                                             Instant at) const {
  for (const auto& held : s.licences_) {
    if (held.name == licence && held.from <= at && at < held.until) {
      return static_cast<std::int64_t>(held.index);
    }
  }
  return -1;
}

}  // namespace internal

namespace {

namespace fs = std::filesystem;

// Lists the *.rules files of a pack folder, in name order.
Result<std::vector<fs::path>> rule_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Error(ErrorCode::kNotFound,
                 "rule pack '" + dir.string() + "' does not exist or is not a folder");
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".rules") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string pack_name(const fs::path& dir) {
  return dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
}

Result<std::string> read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(ErrorCode::kInternal, file.string() + ": cannot read the file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Result<internal::PackAst> parse_pack(const fs::path& dir, Diagnostics& diagnostics) {
  auto files = rule_files(dir);
  if (!files) return std::move(files).error();
  internal::PackAst pack;
  pack.dir = dir.string();
  pack.name = pack_name(dir);
  if (files->empty()) {
    diagnostics.add(SourceLocation{dir.string(), 0, 0}, "no *.rules files in the pack");
  }
  for (const fs::path& file : *files) {
    auto text = read_text(file);
    if (!text) {
      diagnostics.add(SourceLocation{file.string(), 0, 0}, "cannot read the file");
      continue;
    }
    internal::parse_rule_file(*text, file.string(), pack, diagnostics);
  }
  return pack;
}

// A pack from text: its files are named "PACK/FILE" in diagnostics.
internal::PackAst parse_source(const PackSource& source, Diagnostics& diagnostics) {
  internal::PackAst pack;
  pack.dir = source.name;
  pack.name = source.name;
  if (source.files.empty()) {
    diagnostics.add(SourceLocation{source.name, 0, 0}, "no *.rules files in the pack");
  }
  std::vector<const std::pair<std::string, std::string>*> files;
  for (const auto& f : source.files) files.push_back(&f);
  std::sort(files.begin(), files.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* f : files) {
    internal::parse_rule_file(f->second, source.name + "/" + f->first, pack, diagnostics);
  }
  return pack;
}

// Compiles parsed packs against `catalog`. `seed`: the symbols of the set
// before, in a timeline. `what` names the packs in the error.
Result<std::shared_ptr<CompiledPolicy>> compile(const catalog::Catalog& catalog,
                                                std::vector<internal::PackAst> parsed,
                                                const ParamOverrides& params,
                                                Diagnostics& diagnostics,
                                                const internal::Symbols* seed,
                                                const std::string& what) {
  auto compiled = std::make_shared<CompiledPolicy>();
  compiled->catalog = &catalog;
  if (seed != nullptr) compiled->symbols = *seed;
  for (const auto& p : parsed) compiled->pack_names.push_back(p.dir);
  internal::compile_packs(parsed, params, *compiled, diagnostics);
  if (!diagnostics.empty()) {
    std::size_t n = diagnostics.sorted().size();
    return diagnostics.to_error(what + ": " + std::to_string(n) + (n == 1 ? " error" : " errors"));
  }
  auto index = [](auto& map, const auto& items) {
    for (std::uint32_t i = 0; i < items.size(); ++i) map.emplace(items[i].id.str(), i);
  };
  index(compiled->chip_index, catalog.chips());
  index(compiled->site_index, catalog.sites());
  index(compiled->pool_index, catalog.pools());
  index(compiled->org_index, catalog.orgs());
  index(compiled->dataset_index, catalog.datasets());
  index(compiled->operator_index, catalog.operators());
  compiled->index_catalog();
  return compiled;
}

std::string packs_label(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& n : names) joined += (joined.empty() ? "" : ", ") + n;
  return "rule pack" + std::string(names.size() == 1 ? " " : "s ") + joined;
}

}  // namespace

Result<std::vector<PackSource>> read_pack_sources(const std::vector<fs::path>& dirs) {
  std::vector<PackSource> out;
  for (const auto& dir : dirs) {
    auto files = rule_files(dir);
    if (!files) return std::move(files).error();
    if (files->empty()) {
      return Error(ErrorCode::kNotFound, "rule pack '" + dir.string() + "' has no *.rules files");
    }
    PackSource pack{pack_name(dir), {}};
    for (const auto& file : *files) {
      auto text = read_text(file);
      if (!text) return std::move(text).error();
      pack.files.emplace_back(file.filename().string(), std::move(text).value());
    }
    out.push_back(std::move(pack));
  }
  return out;
}

Result<Engine> Engine::load(const catalog::Catalog& catalog,
                            const std::vector<std::filesystem::path>& packs,
                            const ParamOverrides& params) {
  Diagnostics diagnostics;
  std::vector<internal::PackAst> parsed;
  std::vector<std::string> names;
  for (const auto& dir : packs) {
    auto pack = parse_pack(dir, diagnostics);
    if (!pack) return std::move(pack).error();
    parsed.push_back(std::move(pack).value());
    names.push_back(dir.string());
  }
  auto compiled =
      compile(catalog, std::move(parsed), params, diagnostics, nullptr, packs_label(names));
  if (!compiled) return std::move(compiled).error();
  return Engine(std::move(compiled).value());
}

Result<Engine> Engine::load_sources(const catalog::Catalog& catalog,
                                    const std::vector<PackSource>& packs,
                                    const ParamOverrides& params) {
  Diagnostics diagnostics;
  std::vector<internal::PackAst> parsed;
  std::vector<std::string> names;
  for (const auto& pack : packs) {
    parsed.push_back(parse_source(pack, diagnostics));
    names.push_back(pack.name);
  }
  auto compiled =
      compile(catalog, std::move(parsed), params, diagnostics, nullptr, packs_label(names));
  if (!compiled) return std::move(compiled).error();
  return Engine(std::move(compiled).value());
}

Result<Engine> Engine::load_timeline(const catalog::Catalog& catalog,
                                     const std::vector<RuleSetSource>& sets) {
  if (sets.empty()) {
    return Error(ErrorCode::kInvalidArgument, "a rule-set timeline needs at least one set");
  }
  auto timeline = std::make_shared<internal::Timeline>();
  const internal::Symbols* seed = nullptr;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    const RuleSetSource& set = sets[i];
    if (i > 0 && !(sets[i - 1].from < set.from)) {
      return Error(ErrorCode::kInvalidArgument,
                   "rule set " + set.hash + " takes effect at " + to_iso8601(set.from) +
                       ", not after the set before it (" + to_iso8601(sets[i - 1].from) + ")");
    }
    Diagnostics diagnostics;
    std::vector<internal::PackAst> parsed;
    std::vector<std::string> names;
    for (const auto& pack : set.packs) {
      parsed.push_back(parse_source(pack, diagnostics));
      names.push_back(pack.name);
    }
    auto compiled = compile(catalog, std::move(parsed), set.params, diagnostics, seed,
                            "rule set " + set.hash + " (" + packs_label(names) + ")");
    if (!compiled) return std::move(compiled).error();
    seed = &(*compiled)->symbols;
    Instant from = i == 0 ? Instant::min() : set.from;
    Instant until = i + 1 < sets.size() ? sets[i + 1].from : Instant::max();
    timeline->segments.push_back({from, until, std::move(compiled).value(), set.hash});
  }
  auto last = timeline->segments.back().policy;
  return Engine(std::move(last), std::move(timeline));
}

const internal::CompiledPolicy& Engine::policy_at(Instant at) const {
  return timeline_ ? *timeline_->at(at).policy : *compiled_;
}

const std::string& Engine::ruleset_at(Instant at) const {
  static const std::string kNone;
  return timeline_ ? timeline_->at(at).hash : kNone;
}

const catalog::Catalog& Engine::catalog() const {
  return *compiled_->catalog;
}

namespace {

// Rule starts and ends of one compiled set, within [from, until).
void add_rule_changes(const CompiledPolicy& c, Instant from, Instant until,
                      std::vector<RuleChange>& out) {
  for (const auto& r : c.rules) {
    Instant start = std::max(r.from, from), end = std::min(r.until, until);
    if (!(start < end)) continue;
    if (start != Instant::min()) out.push_back({start, true, r.id, r.title, r.pack, r.source});
    if (end != Instant::max()) out.push_back({end, false, r.id, r.title, r.pack, r.source});
  }
}

}  // namespace

std::vector<Instant> Engine::change_points() const {
  std::set<std::int64_t> points;
  if (timeline_) {
    for (const auto& seg : timeline_->segments) {
      const std::int64_t from = seg.from.unix_microseconds(), until = seg.until.unix_microseconds();
      if (seg.from != Instant::min()) points.insert(from);
      for (std::int64_t b : seg.policy->boundaries) {
        if (b > from && b < until) points.insert(b);
      }
    }
  } else {
    points.insert(compiled_->boundaries.begin(), compiled_->boundaries.end());
  }
  for (const auto& l : compiled_->catalog->licences()) {
    points.insert(l.valid_from.unix_microseconds());
    if (l.valid_until) points.insert(l.valid_until->unix_microseconds());
  }
  std::vector<Instant> out;
  for (std::int64_t p : points) out.push_back(Instant::from_unix_microseconds(p));
  return out;
}

std::vector<RuleChange> Engine::rule_changes() const {
  std::vector<RuleChange> out;
  if (!timeline_) {
    add_rule_changes(*compiled_, Instant::min(), Instant::max(), out);
  } else {
    for (const auto& seg : timeline_->segments) {
      add_rule_changes(*seg.policy, seg.from, seg.until, out);
    }
  }
  std::sort(out.begin(), out.end(), [](const RuleChange& a, const RuleChange& b) {
    if (a.at != b.at) return a.at < b.at;
    if (a.starts != b.starts) return !a.starts;
    return a.rule < b.rule;
  });
  if (timeline_) {
    // A rule in force on both sides of a set boundary, unchanged, neither
    // ends nor starts there: drop the pair. Ends sort before starts at an
    // instant, so the start is after the end.
    std::vector<bool> skip(out.size(), false);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].starts) continue;
      for (std::size_t j = i + 1; j < out.size() && out[j].at == out[i].at; ++j) {
        if (!skip[j] && out[j].starts && out[j].rule == out[i].rule &&
            out[j].title == out[i].title) {
          skip[i] = skip[j] = true;
          break;
        }
      }
    }
    std::vector<RuleChange> kept;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (!skip[i]) kept.push_back(std::move(out[i]));
    }
    out = std::move(kept);
  }
  return out;
}

std::size_t Engine::rule_count() const {
  return compiled_->rules.size();
}
const std::vector<std::string>& Engine::packs() const {
  return compiled_->pack_names;
}
const std::map<std::string, Instant>& Engine::params() const {
  return compiled_->params;
}

Result<Subject> Engine::resolve(const Request& request) const {
  Subject s;
  STRAITS_TRY(compiled_->resolve_into(request, s));
  return s;
}

Outcome Engine::evaluate(const Subject& s, Instant at) const {
  const CompiledPolicy& c = policy_at(at);
  Outcome outcome = Outcome::kAllow;
  for (std::uint32_t i : c.rules_in_force(s.action_, at)) {
    const CompiledRule& rule = c.rules[i];
    if (!c.rule_applies(rule, s, at)) continue;
    for (const auto& effect : rule.effects) {
      if (effect.kind == EffectKind::kForbid) return Outcome::kDeny;
      if (effect.kind == EffectKind::kRequireLicence &&
          c.lifting_licence(s, effect.licence, at) < 0) {
        outcome = Outcome::kLicenceRequired;
      }
    }
  }
  return outcome;
}

namespace internal {

bool same_decision(const Decision& a, const Decision& b) {
  return a.outcome == b.outcome && a.rules == b.rules && a.licences == b.licences &&
         a.obligations == b.obligations;
}

// The decision at one instant, without valid_until.
Decision CompiledPolicy::decide_at(const Subject& s, Instant at) const {
  const CompiledPolicy& c = *this;
  Decision d;
  d.action = s.action();
  d.at = at;
  bool forbidden = false, unlifted = false;
  const auto& licences = c.catalog->licences();
  for (std::uint32_t i : c.rules_in_force(s.action(), at)) {
    const CompiledRule& rule = c.rules[i];
    if (!c.rule_applies(rule, s, at)) continue;
    for (const auto& effect : rule.effects) {
      MatchedRule m;
      m.id = rule.id;
      m.effect = effect.kind;
      m.title = rule.title;
      m.source = rule.source;
      m.pack = rule.pack;
      m.where = rule.where;
      if (effect.kind == EffectKind::kForbid) {
        forbidden = true;
      } else if (effect.kind == EffectKind::kRequireLicence) {
        m.licence_name = effect.text;
        std::int64_t l = c.lifting_licence(s, effect.licence, at);
        if (l < 0) {
          unlifted = true;
        } else {
          m.lifted_by = licences[static_cast<std::size_t>(l)].id;
          if (std::find(d.licences.begin(), d.licences.end(), *m.lifted_by) == d.licences.end()) {
            d.licences.push_back(*m.lifted_by);
          }
        }
      } else {
        m.obligation = effect.text;
        d.obligations.push_back(effect.text);
      }
      d.rules.push_back(std::move(m));
    }
  }
  d.outcome = forbidden ? Outcome::kDeny : unlifted ? Outcome::kLicenceRequired : Outcome::kAllow;
  return d;
}

Instant CompiledPolicy::next_change_after(const Subject& s, Instant after) const {
  std::vector<std::int64_t> candidates;
  const auto& rule_cuts = action_boundaries[static_cast<std::size_t>(s.action())];
  std::int64_t t = after.unix_microseconds();
  candidates.insert(candidates.end(), std::upper_bound(rule_cuts.begin(), rule_cuts.end(), t),
                    rule_cuts.end());
  for (const auto& l : s.licences_) {
    if (l.from.unix_microseconds() > t) candidates.push_back(l.from.unix_microseconds());
    if (l.until != Instant::max() && l.until.unix_microseconds() > t) {
      candidates.push_back(l.until.unix_microseconds());
    }
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  if (candidates.empty()) return Instant::max();
  if (!distinct_rule_ids) {
    Decision now = decide_at(s, after);
    for (std::int64_t candidate : candidates) {
      Instant when = Instant::from_unix_microseconds(candidate);
      if (!same_decision(now, decide_at(s, when))) return when;
    }
    return Instant::max();
  }
  std::vector<std::int64_t> now, then;
  decision_key(s, after, now);
  for (std::int64_t candidate : candidates) {
    Instant when = Instant::from_unix_microseconds(candidate);
    decision_key(s, when, then);
    if (then != now) return when;
  }
  return Instant::max();
}

void CompiledPolicy::decision_key(const Subject& s, Instant at,
                                  std::vector<std::int64_t>& out) const {
  out.clear();
  for (std::uint32_t i : rules_in_force(s.action(), at)) {
    const CompiledRule& rule = rules[i];
    if (rule.effects.empty() || !rule_applies(rule, s, at)) continue;
    out.push_back(i);
    for (const auto& effect : rule.effects) {
      if (effect.kind != EffectKind::kRequireLicence) continue;
      std::int64_t l = lifting_licence(s, effect.licence, at);
      out.push_back(l < 0 ? -1 : licence_same_id[static_cast<std::size_t>(l)]);
    }
  }
}

}  // namespace internal

Instant Engine::next_change_after(const Subject& subject, Instant after) const {
  if (!timeline_) return compiled_->next_change_after(subject, after);
  // Within the set in force, its own next change; the set's end is a change
  // too (another set decides from there, under another hash).
  const internal::Timeline::Segment& seg = timeline_->at(after);
  return std::min(seg.policy->next_change_after(subject, after), seg.until);
}

Decision Engine::decide(const Subject& subject, Instant at) const {
  Decision d = explain(subject, at);
  d.valid_until = next_change_after(subject, at);
  return d;
}

Decision Engine::explain(const Subject& subject, Instant at) const {
  if (!timeline_) return compiled_->decide_at(subject, at);
  const internal::Timeline::Segment& seg = timeline_->at(at);
  Decision d = seg.policy->decide_at(subject, at);
  d.ruleset = seg.hash;
  return d;
}

Result<Decision> Engine::decide(const Request& request, Instant at) const {
  auto subject = resolve(request);
  if (!subject) return std::move(subject).error();
  return decide(*subject, at);
}

}  // namespace straits::policy
