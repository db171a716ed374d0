// The typed attributes rules may use, their slots in a Facts record, and the
// values held there. Attribute names, types and actions are fixed here; the
// checker rejects any other name when a pack is loaded.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "policy/decision.h"

namespace straits::policy::internal {

enum class Type : std::uint8_t { kBool, kNumber, kString, kCountry, kDate };
std::string_view to_string(Type type);

// One value: numbers as double, strings and countries as interned symbols,
// booleans as 0/1, dates as microseconds since the epoch.
union Value {
  double number;
  std::int64_t integer;
};

enum Slot : std::uint8_t {
  kChipId,
  kChipVendor,
  kChipOrigin,
  kChipTpp,
  kChipPd,
  kChipMemoryBandwidth,
  kChipIoBandwidth,
  kChipMemoryGb,
  kChipDatacenter,
  kChipHbm,
  kSiteId,
  kSiteCity,
  kSiteCountry,
  kSiteStateFunded,
  kOperatorId,
  kOperatorHq,
  kOperatorParentHq,
  kSourceCountry,
  kSourceSite,
  kShipQuantity,
  kOrgId,
  kOrgHq,
  kOrgParentHq,
  kPoolId,
  kPoolGpus,
  kPoolOwned,
  kLeaseGpus,
  kLeaseTpp,
  kLeaseCountryTpp,
  kLeaseOrgTpp,
  kJobGpus,
  kJobTrainingFlops,
  kJobPurpose,
  kDatasetId,
  kDatasetOrigin,
  kDatasetClass,
  kDatasetSizeTb,
  kNow,
  kSlotCount
};

using Facts = std::array<Value, kSlotCount>;

inline constexpr unsigned action_bit(Action a) {
  return 1u << static_cast<unsigned>(a);
}
inline constexpr unsigned kShipBit = action_bit(Action::kShip);
inline constexpr unsigned kLeaseBit = action_bit(Action::kLease);
inline constexpr unsigned kRunBit = action_bit(Action::kRun);
inline constexpr unsigned kTransferBit = action_bit(Action::kTransfer);
inline constexpr unsigned kAllActions = kShipBit | kLeaseBit | kRunBit | kTransferBit;

struct Attribute {
  std::string_view name;
  Type type;
  Slot slot;
  unsigned actions;  // action_bit()s of the actions that have it
  bool is_dataset;   // ranges over a job's datasets in run rules
};

std::span<const Attribute> attributes();
const Attribute* find_attribute(std::string_view name);

}  // namespace straits::policy::internal
