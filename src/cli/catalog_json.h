// The catalog as JSON for scripts: one array of objects per kind, with the
// derived figures (TPP, PD, ultimate parents) included.
#pragma once

#include <string>
#include <string_view>

#include "catalog/catalog.h"

namespace straits::cli {

// Kinds: chips, countries, groups, operators, sites, pools, orgs, licences,
// datasets; "" gives an object holding every kind. Pretty-printed.
// REQUIRES: a known kind.
std::string catalog_to_json(const catalog::Catalog& catalog, std::string_view kind);

}  // namespace straits::cli
