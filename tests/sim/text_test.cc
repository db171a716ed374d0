#include "sim/internal/text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

namespace straits::sim::internal {
namespace {

std::string printf_fixed(double v, int decimals) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  return buffer;
}

std::string fixed(double v, int decimals) {
  std::string out = "x";  // appends, leaving what was there
  append_fixed(out, v, decimals);
  return out.substr(1);
}

// append_fixed rounds most values in integers; it must print what printf
// prints for every value, most of all those next to a half.
TEST(AppendFixedTest, PrintsWhatPrintfPrints) {
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 200000; ++i) {
    const int decimals = static_cast<int>(next() % 10);
    double v;
    switch (i % 4) {
      case 0:  // anywhere from 1e-9 to 1e12
        v = std::pow(10.0, static_cast<double>(next() % 2100) / 100.0 - 9);
        break;
      case 1:  // a decimal half at that precision, and its neighbours
      {
        const double half = (static_cast<double>(next() % 100000) + 0.5) / std::pow(10.0, decimals);
        const int step = static_cast<int>(next() % 3) - 1;
        v = step == 0 ? half : std::nextafter(half, step > 0 ? 1e300 : -1e300);
        break;
      }
      case 2:  // GPU-hours and money as a simulation sums them
        v = static_cast<double>(next() % 100000) * (static_cast<double>(next() % 3600) / 3600.0);
        break;
      default:  // any bit pattern of a finite double
      {
        std::uint64_t bits = next();
        std::memcpy(&v, &bits, sizeof v);
        if (!std::isfinite(v)) v = 0.1;
      }
    }
    ASSERT_EQ(fixed(v, decimals), printf_fixed(v, decimals)) << v << " to " << decimals;
  }
}

TEST(AppendFixedTest, PrintsExactTiesAndSignsAsPrintfDoes) {
  for (double v : {0.0, -0.0, 0.125, 0.375, 2.5, 0.5, 1.5, 1e15, 4.5e15, 1e300, -1.25, -0.001,
                   std::numeric_limits<double>::denorm_min(), 1 - 1e-16}) {
    for (int decimals = 0; decimals <= 9; ++decimals) {
      EXPECT_EQ(fixed(v, decimals), printf_fixed(v, decimals)) << v << " to " << decimals;
    }
  }
  EXPECT_EQ(fixed(0.125, 2), "0.12");  // the tie goes to even
  EXPECT_EQ(fixed(1.5, 0), "2");
  EXPECT_EQ(fixed(1.616111, 6), "1.616111");
}

TEST(AppendShortestTest, PrintsWhatToCharsPrints) {
  for (double v : {0.0,
                   -0.0,
                   1.0,
                   -1.0,
                   2.0,
                   16.0,
                   1e15,
                   1e16,
                   -1e15,
                   123456789.0,
                   0.5,
                   1.25,
                   1.6159081204225312,
                   1e-300,
                   9007199254740993.0,
                   1e21,
                   10000.0,
                   -10000.0,
                   99999.0,
                   100000.0,
                   -100000.0,
                   120000.0,
                   99999.5}) {
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
    std::string out;
    append_shortest(out, v);
    EXPECT_EQ(out, std::string(buffer, end)) << v;
  }
}

TEST(AppendIntTest, PrintsIntegers) {
  std::string out;
  append_int(out, 0);
  out += ',';
  append_int(out, -42);
  out += ',';
  append_int(out, std::numeric_limits<long long>::min());
  EXPECT_EQ(out, "0,-42,-9223372036854775808");
}

}  // namespace
}  // namespace straits::sim::internal
