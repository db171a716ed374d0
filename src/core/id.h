// Strong ids: a PoolId and an OrgId are both strings underneath, but never
// convert into each other, so a pool id cannot be passed where an org is
// meant. Ids come from catalog files and API requests and are printed as is.
#pragma once

#include <compare>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace straits {

template <typename Tag>
class Id {
 public:
  Id() = default;
  explicit Id(std::string value) : value_(std::move(value)) {}

  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend bool operator==(const Id&, const Id&) = default;
  friend auto operator<=>(const Id&, const Id&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Id& id) { return out << id.value_; }

 private:
  std::string value_;
};

struct ChipTag {};
struct CountryTag {};
struct GroupTag {};
struct OperatorTag {};
struct SiteTag {};
struct PoolTag {};
struct OrgTag {};
struct UserTag {};
struct LeaseTag {};
struct LicenceTag {};
struct DatasetTag {};
struct JobTag {};
struct RuleTag {};

using ChipId = Id<ChipTag>;
using CountryCode = Id<CountryTag>;  // ISO 3166-1 alpha-2, upper case
using GroupId = Id<GroupTag>;
using OperatorId = Id<OperatorTag>;
using SiteId = Id<SiteTag>;
using PoolId = Id<PoolTag>;
using OrgId = Id<OrgTag>;
using UserId = Id<UserTag>;
using LeaseId = Id<LeaseTag>;
using LicenceId = Id<LicenceTag>;
using DatasetId = Id<DatasetTag>;
using JobId = Id<JobTag>;
using RuleId = Id<RuleTag>;

}  // namespace straits

template <typename Tag>
struct std::hash<straits::Id<Tag>> {
  std::size_t operator()(const straits::Id<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
