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
using internal::Slot;
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

bool CompiledPolicy::holds(std::int32_t index, const Subject& s,
                           const Subject::DatasetFacts* dataset, std::int64_t now) const {
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
    for (const auto& d : s.datasets_) {
      if (holds(rule.root, s, &d, now)) return true;
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

Result<internal::PackAst> parse_pack(const fs::path& dir, Diagnostics& diagnostics) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Error(ErrorCode::kNotFound,
                 "rule pack '" + dir.string() + "' does not exist or is not a folder");
  }
  internal::PackAst pack;
  pack.dir = dir.string();
  pack.name =
      dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".rules") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    diagnostics.add(SourceLocation{dir.string(), 0, 0}, "no *.rules files in the pack");
  }
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      diagnostics.add(SourceLocation{file.string(), 0, 0}, "cannot read the file");
      continue;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    internal::parse_rule_file(buffer.str(), file.string(), pack, diagnostics);
  }
  return pack;
}

template <typename Map>
std::optional<std::uint32_t> lookup(const Map& index, const std::string& id) {
  auto it = index.find(id);
  if (it == index.end()) return std::nullopt;
  return it->second;
}

Error not_found(const std::string& kind, const std::string& id) {
  return Error(ErrorCode::kNotFound, "no " + kind + " '" + id + "' in the catalog");
}

}  // namespace

Result<Engine> Engine::load(const catalog::Catalog& catalog,
                            const std::vector<std::filesystem::path>& packs,
                            const ParamOverrides& params) {
  Diagnostics diagnostics;
  std::vector<internal::PackAst> parsed;
  for (const auto& dir : packs) {
    auto pack = parse_pack(dir, diagnostics);
    if (!pack) return std::move(pack).error();
    parsed.push_back(std::move(pack).value());
  }
  auto compiled = std::make_shared<CompiledPolicy>();
  compiled->catalog = &catalog;
  for (const auto& p : parsed) compiled->pack_names.push_back(p.dir);
  internal::compile_packs(parsed, params, *compiled, diagnostics);
  if (!diagnostics.empty()) {
    std::size_t n = diagnostics.sorted().size();
    std::string names;
    for (const auto& dir : packs) names += (names.empty() ? "" : ", ") + dir.string();
    return diagnostics.to_error("rule pack" + std::string(packs.size() == 1 ? " " : "s ") + names +
                                ": " + std::to_string(n) + (n == 1 ? " error" : " errors"));
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
  return Engine(std::move(compiled));
}

std::vector<Instant> Engine::change_points() const {
  std::set<std::int64_t> points(compiled_->boundaries.begin(), compiled_->boundaries.end());
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
  for (const auto& r : compiled_->rules) {
    if (r.from != Instant::min()) out.push_back({r.from, true, r.id, r.title, r.pack});
    if (r.until != Instant::max()) out.push_back({r.until, false, r.id, r.title, r.pack});
  }
  std::sort(out.begin(), out.end(), [](const RuleChange& a, const RuleChange& b) {
    if (a.at != b.at) return a.at < b.at;
    if (a.starts != b.starts) return !a.starts;
    return a.rule < b.rule;
  });
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

namespace internal {

void CompiledPolicy::index_catalog() {
  const catalog::Catalog& cat = *catalog;
  auto sym = [&](const std::string& text) { return symbols.find(text); };
  auto num = [](double x) { return std::bit_cast<std::int64_t>(x); };
  empty_symbol = sym("");
  // Org and operator ids never collide (catalog.h); a licence's holder is
  // one of them, or no party at all.
  auto party = [&](const std::string& id) {
    return party_index.emplace(id, static_cast<std::int32_t>(party_index.size())).first->second;
  };
  for (const auto& x : cat.chips()) {
    ChipFacts c;
    c.id = sym(x.id.str());
    c.vendor = sym(x.vendor);
    c.origin = sym(x.origin.str());
    c.tpp = num(x.tpp);
    c.pd = num(x.performance_density.value_or(0));
    c.memory_bandwidth = num(x.memory_bandwidth_gbps);
    c.io_bandwidth = num(x.io_bandwidth_gbps);
    c.memory_gb = num(x.memory_gb);
    c.datacenter = x.datacenter ? 1 : 0;
    c.hbm = x.memory_type.rfind("HBM", 0) == 0 ? 1 : 0;
    chip_facts.push_back(c);
  }
  for (const auto& x : cat.sites()) {
    SiteFacts f;
    f.id = sym(x.id.str());
    f.city = sym(x.city);
    f.country = sym(x.country.str());
    f.state_funded = x.state_funded ? 1 : 0;
    if (const catalog::Operator* op = cat.find_operator(x.operator_id)) {
      const catalog::Operator& top = cat.ultimate_parent(x.operator_id);
      f.valid = true;
      f.operator_id = sym(op->id.str());
      f.operator_hq = sym(op->hq.str());
      f.operator_parent_hq = sym(top.hq.str());
      f.operator_party = party(op->id.str());
      f.top_operator_party = party(top.id.str());
    }
    site_facts.push_back(f);
  }
  for (const auto& x : cat.orgs()) {
    const catalog::Org& top = cat.ultimate_parent(x.id);
    org_facts.push_back(OrgFacts{sym(x.id.str()), sym(x.hq.str()), sym(top.hq.str()),
                                 party(x.id.str()), party(top.id.str())});
  }
  for (const auto& x : cat.operators()) party(x.id.str());
  for (const auto& x : cat.pools()) {
    PoolFacts p;
    p.id = sym(x.id.str());
    p.gpus = num(x.gpus());
    p.owned = x.owner ? 1 : 0;
    auto chip = chip_index.find(x.chip.str());
    if (chip != chip_index.end()) p.chip = static_cast<std::int32_t>(chip->second);
    auto site = site_index.find(x.site.str());
    if (site != site_index.end()) p.site = static_cast<std::int32_t>(site->second);
    if (x.owner) p.owner_party = party(x.owner->str());
    pool_facts.push_back(p);
  }
  for (const auto& x : cat.datasets()) {
    Subject::DatasetFacts d;
    d.id = sym(x.id.str());
    d.origin = sym(x.origin.str());
    d.data_class = class_symbols[static_cast<int>(x.data_class)];
    d.size_tb = x.size_tb;
    dataset_facts.push_back(d);
    auto owner = org_index.find(x.owner.str());
    dataset_owner.push_back(owner == org_index.end() ? -1
                                                     : static_cast<std::int32_t>(owner->second));
  }
  std::unordered_map<std::string, std::uint32_t> first_with_id;
  const auto& licences = cat.licences();
  for (std::uint32_t i = 0; i < licences.size(); ++i) {
    const catalog::Licence& l = licences[i];
    licence_holder.push_back(party(l.holder.id));
    licence_name.push_back(sym(l.name));
    licence_same_id.push_back(first_with_id.emplace(l.id.str(), i).first->second);
  }
  for (std::size_t i = 1; i < rules.size(); ++i) {
    if (rules[i].id == rules[i - 1].id) distinct_rule_ids = false;
  }
}

}  // namespace internal

namespace {

// The parties of a request whose licences count, by party number: at most
// five (a ship's destination operator and its parent, source operator, pool
// owner, and the acting org or operator).
struct Parties {
  std::array<std::int32_t, 8> ids{};
  std::size_t count = 0;
  void add(std::int32_t party) {
    if (party < 0 || count == ids.size()) return;  // -1: holds no licence
    for (std::size_t k = 0; k < count; ++k) {
      if (ids[k] == party) return;
    }
    ids[count++] = party;
  }
  bool has(std::int32_t party) const {
    for (std::size_t k = 0; k < count; ++k) {
      if (ids[k] == party) return true;
    }
    return false;
  }
};

}  // namespace

Result<Subject> Engine::resolve(const Request& request) const {
  const CompiledPolicy& c = *compiled_;
  const catalog::Catalog& cat = *c.catalog;
  Subject s;
  auto sym = [&](const std::string& text) { return c.symbols.find(text); };
  auto num = [](double x) { return std::bit_cast<std::int64_t>(x); };
  auto& f = s.facts_;
  f[internal::kSourceSite] = c.empty_symbol;
  f[internal::kJobPurpose] = c.empty_symbol;
  for (int slot : {internal::kChipId, internal::kOrgId, internal::kPoolId, internal::kDatasetId}) {
    f[static_cast<std::size_t>(slot)] = -1;
  }

  const catalog::Chip* chip = nullptr;
  const catalog::Site* site = nullptr;
  Parties parties;  // orgs and operators whose licences count

  auto set_chip = [&](std::uint32_t i) {
    chip = &cat.chips()[i];
    const CompiledPolicy::ChipFacts& x = c.chip_facts[i];
    f[internal::kChipId] = x.id;
    f[internal::kChipVendor] = x.vendor;
    f[internal::kChipOrigin] = x.origin;
    f[internal::kChipTpp] = x.tpp;
    f[internal::kChipPd] = x.pd;
    f[internal::kChipMemoryBandwidth] = x.memory_bandwidth;
    f[internal::kChipIoBandwidth] = x.io_bandwidth;
    f[internal::kChipMemoryGb] = x.memory_gb;
    f[internal::kChipDatacenter] = x.datacenter;
    f[internal::kChipHbm] = x.hbm;
  };
  auto set_site = [&](std::uint32_t i) -> Status {
    site = &cat.sites()[i];
    const CompiledPolicy::SiteFacts& x = c.site_facts[i];
    if (!x.valid) return not_found("operator", site->operator_id.str());
    f[internal::kSiteId] = x.id;
    f[internal::kSiteCity] = x.city;
    f[internal::kSiteCountry] = x.country;
    f[internal::kSiteStateFunded] = x.state_funded;
    f[internal::kOperatorId] = x.operator_id;
    f[internal::kOperatorHq] = x.operator_hq;
    f[internal::kOperatorParentHq] = x.operator_parent_hq;
    return ok();
  };
  auto set_org = [&](std::uint32_t i) {
    const CompiledPolicy::OrgFacts& x = c.org_facts[i];
    f[internal::kOrgId] = x.id;
    f[internal::kOrgHq] = x.hq;
    f[internal::kOrgParentHq] = x.parent_hq;
    parties.add(x.party);
    parties.add(x.top_party);
  };
  auto set_dataset = [&](std::uint32_t i) { return c.dataset_facts[i]; };
  auto set_pool = [&](std::uint32_t i) -> Status {
    const catalog::Pool& x = cat.pools()[i];
    const CompiledPolicy::PoolFacts& p = c.pool_facts[i];
    f[internal::kPoolId] = p.id;
    f[internal::kPoolGpus] = p.gpus;
    f[internal::kPoolOwned] = p.owned;
    if (p.chip < 0) return not_found("chip", x.chip.str());
    if (p.site < 0) return not_found("site", x.site.str());
    set_chip(static_cast<std::uint32_t>(p.chip));
    STRAITS_TRY(set_site(static_cast<std::uint32_t>(p.site)));
    parties.add(c.site_facts[static_cast<std::size_t>(p.site)].operator_party);
    return ok();
  };
  auto party_of = [&](const std::string& id) {
    auto it = c.party_index.find(id);
    return it == c.party_index.end() ? -1 : it->second;
  };
  auto add_by = [&](const std::string& by) -> Status {
    if (by.empty()) return ok();
    if (cat.find_org(OrgId(by)) == nullptr && cat.find_operator(OperatorId(by)) == nullptr) {
      return Error(ErrorCode::kNotFound, "no org or operator '" + by + "' in the catalog");
    }
    parties.add(party_of(by));
    return ok();
  };

  if (const auto* ship = std::get_if<ShipRequest>(&request)) {
    s.action_ = Action::kShip;
    auto chip_i = lookup(c.chip_index, ship->chip.str());
    if (!chip_i) return not_found("chip", ship->chip.str());
    auto site_i = lookup(c.site_index, ship->site.str());
    if (!site_i) return not_found("site", ship->site.str());
    set_chip(*chip_i);
    STRAITS_TRY(set_site(*site_i));
    parties.add(c.site_facts[*site_i].operator_party);
    parties.add(c.site_facts[*site_i].top_operator_party);
    f[internal::kSourceCountry] = c.chip_facts[*chip_i].origin;
    if (ship->source_site) {
      auto src = lookup(c.site_index, ship->source_site->str());
      if (!src) return not_found("site", ship->source_site->str());
      const catalog::Site& from = cat.sites()[*src];
      f[internal::kSourceCountry] = sym(from.country.str());
      f[internal::kSourceSite] = sym(from.id.str());
      parties.add(party_of(from.operator_id.str()));
    }
    if (ship->pool) {
      auto pool_i = lookup(c.pool_index, ship->pool->str());
      if (!pool_i) return not_found("pool", ship->pool->str());
      const catalog::Pool& pool = cat.pools()[*pool_i];
      if (pool.site != site->id) {
        return Error(ErrorCode::kInvalidArgument,
                     "pool '" + pool.id.str() + "' is not at site '" + site->id.str() + "'");
      }
      parties.add(c.pool_facts[*pool_i].owner_party);
    }
    if (ship->quantity <= 0) {
      return Error(ErrorCode::kInvalidArgument, "the quantity shipped must be positive");
    }
    f[internal::kShipQuantity] = num(ship->quantity);
    STRAITS_TRY(add_by(ship->by));
  } else if (const auto* lease = std::get_if<LeaseRequest>(&request)) {
    s.action_ = Action::kLease;
    auto org_i = lookup(c.org_index, lease->org.str());
    if (!org_i) return not_found("org", lease->org.str());
    auto pool_i = lookup(c.pool_index, lease->pool.str());
    if (!pool_i) return not_found("pool", lease->pool.str());
    const catalog::Pool& pool = cat.pools()[*pool_i];
    set_org(*org_i);
    STRAITS_TRY(set_pool(*pool_i));
    int gpus = lease->gpus.value_or(pool.gpus());
    if (gpus <= 0 || gpus > pool.gpus()) {
      return Error(ErrorCode::kInvalidArgument, "a lease of " + std::to_string(gpus) +
                                                    " GPUs does not fit pool '" + pool.id.str() +
                                                    "' (" + std::to_string(pool.gpus()) + " GPUs)");
    }
    double tpp = gpus * chip->tpp;
    f[internal::kLeaseGpus] = num(gpus);
    f[internal::kLeaseTpp] = num(tpp);
    f[internal::kLeaseCountryTpp] = num(lease->country_tpp.value_or(tpp));
    f[internal::kLeaseOrgTpp] = num(lease->org_tpp.value_or(tpp));
  } else if (const auto* run = std::get_if<RunRequest>(&request)) {
    s.action_ = Action::kRun;
    auto org_i = lookup(c.org_index, run->org.str());
    if (!org_i) return not_found("org", run->org.str());
    auto pool_i = lookup(c.pool_index, run->pool.str());
    if (!pool_i) return not_found("pool", run->pool.str());
    set_org(*org_i);
    STRAITS_TRY(set_pool(*pool_i));
    if (run->job.gpus <= 0)
      return Error(ErrorCode::kInvalidArgument, "a job needs at least one GPU");
    f[internal::kJobGpus] = num(run->job.gpus);
    f[internal::kJobTrainingFlops] = num(run->job.training_flops);
    std::int64_t purpose = sym(run->job.purpose);
    f[internal::kJobPurpose] = purpose;  // -1 (never equal) for purposes no rule names
    s.datasets_.reserve(run->job.datasets.size());
    for (const DatasetId& id : run->job.datasets) {
      auto d = lookup(c.dataset_index, id.str());
      if (!d) return not_found("dataset", id.str());
      s.datasets_.push_back(set_dataset(*d));
    }
  } else if (const auto* transfer = std::get_if<TransferRequest>(&request)) {
    s.action_ = Action::kTransfer;
    auto d = lookup(c.dataset_index, transfer->dataset.str());
    if (!d) return not_found("dataset", transfer->dataset.str());
    auto site_i = lookup(c.site_index, transfer->site.str());
    if (!site_i) return not_found("site", transfer->site.str());
    const catalog::Dataset& dataset = cat.datasets()[*d];
    STRAITS_TRY(set_site(*site_i));
    if (c.dataset_owner[*d] < 0) return not_found("org", dataset.owner.str());
    set_org(static_cast<std::uint32_t>(c.dataset_owner[*d]));
    Subject::DatasetFacts facts = set_dataset(*d);
    f[internal::kDatasetId] = facts.id;
    f[internal::kDatasetOrigin] = facts.origin;
    f[internal::kDatasetClass] = facts.data_class;
    f[internal::kDatasetSizeTb] = num(facts.size_tb);
    STRAITS_TRY(add_by(transfer->by));
  }

  // The parties' licences that cover this chip and destination.
  const auto& licences = cat.licences();
  for (std::uint32_t i = 0; i < licences.size(); ++i) {
    if (!parties.has(c.licence_holder[i])) continue;
    const catalog::Licence& l = licences[i];
    if (chip != nullptr && !l.covers_chip(chip->id)) continue;
    if (!l.covers_country(site->country)) continue;
    s.licences_.push_back(Subject::HeldLicence{c.licence_name[i], l.valid_from,
                                               l.valid_until.value_or(Instant::max()), i});
  }
  return s;
}

Outcome Engine::evaluate(const Subject& s, Instant at) const {
  const CompiledPolicy& c = *compiled_;
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
  return compiled_->next_change_after(subject, after);
}

Decision Engine::decide(const Subject& subject, Instant at) const {
  Decision d = compiled_->decide_at(subject, at);
  d.valid_until = next_change_after(subject, at);
  return d;
}

Decision Engine::explain(const Subject& subject, Instant at) const {
  return compiled_->decide_at(subject, at);
}

Result<Decision> Engine::decide(const Request& request, Instant at) const {
  auto subject = resolve(request);
  if (!subject) return std::move(subject).error();
  return decide(*subject, at);
}

}  // namespace straits::policy
