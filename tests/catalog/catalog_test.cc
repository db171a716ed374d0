#include "catalog/catalog.h"

#include <gtest/gtest.h>

namespace straits::catalog {
namespace {

TEST(TppTest, TakesTheLargerOfBf16AndInt8) {
  // H100 SXM: 989.4 x 16 = 15,830.4; 1,979 x 8 = 15,832.
  EXPECT_DOUBLE_EQ(total_processing_performance(989.4, 1979), 15832);
  // Ascend 910C: BF16 only, 800 x 16.
  EXPECT_DOUBLE_EQ(total_processing_performance(800, std::nullopt), 12800);
  EXPECT_DOUBLE_EQ(total_processing_performance(std::nullopt, 296), 2368);
}

TEST(LicenceTest, ValidityIsHalfOpenAndScopeEmptyMeansAny) {
  Licence l;
  l.valid_from = Instant::from_date(2025, 8, 11);
  l.valid_until = Instant::from_date(2026, 8, 11);
  l.chips = {ChipId("h20")};
  EXPECT_FALSE(l.valid_at(Instant::from_date(2025, 8, 10)));
  EXPECT_TRUE(l.valid_at(Instant::from_date(2025, 8, 11)));
  EXPECT_TRUE(l.valid_at(Instant::from_date(2026, 8, 11) - Duration::seconds(1)));
  EXPECT_FALSE(l.valid_at(Instant::from_date(2026, 8, 11)));
  EXPECT_TRUE(l.covers_chip(ChipId("h20")));
  EXPECT_FALSE(l.covers_chip(ChipId("h100-sxm")));
  EXPECT_TRUE(l.covers_country(CountryCode("CN")));  // no country scope: any
  l.valid_until.reset();
  EXPECT_TRUE(l.valid_at(Instant::from_date(2040, 1, 1)));
}

TEST(CatalogBuilderTest, IndexesAndDerives) {
  Chip chip;
  chip.id = ChipId("x");
  chip.bf16_dense_tflops = 100;
  chip.die_area_mm2 = 400;
  Org parent{OrgId("p"), "Parent", CountryCode("CN"), std::nullopt, ""};
  Org child{OrgId("c"), "Child", CountryCode("SG"), OrgId("p"), ""};
  Catalog c = CatalogBuilder().add(chip).add(parent).add(child).build();
  ASSERT_NE(c.find_chip(ChipId("x")), nullptr);
  EXPECT_DOUBLE_EQ(c.find_chip(ChipId("x"))->tpp, 1600);
  EXPECT_DOUBLE_EQ(*c.find_chip(ChipId("x"))->performance_density, 4.0);
  EXPECT_EQ(c.find_chip(ChipId("y")), nullptr);
  EXPECT_EQ(c.ultimate_parent(OrgId("c")).id.str(), "p");
  EXPECT_EQ(c.ultimate_parent(OrgId("p")).id.str(), "p");
}

TEST(CatalogBuilderTest, ACycleBuiltInCodeDoesNotHang) {
  Org a{OrgId("a"), "A", CountryCode("CN"), OrgId("b"), ""};
  Org b{OrgId("b"), "B", CountryCode("SG"), OrgId("a"), ""};
  Catalog c = CatalogBuilder().add(a).add(b).build();
  EXPECT_EQ(c.ownership_chain(OrgId("a")).size(), 2u);
}

}  // namespace
}  // namespace straits::catalog
