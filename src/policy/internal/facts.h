// The typed attributes rules may use, one row each in kAttributes below. A
// row says everything about its attribute: name, type, the actions that have
// it, what its value is computed from (its scope) and how (its extractor). A
// Subject's slot for it is the row's position. The checker rejects any other
// name when a pack is loaded; index_catalog() runs the extractors of entity
// rows once per catalog entity, resolve() copies those and runs the request
// rows; nothing else needs to know an attribute exists.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.h"
#include "policy/decision.h"
#include "policy/request.h"

namespace straits::policy::internal {

enum class Type : std::uint8_t { kBool, kNumber, kString, kCountry, kDate };
std::string_view to_string(Type type);

// Interned strings: countries first (so that group bitsets stay small), then
// catalog ids and the literals of rules. A value of a string or country
// attribute is its symbol.
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

inline constexpr unsigned action_bit(Action a) {
  return 1u << static_cast<unsigned>(a);
}
inline constexpr unsigned kShipBit = action_bit(Action::kShip);
inline constexpr unsigned kLeaseBit = action_bit(Action::kLease);
inline constexpr unsigned kRunBit = action_bit(Action::kRun);
inline constexpr unsigned kTransferBit = action_bit(Action::kTransfer);
inline constexpr unsigned kAllActions = kShipBit | kLeaseBit | kRunBit | kTransferBit;
inline constexpr unsigned kChipActions = kShipBit | kLeaseBit | kRunBit;
inline constexpr unsigned kPoolActions = kLeaseBit | kRunBit;
inline constexpr unsigned kOrgActions = kLeaseBit | kRunBit | kTransferBit;
inline constexpr unsigned kDatasetActions = kRunBit | kTransferBit;

// What an attribute's value is computed from, and so when.
enum class Scope : std::uint8_t {
  kChip,     // the chip: per catalog chip, at load
  kSite,     // the site, its operator and that operator's ultimate parent: per site, at load
  kOrg,      // the org and its ultimate parent: per org, at load
  kPool,     // the pool: per pool, at load
  kDataset,  // the dataset: per dataset, at load; in run rules, each of the job's datasets
  kRequest,  // the request and what it names: at every resolve
  kNow,      // the instant asked about: at every evaluation (no extractor)
};
// The scopes before kRequest are computed per catalog entity.
inline constexpr std::size_t kEntityScopes = static_cast<std::size_t>(Scope::kRequest);

// What an extractor reads. At load: the entity of its scope (a site with its
// operator and that operator's ultimate parent, an org with its ultimate
// parent). At resolve: everything the request names, and the request.
struct Inputs {
  const Symbols* symbols = nullptr;
  const catalog::Chip* chip = nullptr;
  const catalog::Site* site = nullptr;
  const catalog::Operator* op = nullptr;
  const catalog::Operator* top_operator = nullptr;
  const catalog::Org* org = nullptr;
  const catalog::Org* top_org = nullptr;
  const catalog::Pool* pool = nullptr;
  const catalog::Dataset* dataset = nullptr;
  const ShipRequest* ship = nullptr;
  const catalog::Site* source_site = nullptr;  // ship: where from, when the request says
  // ship: the receiving org (the destination pool's owner) and its ultimate
  // parent, when the request names an owned pool; else null, and the
  // consignee is the site's operator (op, top_operator).
  const catalog::Org* consignee = nullptr;
  const catalog::Org* top_consignee = nullptr;
  const LeaseRequest* lease = nullptr;
  const RunRequest* run = nullptr;

  std::int64_t sym(const std::string& text) const { return symbols->find(text); }
};

// Numbers are held as the bits of a double, booleans as 0/1, dates as
// microseconds since the epoch.
inline std::int64_t num(double x) {
  return std::bit_cast<std::int64_t>(x);
}
inline std::int64_t flag(bool x) {
  return x ? 1 : 0;
}
inline int lease_gpus(const Inputs& in) {
  return in.lease->gpus.value_or(in.pool->gpus());
}
inline double lease_tpp(const Inputs& in) {
  return lease_gpus(in) * in.chip->tpp;
}

using Extractor = std::int64_t (*)(const Inputs& in);

struct Attribute {
  std::string_view name;
  Type type = Type::kBool;
  Scope scope = Scope::kRequest;
  unsigned actions = 0;         // action_bit()s of the actions that have it
  Extractor extract = nullptr;  // its value; none for kNow
  std::uint8_t slot = 0;        // its position in kAttributes, set by numbered()

  // Ranges over a job's datasets in run rules.
  bool is_dataset() const { return scope == Scope::kDataset; }
};

template <std::size_t N>
constexpr std::array<Attribute, N> numbered(std::array<Attribute, N> rows) {
  for (std::size_t i = 0; i < N; ++i) rows[i].slot = static_cast<std::uint8_t>(i);
  return rows;
}

// One row an attribute; rows of one entity scope stand together. Adding an
// attribute is adding its row (and counting it in Subject::kSlots): the
// checks below and tests/policy/facts_test.cc hold the rest.
using In = const Inputs&;
inline constexpr Attribute kAttributeRows[] = {
    {"chip.id", Type::kString, Scope::kChip, kChipActions,
     [](In in) { return in.sym(in.chip->id.str()); }},
    {"chip.vendor", Type::kString, Scope::kChip, kChipActions,
     [](In in) { return in.sym(in.chip->vendor); }},
    {"chip.origin", Type::kCountry, Scope::kChip, kChipActions,
     [](In in) { return in.sym(in.chip->origin.str()); }},
    {"chip.tpp", Type::kNumber, Scope::kChip, kChipActions,
     [](In in) { return num(in.chip->tpp); }},
    {"chip.pd", Type::kNumber, Scope::kChip, kChipActions,
     [](In in) { return num(in.chip->performance_density.value_or(0)); }},
    {"chip.memory_bandwidth", Type::kNumber, Scope::kChip, kChipActions,
     [](In in) { return num(in.chip->memory_bandwidth_gbps); }},
    {"chip.io_bandwidth", Type::kNumber, Scope::kChip, kChipActions,
     [](In in) { return num(in.chip->io_bandwidth_gbps); }},
    {"chip.memory_gb", Type::kNumber, Scope::kChip, kChipActions,
     [](In in) { return num(in.chip->memory_gb); }},
    {"chip.datacenter", Type::kBool, Scope::kChip, kChipActions,
     [](In in) { return flag(in.chip->datacenter); }},
    {"chip.hbm", Type::kBool, Scope::kChip, kChipActions,
     [](In in) { return flag(in.chip->memory_type.rfind("HBM", 0) == 0); }},
    {"site.id", Type::kString, Scope::kSite, kAllActions,
     [](In in) { return in.sym(in.site->id.str()); }},
    {"site.city", Type::kString, Scope::kSite, kAllActions,
     [](In in) { return in.sym(in.site->city); }},
    {"site.country", Type::kCountry, Scope::kSite, kAllActions,
     [](In in) { return in.sym(in.site->country.str()); }},
    {"site.state_funded", Type::kBool, Scope::kSite, kAllActions,
     [](In in) { return flag(in.site->state_funded); }},
    {"operator.id", Type::kString, Scope::kSite, kAllActions,
     [](In in) { return in.sym(in.op->id.str()); }},
    {"operator.hq", Type::kCountry, Scope::kSite, kAllActions,
     [](In in) { return in.sym(in.op->hq.str()); }},
    {"operator.parent_hq", Type::kCountry, Scope::kSite, kAllActions,
     [](In in) { return in.sym(in.top_operator->hq.str()); }},
    // Without a source site, chips ship from their country of origin.
    {"source.country", Type::kCountry, Scope::kRequest, kShipBit,
     [](In in) {
       return in.sym(in.source_site ? in.source_site->country.str() : in.chip->origin.str());
     }},
    {"source.site", Type::kString, Scope::kRequest, kShipBit,
     [](In in) {
       return in.source_site ? in.sym(in.source_site->id.str()) : in.sym(std::string());
     }},
    {"ship.quantity", Type::kNumber, Scope::kRequest, kShipBit,
     [](In in) { return num(in.ship->quantity); }},
    // Who receives the chips: the destination pool's owner when the request
    // names an owned pool (a tenant's own cluster in someone's data centre),
    // else the site's operator.
    {"consignee.hq", Type::kCountry, Scope::kRequest, kShipBit,
     [](In in) { return in.sym(in.consignee ? in.consignee->hq.str() : in.op->hq.str()); }},
    {"consignee.parent_hq", Type::kCountry, Scope::kRequest, kShipBit,
     [](In in) {
       return in.sym(in.consignee ? in.top_consignee->hq.str() : in.top_operator->hq.str());
     }},
    {"org.id", Type::kString, Scope::kOrg, kOrgActions,
     [](In in) { return in.sym(in.org->id.str()); }},
    {"org.hq", Type::kCountry, Scope::kOrg, kOrgActions,
     [](In in) { return in.sym(in.org->hq.str()); }},
    {"org.parent_hq", Type::kCountry, Scope::kOrg, kOrgActions,
     [](In in) { return in.sym(in.top_org->hq.str()); }},
    {"pool.id", Type::kString, Scope::kPool, kPoolActions,
     [](In in) { return in.sym(in.pool->id.str()); }},
    {"pool.gpus", Type::kNumber, Scope::kPool, kPoolActions,
     [](In in) { return num(in.pool->gpus()); }},
    {"pool.owned", Type::kBool, Scope::kPool, kPoolActions,
     [](In in) { return flag(in.pool->owner.has_value()); }},
    {"lease.gpus", Type::kNumber, Scope::kRequest, kLeaseBit,
     [](In in) { return num(lease_gpus(in)); }},
    {"lease.tpp", Type::kNumber, Scope::kRequest, kLeaseBit,
     [](In in) { return num(lease_tpp(in)); }},
    {"lease.country_tpp", Type::kNumber, Scope::kRequest, kLeaseBit,
     [](In in) { return num(in.lease->country_tpp.value_or(lease_tpp(in))); }},
    {"lease.org_tpp", Type::kNumber, Scope::kRequest, kLeaseBit,
     [](In in) { return num(in.lease->org_tpp.value_or(lease_tpp(in))); }},
    {"job.gpus", Type::kNumber, Scope::kRequest, kRunBit,
     [](In in) { return num(in.run->job.gpus); }},
    {"job.training_flops", Type::kNumber, Scope::kRequest, kRunBit,
     [](In in) { return num(in.run->job.training_flops); }},
    // -1 (equal to nothing) for a purpose no rule names.
    {"job.purpose", Type::kString, Scope::kRequest, kRunBit,
     [](In in) { return in.sym(in.run->job.purpose); }},
    {"dataset.id", Type::kString, Scope::kDataset, kDatasetActions,
     [](In in) { return in.sym(in.dataset->id.str()); }},
    {"dataset.origin", Type::kCountry, Scope::kDataset, kDatasetActions,
     [](In in) { return in.sym(in.dataset->origin.str()); }},
    {"dataset.class", Type::kString, Scope::kDataset, kDatasetActions,
     [](In in) { return in.sym(std::string(to_string(in.dataset->data_class))); }},
    {"dataset.size_tb", Type::kNumber, Scope::kDataset, kDatasetActions,
     [](In in) { return num(in.dataset->size_tb); }},
    {"now", Type::kDate, Scope::kNow, kAllActions, nullptr},
};
inline constexpr std::array<Attribute, std::size(kAttributeRows)> kAttributes =
    numbered(std::to_array(kAttributeRows));

inline constexpr std::size_t kSlotCount = kAttributes.size();

// The slot of the attribute `name`; a name not in the table does not compile.
consteval std::uint8_t slot_of(std::string_view name) {
  for (const Attribute& a : kAttributes) {
    if (a.name == name) return a.slot;
  }
  throw "no attribute of that name in kAttributes";
}

// The slots that code names: the checker's ids of catalog entities and the
// values fetch() does not read from a Subject's facts.
inline constexpr std::uint8_t kChipId = slot_of("chip.id");
inline constexpr std::uint8_t kSiteId = slot_of("site.id");
inline constexpr std::uint8_t kOperatorId = slot_of("operator.id");
inline constexpr std::uint8_t kOrgId = slot_of("org.id");
inline constexpr std::uint8_t kPoolId = slot_of("pool.id");
inline constexpr std::uint8_t kDatasetId = slot_of("dataset.id");
inline constexpr std::uint8_t kDatasetClass = slot_of("dataset.class");
inline constexpr std::uint8_t kNow = slot_of("now");

// The slots of one scope, which stand together in the table.
struct SlotRange {
  std::uint8_t first = 0, count = 0;
  bool contains(std::size_t slot) const { return slot >= first && slot < first + count; }
};

consteval SlotRange slots_of(Scope scope) {
  SlotRange range;
  for (const Attribute& a : kAttributes) {
    if (a.scope != scope) continue;
    if (range.count == 0) range.first = a.slot;
    if (a.slot != range.first + range.count)
      throw "the rows of an entity scope must stand together";
    ++range.count;
  }
  return range;
}

inline constexpr std::array<SlotRange, kEntityScopes> kEntitySlots = {
    slots_of(Scope::kChip), slots_of(Scope::kSite), slots_of(Scope::kOrg), slots_of(Scope::kPool),
    slots_of(Scope::kDataset)};
inline constexpr SlotRange kDatasetSlots = kEntitySlots[static_cast<std::size_t>(Scope::kDataset)];

// Per action, the slots of the request rows it has, in table order.
struct SlotList {
  std::array<std::uint8_t, kSlotCount> slots{};
  std::size_t count = 0;
};

consteval std::array<SlotList, kActionCount> request_slots() {
  std::array<SlotList, kActionCount> out{};
  for (std::size_t action = 0; action < out.size(); ++action) {
    for (const Attribute& a : kAttributes) {
      if (a.scope == Scope::kRequest && (a.actions & (1u << action)) != 0) {
        out[action].slots[out[action].count++] = a.slot;
      }
    }
  }
  return out;
}
inline constexpr std::array<SlotList, kActionCount> kRequestSlots = request_slots();

consteval bool every_row_has_its_extractor() {
  for (const Attribute& a : kAttributes) {
    if ((a.extract == nullptr) != (a.scope == Scope::kNow)) return false;
  }
  return true;
}
static_assert(every_row_has_its_extractor(), "a row of kAttributes lacks its extractor");
static_assert(kSlotCount <= 256, "slots are bytes");
static_assert(slots_of(Scope::kNow).count == 1 && kNow == slots_of(Scope::kNow).first);

std::span<const Attribute> attributes();
const Attribute* find_attribute(std::string_view name);

}  // namespace straits::policy::internal
