// The minimal test catalog (tests/data/catalogs/minimal), loaded once per
// test binary: what the policy tests decide over.
#pragma once

#include <filesystem>

#include "catalog/load.h"

namespace straits::testing_util {

inline const catalog::Catalog& minimal_catalog() {
  static const catalog::Catalog c =
      *catalog::load_catalog(std::filesystem::path(STRAITS_TEST_DATA_DIR) / "catalogs" / "minimal");
  return c;
}

}  // namespace straits::testing_util
