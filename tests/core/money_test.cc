#include "core/money.h"

#include <gtest/gtest.h>

namespace straits {
namespace {

Currency usd() {
  return *Currency::make("USD");
}

TEST(MoneyTest, ParsesAmountsWithCurrencyOnEitherSide) {
  auto a = parse_money("3.93 USD");
  auto b = parse_money("USD 3.93");
  auto c = parse_money("  3.930000 USD ");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->micros(), 3'930'000);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_EQ(a->currency().str(), "USD");
  auto cny = parse_money("-12 CNY");
  ASSERT_TRUE(cny);
  EXPECT_EQ(cny->micros(), -12'000'000);
  EXPECT_EQ(cny->currency().str(), "CNY");
}

TEST(MoneyTest, RejectsBadAmounts) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"4.20", "missing the currency"},    {"4.20 usd", "three upper-case letters"},
      {"4.1234567 USD", "six decimals"},   {"4..2 USD", "two decimal points"},
      {"four USD", "not a number"},        {"USD", "missing the currency"},
      {"99999999999999 USD", "too large"},
  };
  for (const Case& c : cases) {
    auto m = parse_money(c.text);
    ASSERT_FALSE(m) << c.text;
    EXPECT_NE(m.error().message().find(c.reason), std::string::npos)
        << c.text << " -> " << m.error().message();
  }
}

TEST(MoneyTest, PrintsWithTwoToSixDecimals) {
  EXPECT_EQ(to_string(Money(3'930'000, usd())), "3.93 USD");
  EXPECT_EQ(to_string(Money(4'200'800, usd())), "4.2008 USD");
  EXPECT_EQ(to_string(Money(5'000'000, usd())), "5.00 USD");
  EXPECT_EQ(to_string(Money(1, usd())), "0.000001 USD");
  EXPECT_EQ(to_string(Money(-1'500'000, usd())), "-1.50 USD");
  EXPECT_EQ(to_decimal(Money(4'200'800, usd())), "4.2008");
}

TEST(MoneyTest, SumsAreExact) {
  // 0.1 added ten times is exactly 1 in micro-units, unlike in binary floating point.
  Money total(0, usd());
  Money dime = *parse_money("0.10 USD");
  for (int i = 0; i < 10; ++i) total += dime;
  EXPECT_EQ(total, *parse_money("1 USD"));
  // 512 GPUs x 24 h x 4.2008 USD = 12288 x 4.2008 = 51,619.4304 USD, to the micro-unit.
  Money day = *parse_money("4.2008 USD") * (512 * 24);
  EXPECT_EQ(to_string(day), "51619.4304 USD");
  EXPECT_EQ(Money::from_units(0.1234567, usd()).micros(), 123'457);
  EXPECT_EQ(Money(1'000'000, usd()).scaled(2.5).micros(), 2'500'000);
}

TEST(MoneyDeathTest, MixingCurrenciesIsABug) {
  Money a(1, usd());
  Money b(1, *Currency::make("CNY"));
  EXPECT_DEATH((void)(a + b), "across currencies");
}

}  // namespace
}  // namespace straits
