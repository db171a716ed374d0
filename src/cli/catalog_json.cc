#include "cli/catalog_json.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace straits::cli {
namespace {

using nlohmann::json;
using namespace straits::catalog;

// Rounded so that JSON output is stable and readable (15832, 19.45).
double round_to(double value, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

template <typename T>
json optional_value(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

template <typename IdT>
json optional_id(const std::optional<IdT>& id) {
  return id ? json(id->str()) : json(nullptr);
}

template <typename IdT>
json ids(const std::vector<IdT>& list) {
  json out = json::array();
  for (const auto& id : list) out.push_back(id.str());
  return out;
}

json chips(const Catalog& catalog) {
  json out = json::array();
  for (const Chip& c : catalog.chips()) {
    out.push_back(
        {{"id", c.id.str()},
         {"name", c.name},
         {"vendor", c.vendor},
         {"origin", c.origin.str()},
         {"datacenter", c.datacenter},
         {"bf16_dense_tflops", optional_value(c.bf16_dense_tflops)},
         {"int8_dense_tops", optional_value(c.int8_dense_tops)},
         {"memory_gb", c.memory_gb},
         {"memory_type", c.memory_type},
         {"memory_bandwidth_gbps", c.memory_bandwidth_gbps},
         {"io_bandwidth_gbps", c.io_bandwidth_gbps},
         {"tdp_w", optional_value(c.tdp_w)},
         {"die_area_mm2", optional_value(c.die_area_mm2)},
         {"interconnect", c.interconnect},
         {"tpp", round_to(c.tpp, 1)},
         {"performance_density",
          c.performance_density ? json(round_to(*c.performance_density, 2)) : json(nullptr)},
         {"sources", c.sources},
         {"notes", c.notes}});
  }
  return out;
}

json countries(const Catalog& catalog) {
  json out = json::array();
  for (const Country& c : catalog.countries()) {
    json groups = json::array();
    for (const CountryGroup& g : catalog.groups()) {
      if (g.contains(c.code)) groups.push_back(g.id.str());
    }
    out.push_back({{"code", c.code.str()}, {"name", c.name}, {"groups", groups}});
  }
  return out;
}

json groups(const Catalog& catalog) {
  json out = json::array();
  for (const CountryGroup& g : catalog.groups()) {
    out.push_back({{"id", g.id.str()},
                   {"label", g.label},
                   {"name", g.name},
                   {"members", ids(g.members)},
                   {"sources", g.sources},
                   {"notes", g.notes}});
  }
  return out;
}

// Orgs and operators have the same shape: an ownership chain to an ultimate parent.
template <typename Entity>
json owned_entities(const Catalog& catalog, const std::vector<Entity>& entities) {
  json out = json::array();
  for (const Entity& e : entities) {
    const Entity& top = catalog.ultimate_parent(e.id);
    out.push_back({{"id", e.id.str()},
                   {"name", e.name},
                   {"hq", e.hq.str()},
                   {"parent", optional_id(e.parent)},
                   {"ultimate_parent", top.id.str()},
                   {"parent_hq", top.hq.str()},
                   {"notes", e.notes}});
  }
  return out;
}

json operators(const Catalog& catalog) {
  return owned_entities(catalog, catalog.operators());
}

json sites(const Catalog& catalog) {
  json out = json::array();
  for (const Site& s : catalog.sites()) {
    out.push_back({{"id", s.id.str()},
                   {"name", s.name},
                   {"operator", s.operator_id.str()},
                   {"country", s.country.str()},
                   {"city", s.city},
                   {"state_funded", s.state_funded},
                   {"notes", s.notes}});
  }
  return out;
}

json pools(const Catalog& catalog) {
  json out = json::array();
  for (const Pool& p : catalog.pools()) {
    const Site* site = catalog.find_site(p.site);
    out.push_back({{"id", p.id.str()},
                   {"site", p.site.str()},
                   {"country", site ? site->country.str() : ""},
                   {"chip", p.chip.str()},
                   {"nodes", p.nodes},
                   {"gpus_per_node", p.gpus_per_node},
                   {"gpus", p.gpus()},
                   {"interconnect", p.interconnect},
                   {"price_per_gpu_hour",
                    {{"amount", to_decimal(p.price_per_gpu_hour)},
                     {"currency", p.price_per_gpu_hour.currency().str()}}},
                   {"price_source", p.price_source},
                   {"owner", optional_id(p.owner)},
                   {"notes", p.notes}});
  }
  return out;
}

json orgs(const Catalog& catalog) {
  return owned_entities(catalog, catalog.orgs());
}

json licences(const Catalog& catalog) {
  json out = json::array();
  for (const Licence& l : catalog.licences()) {
    out.push_back(
        {{"id", l.id.str()},
         {"name", l.name},
         {"holder", l.holder.id},
         {"holder_kind", l.holder.kind == LicenceHolder::Kind::kOrg ? "org" : "operator"},
         {"chips", ids(l.chips)},
         {"countries", ids(l.countries)},
         {"valid_from", to_iso_date(l.valid_from)},
         {"valid_until", l.valid_until ? json(to_iso_date(*l.valid_until)) : json(nullptr)},
         {"issuer", l.issuer},
         {"reference", l.reference},
         {"notes", l.notes}});
  }
  return out;
}

json datasets(const Catalog& catalog) {
  json out = json::array();
  for (const Dataset& d : catalog.datasets()) {
    out.push_back({{"id", d.id.str()},
                   {"name", d.name},
                   {"owner", d.owner.str()},
                   {"origin", d.origin.str()},
                   {"class", std::string(to_string(d.data_class))},
                   {"size_tb", d.size_tb},
                   {"notes", d.notes}});
  }
  return out;
}

}  // namespace

std::string catalog_to_json(const Catalog& catalog, std::string_view kind) {
  using Maker = json (*)(const Catalog&);
  static const std::pair<const char*, Maker> kKinds[] = {
      {"chips", chips},         {"countries", countries}, {"groups", groups},
      {"operators", operators}, {"sites", sites},         {"pools", pools},
      {"orgs", orgs},           {"licences", licences},   {"datasets", datasets},
  };
  if (kind.empty()) {
    json all = json::object();
    for (const auto& [name, make] : kKinds) all[name] = make(catalog);
    return all.dump(2);
  }
  for (const auto& [name, make] : kKinds) {
    if (kind == name) return make(catalog).dump(2);
  }
  return "null";
}

}  // namespace straits::cli
