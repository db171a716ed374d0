#include "catalog/catalog.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace straits::catalog {
namespace {

template <typename T, typename Key>
const T* find_in(const std::vector<T>& items,
                 const std::map<std::string, std::size_t, std::less<>>& index, const Key& key) {
  auto it = index.find(key.str());
  return it == index.end() ? nullptr : &items[it->second];
}

// Walks parent links; stops at a repeated entity so that a catalog built in
// code with a cycle cannot hang us (load_catalog rejects cycles).
template <typename Entity, typename Find>
std::vector<const Entity*> chain_of(const Entity* start, Find find) {
  std::vector<const Entity*> chain;
  for (const Entity* e = start; e != nullptr;) {
    if (std::find(chain.begin(), chain.end(), e) != chain.end()) break;
    chain.push_back(e);
    e = e->parent ? find(*e->parent) : nullptr;
  }
  return chain;
}

[[noreturn]] void unknown_id(const char* kind, const std::string& id) {
  std::fprintf(stderr, "straits: catalog has no %s '%s'\n", kind, id.c_str());
  std::abort();
}

}  // namespace

double total_processing_performance(std::optional<double> bf16_dense_tflops,
                                    std::optional<double> int8_dense_tops) {
  double tpp = 0;
  if (bf16_dense_tflops) tpp = std::max(tpp, *bf16_dense_tflops * 16);
  if (int8_dense_tops) tpp = std::max(tpp, *int8_dense_tops * 8);
  return tpp;
}

bool CountryGroup::contains(const CountryCode& country) const {
  return std::binary_search(members.begin(), members.end(), country);
}

bool Licence::valid_at(Instant t) const {
  return valid_from <= t && (!valid_until || t < *valid_until);
}

bool Licence::covers_chip(const ChipId& chip) const {
  return chips.empty() || std::find(chips.begin(), chips.end(), chip) != chips.end();
}

bool Licence::covers_country(const CountryCode& country) const {
  return countries.empty() ||
         std::find(countries.begin(), countries.end(), country) != countries.end();
}

std::string_view to_string(DataClass data_class) {
  switch (data_class) {
    case DataClass::kPublic: return "public";
    case DataClass::kPersonal: return "personal";
    case DataClass::kImportant: return "important";
  }
  return "?";
}

const Chip* Catalog::find_chip(const ChipId& id) const {
  return find_in(chips_, chip_index_, id);
}
const Country* Catalog::find_country(const CountryCode& code) const {
  return find_in(countries_, country_index_, code);
}
const CountryGroup* Catalog::find_group(const GroupId& id) const {
  return find_in(groups_, group_index_, id);
}
const Operator* Catalog::find_operator(const OperatorId& id) const {
  return find_in(operators_, operator_index_, id);
}
const Site* Catalog::find_site(const SiteId& id) const {
  return find_in(sites_, site_index_, id);
}
const Pool* Catalog::find_pool(const PoolId& id) const {
  return find_in(pools_, pool_index_, id);
}
const Org* Catalog::find_org(const OrgId& id) const {
  return find_in(orgs_, org_index_, id);
}
const Licence* Catalog::find_licence(const LicenceId& id) const {
  return find_in(licences_, licence_index_, id);
}
const Dataset* Catalog::find_dataset(const DatasetId& id) const {
  return find_in(datasets_, dataset_index_, id);
}

std::vector<const Org*> Catalog::ownership_chain(const OrgId& id) const {
  const Org* org = find_org(id);
  if (org == nullptr) unknown_id("org", id.str());
  return chain_of(org, [this](const OrgId& parent) { return find_org(parent); });
}

std::vector<const Operator*> Catalog::ownership_chain(const OperatorId& id) const {
  const Operator* op = find_operator(id);
  if (op == nullptr) unknown_id("operator", id.str());
  return chain_of(op, [this](const OperatorId& parent) { return find_operator(parent); });
}

const Org& Catalog::ultimate_parent(const OrgId& id) const {
  return *ownership_chain(id).back();
}

const Operator& Catalog::ultimate_parent(const OperatorId& id) const {
  return *ownership_chain(id).back();
}

std::vector<const Licence*> Catalog::licences_held_by(std::string_view holder_id) const {
  std::vector<const Licence*> held;
  for (const Licence& licence : licences_) {
    if (licence.holder.id == holder_id) held.push_back(&licence);
  }
  return held;
}

namespace {

template <typename T>
void append(std::vector<T>& items, std::map<std::string, std::size_t, std::less<>>& index,
            const std::string& key, T item) {
  index.emplace(key, items.size());  // the first of duplicate ids wins
  items.push_back(std::move(item));
}

}  // namespace

CatalogBuilder& CatalogBuilder::add(Chip chip) {
  std::string key = chip.id.str();
  append(catalog_.chips_, catalog_.chip_index_, key, std::move(chip));
  return *this;
}
CatalogBuilder& CatalogBuilder::add(Country country) {
  std::string key = country.code.str();
  append(catalog_.countries_, catalog_.country_index_, key, std::move(country));
  return *this;
}
CatalogBuilder& CatalogBuilder::add(CountryGroup group) {
  std::sort(group.members.begin(), group.members.end());
  group.members.erase(std::unique(group.members.begin(), group.members.end()), group.members.end());
  std::string key = group.id.str();
  append(catalog_.groups_, catalog_.group_index_, key, std::move(group));
  return *this;
}
CatalogBuilder& CatalogBuilder::add(Operator op) {
  std::string key = op.id.str();
  append(catalog_.operators_, catalog_.operator_index_, key, std::move(op));
  return *this;
}
CatalogBuilder& CatalogBuilder::add(Site site) {
  std::string key = site.id.str();
  append(catalog_.sites_, catalog_.site_index_, key, std::move(site));
  return *this;
}
CatalogBuilder& CatalogBuilder::add(Pool pool) {
  std::string key = pool.id.str();
  append(catalog_.pools_, catalog_.pool_index_, key, std::move(pool));
  return *this;
}
CatalogBuilder& CatalogBuilder::add(Org org) {
  std::string key = org.id.str();
  append(catalog_.orgs_, catalog_.org_index_, key, std::move(org));
  return *this;
}
CatalogBuilder& CatalogBuilder::add(Licence licence) {
  std::string key = licence.id.str();
  append(catalog_.licences_, catalog_.licence_index_, key, std::move(licence));
  return *this;
}
CatalogBuilder& CatalogBuilder::add(Dataset dataset) {
  std::string key = dataset.id.str();
  append(catalog_.datasets_, catalog_.dataset_index_, key, std::move(dataset));
  return *this;
}

Catalog CatalogBuilder::build() {
  for (Chip& chip : catalog_.chips_) {
    chip.tpp = total_processing_performance(chip.bf16_dense_tflops, chip.int8_dense_tops);
    if (chip.die_area_mm2 && *chip.die_area_mm2 > 0) {
      chip.performance_density = chip.tpp / *chip.die_area_mm2;
    }
  }
  Catalog built = std::move(catalog_);
  catalog_ = Catalog();
  return built;
}

}  // namespace straits::catalog
