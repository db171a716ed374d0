// The catalog: chips with their export-control figures, countries and
// country groups, operators, sites, pools, tenant organisations, licences
// and datasets. It is the world that rules are evaluated against.
//
// A Catalog is an immutable value once loaded (see load.h): every reference
// in it resolves, ids are unique, ownership has no cycles. Lookups return
// nullptr for unknown ids. Entities keep the order of their files.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/id.h"
#include "core/money.h"
#include "core/time.h"

namespace straits::catalog {

struct Chip {
  ChipId id;
  std::string name;
  std::string vendor;
  CountryCode origin;      // where the chip was designed: "US-origin" rules key on it
  bool datacenter = true;  // designed or marketed for datacenters (Note 2 to 3A090)
  std::optional<double> bf16_dense_tflops;
  std::optional<double> int8_dense_tops;  // dense FP8 or INT8, whichever is higher
  double memory_gb = 0;
  std::string memory_type;
  double memory_bandwidth_gbps = 0;  // DRAM bandwidth, GB/s
  double io_bandwidth_gbps = 0;      // aggregate bidirectional I/O to non-memory ICs, GB/s
  std::optional<double> tdp_w;
  std::optional<double> die_area_mm2;  // absent when not published
  std::string interconnect;
  std::vector<std::string> sources;
  std::string notes;

  // Derived at load time, never typed in (ECCN 3A090 Technical Notes):
  // TPP = max(BF16 dense x 16, FP8/INT8 dense x 8); PD = TPP / die area.
  double tpp = 0;
  std::optional<double> performance_density;
};

// TPP = 2 x MacTOPS x bit length, with the catalog convention of the
// reference: the larger of dense BF16 x 16 and dense FP8/INT8 x 8.
double total_processing_performance(std::optional<double> bf16_dense_tflops,
                                    std::optional<double> int8_dense_tops);

struct Country {
  CountryCode code;
  std::string name;
};

struct CountryGroup {
  GroupId id;         // as rules name it: D1, D5, A5, TIER1
  std::string label;  // as regulations print it: "D:1"
  std::string name;
  std::vector<CountryCode> members;  // sorted
  std::vector<std::string> sources;
  std::string notes;

  bool contains(const CountryCode& country) const;
};

struct Operator {
  OperatorId id;
  std::string name;
  CountryCode hq;
  std::optional<OperatorId> parent;
  std::string notes;
};

struct Site {
  SiteId id;
  std::string name;
  OperatorId operator_id;
  CountryCode country;
  std::string city;
  bool state_funded = false;
  std::string notes;
};

struct Pool {
  PoolId id;
  SiteId site;
  ChipId chip;
  int nodes = 0;
  int gpus_per_node = 0;
  std::string interconnect;
  Money price_per_gpu_hour;
  std::string price_source;
  std::optional<OrgId> owner;  // a tenant's own cluster; absent: leasable capacity
  std::string notes;

  int gpus() const { return nodes * gpus_per_node; }
};

struct Org {
  OrgId id;
  std::string name;
  CountryCode hq;
  std::optional<OrgId> parent;
  std::string notes;
};

// Who holds a licence: an org or an operator (their ids never collide).
struct LicenceHolder {
  enum class Kind { kOrg, kOperator };
  Kind kind = Kind::kOrg;
  std::string id;
  friend bool operator==(const LicenceHolder&, const LicenceHolder&) = default;
};

struct Licence {
  LicenceId id;
  std::string name;  // the kind a rule requires, e.g. "US-EAR-3A090"
  LicenceHolder holder;
  std::vector<ChipId> chips;           // scope; empty = any chip
  std::vector<CountryCode> countries;  // scope; empty = any destination
  Instant valid_from;
  std::optional<Instant> valid_until;  // exclusive; absent = open-ended
  std::string issuer;
  std::string reference;
  std::string notes;

  bool valid_at(Instant t) const;
  bool covers_chip(const ChipId& chip) const;
  bool covers_country(const CountryCode& country) const;
};

enum class DataClass { kPublic, kPersonal, kImportant };
std::string_view to_string(DataClass data_class);

struct Dataset {
  DatasetId id;
  std::string name;
  OrgId owner;
  CountryCode origin;
  DataClass data_class = DataClass::kPublic;
  double size_tb = 0;
  std::string notes;
};

class Catalog {
 public:
  Catalog() = default;

  const std::vector<Chip>& chips() const { return chips_; }
  const std::vector<Country>& countries() const { return countries_; }
  const std::vector<CountryGroup>& groups() const { return groups_; }
  const std::vector<Operator>& operators() const { return operators_; }
  const std::vector<Site>& sites() const { return sites_; }
  const std::vector<Pool>& pools() const { return pools_; }
  const std::vector<Org>& orgs() const { return orgs_; }
  const std::vector<Licence>& licences() const { return licences_; }
  const std::vector<Dataset>& datasets() const { return datasets_; }

  const Chip* find_chip(const ChipId& id) const;
  const Country* find_country(const CountryCode& code) const;
  const CountryGroup* find_group(const GroupId& id) const;
  const Operator* find_operator(const OperatorId& id) const;
  const Site* find_site(const SiteId& id) const;
  const Pool* find_pool(const PoolId& id) const;
  const Org* find_org(const OrgId& id) const;
  const Licence* find_licence(const LicenceId& id) const;
  const Dataset* find_dataset(const DatasetId& id) const;

  // The top of the ownership chain (the org itself when it has no parent).
  // REQUIRES: the id is in the catalog.
  const Org& ultimate_parent(const OrgId& id) const;
  const Operator& ultimate_parent(const OperatorId& id) const;
  // The chain from the org itself up to its ultimate parent.
  std::vector<const Org*> ownership_chain(const OrgId& id) const;
  std::vector<const Operator*> ownership_chain(const OperatorId& id) const;

  // The licences held by an org or operator, in file order.
  std::vector<const Licence*> licences_held_by(std::string_view holder_id) const;

 private:
  friend class CatalogBuilder;

  std::vector<Chip> chips_;
  std::vector<Country> countries_;
  std::vector<CountryGroup> groups_;
  std::vector<Operator> operators_;
  std::vector<Site> sites_;
  std::vector<Pool> pools_;
  std::vector<Org> orgs_;
  std::vector<Licence> licences_;
  std::vector<Dataset> datasets_;

  // id -> index into the vectors above.
  std::map<std::string, std::size_t, std::less<>> chip_index_, country_index_, group_index_,
      operator_index_, site_index_, pool_index_, org_index_, licence_index_, dataset_index_;
};

// Assembles a Catalog; used by the loader and by tests that build worlds in
// code. build() indexes the entities but does not validate them: use
// load_catalog() for input from users.
class CatalogBuilder {
 public:
  CatalogBuilder& add(Chip chip);
  CatalogBuilder& add(Country country);
  CatalogBuilder& add(CountryGroup group);
  CatalogBuilder& add(Operator op);
  CatalogBuilder& add(Site site);
  CatalogBuilder& add(Pool pool);
  CatalogBuilder& add(Org org);
  CatalogBuilder& add(Licence licence);
  CatalogBuilder& add(Dataset dataset);
  // Indexes and derives (TPP, PD). Leaves the builder empty.
  Catalog build();

 private:
  Catalog catalog_;
};

}  // namespace straits::catalog
