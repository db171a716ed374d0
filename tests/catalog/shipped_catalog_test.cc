// The shipped catalog loads cleanly, and its chips' derived export-control
// figures match the chip table of docs/sources.md's entries (reference section 2).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "catalog/load.h"

namespace straits::catalog {
namespace {

const Catalog& shipped() {
  static const Catalog catalog = [] {
    auto loaded = load_catalog(std::filesystem::path(STRAITS_SOURCE_DIR) / "catalog");
    if (!loaded) {
      ADD_FAILURE() << loaded.error().to_string();
      return Catalog();
    }
    return std::move(loaded).value();
  }();
  return catalog;
}

struct ReferenceFigures {
  const char* chip;
  double tpp;  // reference's TPP column
  double pd;   // reference's PD column; < 0 where the die area is not published
};

// Reference figures, as printed in the reference's chip table (section 2).
const ReferenceFigures kReference[] = {
    {"a100-sxm", 4992, 6.04},    {"a800", 4992, 6.04},       {"h100-sxm", 15832, 19.45},
    {"h100-pcie", 12104, 14.87}, {"h800", 15832, 19.45},     {"h200", 15832, 19.45},
    {"h20", 2368, 2.91},         {"l20", 1912, 3.14},        {"l40s", 5864, 9.63},
    {"b200", 36000, -1},         {"gb200", 40000, -1},       {"mi300x", 20919, -1},
    {"ascend-910b", 5120, 7.69}, {"ascend-910c", 12800, -1}, {"gaudi3", 29360, -1},
};

TEST(ShippedCatalogTest, LoadsWithoutErrors) {
  auto loaded = load_catalog(std::filesystem::path(STRAITS_SOURCE_DIR) / "catalog");
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->countries().size(), 249u);  // every ISO 3166-1 alpha-2 code
}

class ChipFiguresTest : public testing::TestWithParam<ReferenceFigures> {};

TEST_P(ChipFiguresTest, MatchesTheReference) {
  const ReferenceFigures& want = GetParam();
  const Chip* chip = shipped().find_chip(ChipId(want.chip));
  ASSERT_NE(chip, nullptr) << want.chip;
  // TPP to within 1 (the reference rounds to whole numbers).
  EXPECT_NEAR(chip->tpp, want.tpp, 1.0) << want.chip;
  if (want.pd < 0) {
    EXPECT_FALSE(chip->performance_density.has_value()) << want.chip;
  } else {
    ASSERT_TRUE(chip->performance_density.has_value()) << want.chip;
    // The reference prints two decimals.
    EXPECT_NEAR(*chip->performance_density, want.pd, 0.005 + 1e-9) << want.chip;
  }
  EXPECT_FALSE(chip->sources.empty()) << want.chip << " must cite its sources";
}

INSTANTIATE_TEST_SUITE_P(Reference, ChipFiguresTest, testing::ValuesIn(kReference),
                         [](const auto& param_info) {
                           std::string name = param_info.param.chip;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(ShippedCatalogTest, DerivedFiguresPlaceChipsOnTheRightSideOfThe2023Thresholds) {
  // 3A090.a from Nov 2023: TPP >= 4800, or TPP >= 1600 and PD >= 5.92.
  auto is_3a090a = [](const Chip& c) {
    return c.tpp >= 4800 || (c.tpp >= 1600 && c.performance_density.value_or(0) >= 5.92);
  };
  const Catalog& c = shipped();
  for (const char* id : {"a100-sxm", "a800", "h100-sxm", "h800", "h200", "l40s", "b200"}) {
    EXPECT_TRUE(is_3a090a(*c.find_chip(ChipId(id)))) << id;
  }
  for (const char* id : {"h20", "l20"}) {
    EXPECT_FALSE(is_3a090a(*c.find_chip(ChipId(id)))) << id;
  }
  // Oct 2022: I/O >= 600 GB/s AND TPP >= 4800. A800 and H800 were designed below the I/O line.
  auto is_2022 = [](const Chip& chip) { return chip.io_bandwidth_gbps >= 600 && chip.tpp >= 4800; };
  EXPECT_TRUE(is_2022(*c.find_chip(ChipId("a100-sxm"))));
  EXPECT_FALSE(is_2022(*c.find_chip(ChipId("a800"))));
  EXPECT_FALSE(is_2022(*c.find_chip(ChipId("h800"))));
  EXPECT_FALSE(is_2022(*c.find_chip(ChipId("l40s"))));
}

TEST(ShippedCatalogTest, HoldsTheWorldTheStoriesNeed) {
  const Catalog& c = shipped();
  std::set<std::string> offshore_countries;
  std::set<std::string> offshore_chips;
  for (const Pool& p : c.pools()) {
    const Site* site = c.find_site(p.site);
    ASSERT_NE(site, nullptr);
    if (site->country.str() != "CN") {
      offshore_countries.insert(site->country.str());
      if (!p.owner) offshore_chips.insert(site->country.str() + ":" + p.chip.str());
    } else {
      EXPECT_TRUE(p.owner.has_value()) << p.id << ": domestic pools are tenant-owned";
    }
  }
  EXPECT_TRUE(offshore_countries.count("SG") && offshore_countries.count("MY") &&
              offshore_countries.count("JP"));
  for (const char* want : {"SG:h100-sxm", "SG:h200", "MY:h100-sxm", "MY:h200"}) {
    EXPECT_TRUE(offshore_chips.count(want)) << want;
  }
  // A Singapore subsidiary of a China-headquartered group, two levels up.
  const Org& top = c.ultimate_parent(OrgId("qingluan-ventures-sg"));
  EXPECT_EQ(top.id.str(), "qingluan");
  EXPECT_EQ(top.hq.str(), "CN");
  EXPECT_EQ(c.ownership_chain(OrgId("qingluan-ventures-sg")).size(), 3u);
  // A Singapore site whose operator's ultimate parent is headquartered in China.
  bool found = false;
  for (const Site& s : c.sites()) {
    if (s.country.str() == "SG" && c.ultimate_parent(s.operator_id).hq.str() == "CN") found = true;
  }
  EXPECT_TRUE(found);
  // Country groups the rules test.
  EXPECT_TRUE(c.find_group(GroupId("D5"))->contains(CountryCode("CN")));
  EXPECT_FALSE(c.find_group(GroupId("D5"))->contains(CountryCode("MO")));
  EXPECT_TRUE(c.find_group(GroupId("D1"))->contains(CountryCode("MO")));
  EXPECT_FALSE(c.find_group(GroupId("D5"))->contains(CountryCode("SG")));
  EXPECT_TRUE(c.find_group(GroupId("A5"))->contains(CountryCode("JP")));
}

// Each offshore and domestic list price comes from a real row of
// data/skypilot/gpu_prices_combined.csv (data/README.md names the rows):
// per-GPU price = row price / accelerator_count, rounded to 4 decimals.
TEST(ShippedCatalogTest, PricesComeFromTheRealPriceRows) {
  std::ifstream csv(std::filesystem::path(STRAITS_SOURCE_DIR) /
                    "data/skypilot/gpu_prices_combined.csv");
  ASSERT_TRUE(csv.good());
  std::vector<std::string> lines(1);  // lines[1] is the header, as in the README
  for (std::string line; std::getline(csv, line);) lines.push_back(line);
  auto field = [](const std::string& line, int index) {
    std::stringstream in(line);
    std::string cell;
    for (int i = 0; i <= index; ++i) std::getline(in, cell, ',');
    return cell;
  };
  struct Case {
    const char* pool;
    int line;
    const char* accelerator;
  };
  const Case cases[] = {
      {"sg-tuas-1-h100", 262, "H100"},        {"sg-tuas-1-h200", 309, "H200"},
      {"my-iskandar-1-l20", 505, "L20"},      {"jp-tokyo-1-h100", 42, "H100"},
      {"jp-tokyo-1-b200", 158, "B200"},       {"cn-hangzhou-1-a800", 551, "A800 40G"},
      {"cn-ulanqab-1-h800", 549, "A100 80G"}, {"cn-ulanqab-1-h20", 773, "H"},
  };
  for (const Case& c : cases) {
    ASSERT_LT(static_cast<std::size_t>(c.line), lines.size());
    const std::string& row = lines[c.line];
    EXPECT_EQ(field(row, 2), c.accelerator) << row;
    double per_gpu = std::stod(field(row, 9)) / std::stod(field(row, 3));
    auto expected_micros = static_cast<std::int64_t>(std::llround(per_gpu * 1e4)) * 100;
    const Pool* pool = shipped().find_pool(PoolId(c.pool));
    ASSERT_NE(pool, nullptr) << c.pool;
    EXPECT_EQ(pool->price_per_gpu_hour.micros(), expected_micros) << c.pool << " vs " << row;
    EXPECT_EQ(pool->price_per_gpu_hour.currency().str(), "USD");
  }
}

}  // namespace
}  // namespace straits::catalog
