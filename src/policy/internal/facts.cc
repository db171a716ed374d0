#include "policy/internal/facts.h"

#include <algorithm>

namespace straits::policy::internal {
namespace {

constexpr unsigned kChipActions = kShipBit | kLeaseBit | kRunBit;
constexpr unsigned kPoolActions = kLeaseBit | kRunBit;
constexpr unsigned kOrgActions = kLeaseBit | kRunBit | kTransferBit;
constexpr unsigned kDatasetActions = kRunBit | kTransferBit;

constexpr Attribute kAttributes[] = {
    {"chip.id", Type::kString, kChipId, kChipActions, false},
    {"chip.vendor", Type::kString, kChipVendor, kChipActions, false},
    {"chip.origin", Type::kCountry, kChipOrigin, kChipActions, false},
    {"chip.tpp", Type::kNumber, kChipTpp, kChipActions, false},
    {"chip.pd", Type::kNumber, kChipPd, kChipActions, false},
    {"chip.memory_bandwidth", Type::kNumber, kChipMemoryBandwidth, kChipActions, false},
    {"chip.io_bandwidth", Type::kNumber, kChipIoBandwidth, kChipActions, false},
    {"chip.memory_gb", Type::kNumber, kChipMemoryGb, kChipActions, false},
    {"chip.datacenter", Type::kBool, kChipDatacenter, kChipActions, false},
    {"chip.hbm", Type::kBool, kChipHbm, kChipActions, false},
    {"site.id", Type::kString, kSiteId, kAllActions, false},
    {"site.city", Type::kString, kSiteCity, kAllActions, false},
    {"site.country", Type::kCountry, kSiteCountry, kAllActions, false},
    {"site.state_funded", Type::kBool, kSiteStateFunded, kAllActions, false},
    {"operator.id", Type::kString, kOperatorId, kAllActions, false},
    {"operator.hq", Type::kCountry, kOperatorHq, kAllActions, false},
    {"operator.parent_hq", Type::kCountry, kOperatorParentHq, kAllActions, false},
    {"source.country", Type::kCountry, kSourceCountry, kShipBit, false},
    {"source.site", Type::kString, kSourceSite, kShipBit, false},
    {"ship.quantity", Type::kNumber, kShipQuantity, kShipBit, false},
    {"org.id", Type::kString, kOrgId, kOrgActions, false},
    {"org.hq", Type::kCountry, kOrgHq, kOrgActions, false},
    {"org.parent_hq", Type::kCountry, kOrgParentHq, kOrgActions, false},
    {"pool.id", Type::kString, kPoolId, kPoolActions, false},
    {"pool.gpus", Type::kNumber, kPoolGpus, kPoolActions, false},
    {"pool.owned", Type::kBool, kPoolOwned, kPoolActions, false},
    {"lease.gpus", Type::kNumber, kLeaseGpus, kLeaseBit, false},
    {"lease.tpp", Type::kNumber, kLeaseTpp, kLeaseBit, false},
    {"lease.country_tpp", Type::kNumber, kLeaseCountryTpp, kLeaseBit, false},
    {"lease.org_tpp", Type::kNumber, kLeaseOrgTpp, kLeaseBit, false},
    {"job.gpus", Type::kNumber, kJobGpus, kRunBit, false},
    {"job.training_flops", Type::kNumber, kJobTrainingFlops, kRunBit, false},
    {"job.purpose", Type::kString, kJobPurpose, kRunBit, false},
    {"dataset.id", Type::kString, kDatasetId, kDatasetActions, true},
    {"dataset.origin", Type::kCountry, kDatasetOrigin, kDatasetActions, true},
    {"dataset.class", Type::kString, kDatasetClass, kDatasetActions, true},
    {"dataset.size_tb", Type::kNumber, kDatasetSizeTb, kDatasetActions, true},
    {"now", Type::kDate, kNow, kAllActions, false},
};

}  // namespace

std::string_view to_string(Type type) {
  switch (type) {
    case Type::kBool: return "bool";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kCountry: return "country";
    case Type::kDate: return "date";
  }
  return "?";
}

std::span<const Attribute> attributes() {
  return kAttributes;
}

const Attribute* find_attribute(std::string_view name) {
  auto it = std::find_if(std::begin(kAttributes), std::end(kAttributes),
                         [&](const Attribute& a) { return a.name == name; });
  return it == std::end(kAttributes) ? nullptr : &*it;
}

}  // namespace straits::policy::internal
