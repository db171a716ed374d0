#include "core/id.h"

#include <gtest/gtest.h>

#include <sstream>
#include <type_traits>
#include <unordered_set>

namespace straits {
namespace {

// The point of strong ids: none of these conversions compile.
static_assert(!std::is_convertible_v<PoolId, OrgId>);
static_assert(!std::is_convertible_v<OrgId, PoolId>);
static_assert(!std::is_convertible_v<std::string, PoolId>);
static_assert(!std::is_convertible_v<PoolId, std::string>);
static_assert(!std::is_constructible_v<OrgId, PoolId>);

TEST(IdTest, ComparesHashesAndPrints) {
  PoolId a("sg-tuas-1-h100"), b("sg-tuas-1-h200"), a2("sg-tuas-1-h100");
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
  std::unordered_set<PoolId> set{a, b, a2};
  EXPECT_EQ(set.size(), 2u);
  std::ostringstream out;
  out << a;
  EXPECT_EQ(out.str(), "sg-tuas-1-h100");
  EXPECT_TRUE(PoolId().empty());
}

}  // namespace
}  // namespace straits
