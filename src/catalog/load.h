// Loading a catalog folder: chips.yaml, countries.yaml, operators.yaml,
// sites.yaml, pools.yaml, orgs.yaml, licences.yaml, datasets.yaml. The
// format is documented in docs/catalog.md.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "catalog/catalog.h"
#include "core/error.h"

namespace straits::catalog {

// The files a catalog folder may hold; chips.yaml and countries.yaml are
// required, a missing other file means "none of those".
inline constexpr const char* kCatalogFiles[] = {
    "chips.yaml", "countries.yaml", "operators.yaml", "sites.yaml",
    "pools.yaml", "orgs.yaml",      "licences.yaml",  "datasets.yaml",
};

// Reads and validates a whole catalog folder. On success every reference
// resolves, ids are unique and ownership has no cycles. On failure the Error
// lists every problem found, each as "file:line:column: message" (sorted),
// and nothing is returned: a catalog is never half-loaded.
Result<Catalog> load_catalog(const std::filesystem::path& dir);

// The files of a catalog folder held in memory: file name -> YAML text (JSON
// is YAML too). The control plane builds its catalog this way from its store.
using CatalogTexts = std::map<std::string, std::string, std::less<>>;

// As above, from texts; diagnostics name the files "NAME/FILE" (e.g.
// "store/pools.yaml:3:14: ...").
Result<Catalog> load_catalog(const CatalogTexts& texts, std::string_view name);

}  // namespace straits::catalog
