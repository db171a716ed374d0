// Requests turned into Subjects. At load, index_catalog() runs the
// extractors of the entity rows of the attribute table (internal/facts.h)
// once per catalog entity; at resolve, the ids of a request are checked, the
// values of the entities it names copied and its request rows computed. No
// attribute is named here: the table says what each one is made of.
#include <algorithm>
#include <variant>

#include "policy/internal/compiled.h"

namespace straits::policy {
namespace internal {
namespace {

using Index = std::unordered_map<std::string, std::uint32_t>;

Error not_found(const std::string& kind, const std::string& id) {
  return Error(ErrorCode::kNotFound, "no " + kind + " '" + id + "' in the catalog");
}

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

// One request: name() checks its ids, in the order their errors are
// reported, and gathers what it names and its parties; write_facts() then
// fills the slots of its action.
class Resolver {
 public:
  using Facts = std::array<std::int64_t, Subject::kSlots>;

  Resolver(const CompiledPolicy& c, Facts& facts, std::vector<std::int64_t>& datasets)
      : c_(c), cat_(*c.catalog), facts_(facts), datasets_(datasets) {
    in_.symbols = &c.symbols;
  }

  Status name(const ShipRequest& ship);
  Status name(const LeaseRequest& lease);
  Status name(const RunRequest& run);
  Status name(const TransferRequest& transfer);

  // The entity rows of what the request names, then its request rows.
  void write_facts() const {
    copy<Scope::kChip>(chip_);
    copy<Scope::kSite>(site_);
    copy<Scope::kOrg>(org_);
    copy<Scope::kPool>(pool_);
    copy<Scope::kDataset>(dataset_);
    const SlotList& rows = kRequestSlots[static_cast<std::size_t>(action_)];
    for (std::size_t k = 0; k < rows.count; ++k) {
      facts_[rows.slots[k]] = kAttributes[rows.slots[k]].extract(in_);
    }
  }

  Action action() const { return action_; }
  const Parties& parties() const { return parties_; }
  const catalog::Chip* chip() const { return in_.chip; }   // lease, run and ship have one
  const catalog::Site& site() const { return *in_.site; }  // every action has one

 private:
  Status find(const Index& index, const char* kind, const std::string& id,
              std::uint32_t& out) const {
    auto it = index.find(id);
    if (it == index.end()) return not_found(kind, id);
    out = it->second;
    return ok();
  }
  std::int32_t party_of(const std::string& id) const {
    auto it = c_.party_index.find(id);
    return it == c_.party_index.end() ? -1 : it->second;
  }
  void name_chip(std::uint32_t i) {
    chip_ = static_cast<std::int32_t>(i);
    in_.chip = &cat_.chips()[i];
  }
  Status name_site(std::uint32_t i) {
    in_.site = &cat_.sites()[i];
    if (!c_.site_links[i].valid) return not_found("operator", in_.site->operator_id.str());
    site_ = static_cast<std::int32_t>(i);
    return ok();
  }
  void name_org(std::uint32_t i) {
    org_ = static_cast<std::int32_t>(i);
    parties_.add(c_.org_links[i].party);
    parties_.add(c_.org_links[i].top_party);
  }
  // The pool, its chip and its site, whose operator is a party.
  Status name_pool(std::uint32_t i) {
    in_.pool = &cat_.pools()[i];
    const CompiledPolicy::PoolLinks& links = c_.pool_links[i];
    pool_ = static_cast<std::int32_t>(i);
    if (links.chip < 0) return not_found("chip", in_.pool->chip.str());
    if (links.site < 0) return not_found("site", in_.pool->site.str());
    name_chip(static_cast<std::uint32_t>(links.chip));
    STRAITS_TRY(name_site(static_cast<std::uint32_t>(links.site)));
    parties_.add(c_.site_links[static_cast<std::size_t>(links.site)].operator_party);
    return ok();
  }
  // Lease and run: an org on a pool.
  Status name_org_and_pool(const OrgId& org, const PoolId& pool) {
    std::uint32_t org_i = 0, pool_i = 0;
    STRAITS_TRY(find(c_.org_index, "org", org.str(), org_i));
    STRAITS_TRY(find(c_.pool_index, "pool", pool.str(), pool_i));
    name_org(org_i);
    return name_pool(pool_i);
  }
  // The org or operator acting, if any.
  Status add_by(const std::string& by) {
    if (by.empty()) return ok();
    if (cat_.find_org(OrgId(by)) == nullptr && cat_.find_operator(OperatorId(by)) == nullptr) {
      return Error(ErrorCode::kNotFound, "no org or operator '" + by + "' in the catalog");
    }
    parties_.add(party_of(by));
    return ok();
  }
  // A template, so that the copy is of a known number of values (inlined).
  template <Scope scope>
  void copy(std::int32_t entity) const {
    if (entity < 0) return;
    constexpr SlotRange range = kEntitySlots[static_cast<std::size_t>(scope)];
    std::copy_n(c_.values_of(scope, static_cast<std::uint32_t>(entity)), range.count,
                facts_.begin() + range.first);
  }

  const CompiledPolicy& c_;
  const catalog::Catalog& cat_;
  Facts& facts_;
  std::vector<std::int64_t>& datasets_;
  Action action_ = Action::kLease;
  Inputs in_;
  // Catalog indexes of the entities whose rows go into the facts; -1: none.
  std::int32_t chip_ = -1, site_ = -1, org_ = -1, pool_ = -1, dataset_ = -1;
  Parties parties_;
};

Status Resolver::name(const ShipRequest& ship) {
  action_ = Action::kShip;
  in_.ship = &ship;
  std::uint32_t chip = 0, site = 0;
  STRAITS_TRY(find(c_.chip_index, "chip", ship.chip.str(), chip));
  STRAITS_TRY(find(c_.site_index, "site", ship.site.str(), site));
  name_chip(chip);
  STRAITS_TRY(name_site(site));
  in_.op = cat_.find_operator(in_.site->operator_id);  // found: name_site checked it
  in_.top_operator = &cat_.ultimate_parent(in_.site->operator_id);
  parties_.add(c_.site_links[site].operator_party);
  parties_.add(c_.site_links[site].top_operator_party);
  if (ship.source_site) {
    std::uint32_t from = 0;
    STRAITS_TRY(find(c_.site_index, "site", ship.source_site->str(), from));
    in_.source_site = &cat_.sites()[from];
    parties_.add(party_of(in_.source_site->operator_id.str()));
  }
  if (ship.pool) {
    std::uint32_t pool_i = 0;
    STRAITS_TRY(find(c_.pool_index, "pool", ship.pool->str(), pool_i));
    const catalog::Pool& pool = cat_.pools()[pool_i];
    if (pool.site != in_.site->id) {
      return Error(ErrorCode::kInvalidArgument,
                   "pool '" + pool.id.str() + "' is not at site '" + in_.site->id.str() + "'");
    }
    parties_.add(c_.pool_links[pool_i].owner_party);
    if (pool.owner) {
      in_.consignee = cat_.find_org(*pool.owner);
      if (in_.consignee == nullptr) return not_found("org", pool.owner->str());
      in_.top_consignee = &cat_.ultimate_parent(*pool.owner);
    }
  }
  if (ship.quantity <= 0) {
    return Error(ErrorCode::kInvalidArgument, "the quantity shipped must be positive");
  }
  return add_by(ship.by);
}

Status Resolver::name(const LeaseRequest& lease) {
  action_ = Action::kLease;
  in_.lease = &lease;
  STRAITS_TRY(name_org_and_pool(lease.org, lease.pool));
  const catalog::Pool& pool = *in_.pool;
  int gpus = lease_gpus(in_);
  if (gpus <= 0 || gpus > pool.gpus()) {
    return Error(ErrorCode::kInvalidArgument, "a lease of " + std::to_string(gpus) +
                                                  " GPUs does not fit pool '" + pool.id.str() +
                                                  "' (" + std::to_string(pool.gpus()) + " GPUs)");
  }
  return ok();
}

Status Resolver::name(const RunRequest& run) {
  action_ = Action::kRun;
  in_.run = &run;
  STRAITS_TRY(name_org_and_pool(run.org, run.pool));
  if (run.job.gpus <= 0) return Error(ErrorCode::kInvalidArgument, "a job needs at least one GPU");
  // Dataset rows go to the datasets, not the facts: a run rule tries each.
  datasets_.reserve(run.job.datasets.size() * kDatasetSlots.count);
  for (const DatasetId& id : run.job.datasets) {
    std::uint32_t d = 0;
    STRAITS_TRY(find(c_.dataset_index, "dataset", id.str(), d));
    const std::int64_t* values = c_.values_of(Scope::kDataset, d);
    datasets_.insert(datasets_.end(), values, values + kDatasetSlots.count);
  }
  return ok();
}

Status Resolver::name(const TransferRequest& transfer) {
  action_ = Action::kTransfer;
  std::uint32_t d = 0, site = 0;
  STRAITS_TRY(find(c_.dataset_index, "dataset", transfer.dataset.str(), d));
  STRAITS_TRY(find(c_.site_index, "site", transfer.site.str(), site));
  STRAITS_TRY(name_site(site));
  if (c_.dataset_owner[d] < 0) return not_found("org", cat_.datasets()[d].owner.str());
  name_org(static_cast<std::uint32_t>(c_.dataset_owner[d]));
  dataset_ = static_cast<std::int32_t>(d);
  return add_by(transfer.by);
}

// Runs the extractors of `scope`'s rows over `in`, appending their values.
void append_values(Scope scope, const Inputs& in, std::vector<std::int64_t>& out) {
  for (const Attribute& a : kAttributes) {
    if (a.scope == scope) out.push_back(a.extract(in));
  }
}

}  // namespace

void CompiledPolicy::index_catalog() {
  const catalog::Catalog& cat = *catalog;
  // Org and operator ids never collide (catalog.h); a licence's holder is
  // one of them, or no party at all.
  auto party = [&](const std::string& id) {
    return party_index.emplace(id, static_cast<std::int32_t>(party_index.size())).first->second;
  };
  auto values = [&](Scope scope, Inputs in) {
    in.symbols = &symbols;
    append_values(scope, in, entity_values[static_cast<std::size_t>(scope)]);
  };
  for (const auto& x : cat.chips()) values(Scope::kChip, {.chip = &x});
  for (const auto& x : cat.sites()) {
    SiteLinks links;
    if (const catalog::Operator* op = cat.find_operator(x.operator_id)) {
      const catalog::Operator& top = cat.ultimate_parent(x.operator_id);
      links = {true, party(op->id.str()), party(top.id.str())};
      values(Scope::kSite, {.site = &x, .op = op, .top_operator = &top});
    } else {  // never read: resolve() refuses the site
      auto& v = entity_values[static_cast<std::size_t>(Scope::kSite)];
      v.resize(v.size() + kEntitySlots[static_cast<std::size_t>(Scope::kSite)].count, -1);
    }
    site_links.push_back(links);
  }
  for (const auto& x : cat.orgs()) {
    const catalog::Org& top = cat.ultimate_parent(x.id);
    values(Scope::kOrg, {.org = &x, .top_org = &top});
    org_links.push_back(OrgLinks{party(x.id.str()), party(top.id.str())});
  }
  for (const auto& x : cat.operators()) party(x.id.str());
  auto index_of = [](const Index& index, const std::string& id) {
    auto it = index.find(id);
    return it == index.end() ? -1 : static_cast<std::int32_t>(it->second);
  };
  for (const auto& x : cat.pools()) {
    values(Scope::kPool, {.pool = &x});
    pool_links.push_back(PoolLinks{index_of(chip_index, x.chip.str()),
                                   index_of(site_index, x.site.str()),
                                   x.owner ? party(x.owner->str()) : -1});
  }
  for (const auto& x : cat.datasets()) {
    values(Scope::kDataset, {.dataset = &x});
    dataset_owner.push_back(index_of(org_index, x.owner.str()));
  }
  std::unordered_map<std::string, std::uint32_t> first_with_id;
  const auto& licences = cat.licences();
  for (std::uint32_t i = 0; i < licences.size(); ++i) {
    const catalog::Licence& l = licences[i];
    licence_holder.push_back(party(l.holder.id));
    licence_name.push_back(symbols.find(l.name));
    licence_same_id.push_back(first_with_id.emplace(l.id.str(), i).first->second);
  }
  for (std::size_t i = 1; i < rules.size(); ++i) {
    if (rules[i].id == rules[i - 1].id) distinct_rule_ids = false;
  }
}

Status CompiledPolicy::resolve_into(const Request& request, Subject& s) const {
  Resolver r(*this, s.facts_, s.datasets_);
  STRAITS_TRY(std::visit([&](const auto& x) { return r.name(x); }, request));
  s.action_ = r.action();
  r.write_facts();
  // The parties' licences that cover this chip and destination.
  const auto& licences = catalog->licences();
  for (std::uint32_t i = 0; i < licences.size(); ++i) {
    if (!r.parties().has(licence_holder[i])) continue;
    const catalog::Licence& l = licences[i];
    if (r.chip() != nullptr && !l.covers_chip(r.chip()->id)) continue;
    if (!l.covers_country(r.site().country)) continue;
    s.licences_.push_back(Subject::HeldLicence{licence_name[i], l.valid_from,
                                               l.valid_until.value_or(Instant::max()), i});
  }
  return ok();
}

}  // namespace internal
}  // namespace straits::policy
