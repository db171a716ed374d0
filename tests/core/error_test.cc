#include "core/error.h"

#include <gtest/gtest.h>

namespace straits {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return Error(ErrorCode::kInvalidArgument, "not positive: " + std::to_string(x));
  return x;
}

Result<int> doubled(int x) {
  STRAITS_ASSIGN_OR_RETURN(int value, parse_positive(x));
  return value * 2;
}

Status check_both(int a, int b) {
  STRAITS_TRY(parse_positive(a));
  STRAITS_TRY(parse_positive(b));
  return ok();
}

TEST(ResultTest, HoldsAValueOrAnError) {
  Result<int> good = parse_positive(3);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 3);
  EXPECT_EQ(good.value_or(7), 3);
  Result<int> bad = parse_positive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "not positive: -1");
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(ResultTest, MacrosPropagateTheFirstError) {
  EXPECT_EQ(*doubled(4), 8);
  EXPECT_EQ(doubled(-4).error().message(), "not positive: -4");
  EXPECT_TRUE(check_both(1, 2));
  Status failed = check_both(1, -2);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message(), "not positive: -2");
}

TEST(ErrorTest, PrintsLocationAndContext) {
  Error e(ErrorCode::kNotFound, "no pool 'x'", SourceLocation{"pools.yaml", 3, 7});
  EXPECT_EQ(e.to_string(), "pools.yaml:3:7: no pool 'x'");
  Error wrapped = std::move(e).with_context("loading scenario");
  EXPECT_EQ(wrapped.to_string(), "pools.yaml:3:7: loading scenario: no pool 'x'");
  EXPECT_EQ(to_string(SourceLocation{"f", 2, 0}), "f:2");
  EXPECT_EQ(to_string(SourceLocation{"f", 0, 0}), "f");
}

TEST(DiagnosticsTest, SortsByPlaceAndDropsRepeats) {
  Diagnostics d;
  d.add({"b.yaml", 1, 1}, "third");
  d.add({"a.yaml", 10, 2}, "second");
  d.add({"a.yaml", 2, 5}, "first");
  d.add({"a.yaml", 2, 5}, "first");
  auto sorted = d.sorted();
  ASSERT_EQ(sorted.size(), 3u);
  EXPECT_EQ(to_string(sorted[0]), "a.yaml:2:5: first");
  EXPECT_EQ(to_string(sorted[1]), "a.yaml:10:2: second");
  EXPECT_EQ(to_string(sorted[2]), "b.yaml:1:1: third");
  Error e = d.to_error("3 errors");
  EXPECT_EQ(e.to_string(), "3 errors\na.yaml:2:5: first\na.yaml:10:2: second\nb.yaml:1:1: third");
}

}  // namespace
}  // namespace straits
