// Loading a catalog folder: chips.yaml, countries.yaml, operators.yaml,
// sites.yaml, pools.yaml, orgs.yaml, licences.yaml, datasets.yaml. The
// format is documented in docs/catalog.md.
#pragma once

#include <filesystem>

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

}  // namespace straits::catalog
