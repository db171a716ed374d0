#include "core/time.h"

#include <gtest/gtest.h>

namespace straits {
namespace {

TEST(InstantTest, ParsesDatesAsMidnightUtc) {
  auto t = parse_instant("2025-06-01");
  ASSERT_TRUE(t) << t.error().to_string();
  // 2025-06-01 is day 20240 after 1970-01-01: 20240 x 86400 s.
  EXPECT_EQ(t->unix_seconds(), 20240LL * 86400);
  EXPECT_EQ(to_iso8601(*t), "2025-06-01T00:00:00Z");
  EXPECT_EQ(to_iso_date(*t), "2025-06-01");
}

TEST(InstantTest, ParsesDateTimesWithZones) {
  auto utc = parse_instant("2025-06-01T12:30:15Z");
  auto plus8 = parse_instant("2025-06-01T20:30:15+08:00");
  auto minus5 = parse_instant("2025-06-01T07:30:15-0500");
  ASSERT_TRUE(utc && plus8 && minus5);
  EXPECT_EQ(*utc, *plus8);
  EXPECT_EQ(*utc, *minus5);
  EXPECT_EQ(to_iso8601(*plus8), "2025-06-01T12:30:15Z");
}

TEST(InstantTest, KeepsFractionsOfSeconds) {
  auto t = parse_instant("2025-06-01T00:00:00.25Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unix_microseconds() % 1'000'000, 250'000);
  EXPECT_EQ(to_iso8601(*t), "2025-06-01T00:00:00.25Z");
}

TEST(InstantTest, HandlesLeapYearsAndOldDates) {
  EXPECT_TRUE(parse_instant("2024-02-29"));
  EXPECT_TRUE(parse_instant("2000-02-29"));
  EXPECT_FALSE(parse_instant("2023-02-29"));
  EXPECT_FALSE(parse_instant("1900-02-29"));
  auto old = parse_instant("1969-12-31T23:59:59Z");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->unix_seconds(), -1);
  EXPECT_EQ(to_iso8601(*old), "1969-12-31T23:59:59Z");
}

// append_iso8601 keeps the text of the last day it printed: instants that
// alternate between days, fractions with and without trailing zeros and
// years outside 0000-9999 must print as if nothing were kept.
TEST(InstantTest, PrintsEachInstantAloneWhateverWasPrintedBefore) {
  std::uint64_t x = 88172645463325252ull;  // xorshift: a fixed sequence
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const std::int64_t first = Instant::from_date(1900, 1, 1).unix_microseconds();
  const std::int64_t span = Instant::from_date(2300, 1, 1).unix_microseconds() - first;
  std::string text;
  for (int i = 0; i < 20000; ++i) {
    std::int64_t us = first + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(span));
    if (i % 3 == 0) us -= us % 1'000'000;  // whole seconds
    if (i % 3 == 1) us -= us % 1'000;      // whole milliseconds
    const Instant t = Instant::from_unix_microseconds(us);
    text.clear();
    append_iso8601(text, t);
    EXPECT_EQ(text, to_iso8601(t));
    auto back = parse_instant(text);
    ASSERT_TRUE(back) << text;
    ASSERT_EQ(*back, t) << text;
  }
  EXPECT_EQ(to_iso8601(Instant::from_date(2026, 1, 1) + Duration::microseconds(10)),
            "2026-01-01T00:00:00.00001Z");
  EXPECT_EQ(to_iso8601(Instant::from_date(2026, 1, 1) - Duration::microseconds(1)),
            "2025-12-31T23:59:59.999999Z");
  EXPECT_EQ(to_iso8601(Instant::from_date(0, 3, 1)), "0000-03-01T00:00:00Z");
  EXPECT_EQ(to_iso8601(Instant::from_date(-1, 3, 1)), "-0001-03-01T00:00:00Z");
  EXPECT_EQ(to_iso8601(Instant::from_date(10000, 3, 1)), "10000-03-01T00:00:00Z");
  EXPECT_EQ(to_iso8601(Instant::from_date(2026, 3, 1)), "2026-03-01T00:00:00Z");
}

TEST(InstantTest, RoundTripsEveryDayOverFourCenturies) {
  Instant t = Instant::from_date(1900, 1, 1);
  for (int i = 0; i < 400 * 366; ++i, t += Duration::days(1)) {
    std::string text = to_iso_date(t);
    auto back = parse_instant(text);
    ASSERT_TRUE(back) << text;
    ASSERT_EQ(*back, t) << text;
  }
}

TEST(InstantTest, RejectsBadInputWithTheReason) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"2025-13-01", "month out of range"},
      {"2025-02-30", "day out of range"},
      {"2025/06/01", "not a date"},
      {"2025-06-01T12:00", "a time needs a zone"},
      {"2025-06-01T25:00Z", "time out of range"},
      {"2025-06-01T12:00Zjunk", "unexpected text after the time"},
      {"2025-06-01x", "unexpected text after the date"},
      {"", "not a date"},
  };
  for (const Case& c : cases) {
    auto t = parse_instant(c.text);
    ASSERT_FALSE(t) << c.text;
    EXPECT_EQ(t.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(t.error().message().find(c.reason), std::string::npos)
        << c.text << " -> " << t.error().message();
    EXPECT_NE(t.error().message().find(std::string("'") + c.text + "'"), std::string::npos);
  }
}

TEST(DurationTest, ParsesIsoAndShortForms) {
  struct Case {
    const char* text;
    std::int64_t seconds;
  };
  const Case cases[] = {
      {"PT2H30M", 9000}, {"P1DT2H", 93600}, {"PT45S", 45},  {"P2W", 1209600},
      {"90s", 90},       {"15m", 900},      {"2h", 7200},   {"7d", 604800},
      {"1.5h", 5400},    {"1h30m", 5400},   {"-2h", -7200},
  };
  for (const Case& c : cases) {
    auto d = parse_duration(c.text);
    ASSERT_TRUE(d) << c.text << ": " << d.error().message();
    EXPECT_EQ(d->whole_seconds(), c.seconds) << c.text;
  }
}

TEST(DurationTest, LongDurationsKeepEveryMicrosecond) {
  // 1e11 s is past where a double keeps microseconds (its ulp there is ~15 us);
  // found by the value-parser fuzzer.
  auto d = parse_duration("P1157407DT9H46M40.000001S");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->count_microseconds(), 100'000'000'000LL * 1'000'000 + 1);
  EXPECT_EQ(*parse_duration(to_iso8601(*d)), *d);
  EXPECT_FALSE(parse_duration("99999999999999999999s"));
}

TEST(DurationTest, RejectsBadInput) {
  for (const char* text : {"", "P", "2", "2x", "PT2D", "P2H", "h", "PTT1H", "-"}) {
    auto d = parse_duration(text);
    EXPECT_FALSE(d) << text;
  }
}

TEST(DurationTest, PrintsIsoAndHumanForms) {
  EXPECT_EQ(to_iso8601(Duration::hours(2) + Duration::minutes(30)), "PT2H30M");
  EXPECT_EQ(to_iso8601(Duration::days(3) + Duration::hours(4)), "P3DT4H");
  EXPECT_EQ(to_iso8601(Duration::days(3)), "P3D");
  EXPECT_EQ(to_iso8601(Duration()), "PT0S");
  EXPECT_EQ(to_iso8601(-Duration::seconds(90)), "-PT1M30S");
  EXPECT_EQ(to_iso8601(Duration::milliseconds(1500)), "PT1.5S");
  EXPECT_EQ(to_human(Duration::days(1) + Duration::minutes(5)), "1d5m");
  EXPECT_EQ(to_human(Duration()), "0s");
  for (auto d : {Duration::seconds(1), Duration::hours(49), Duration::milliseconds(250),
                 Duration::days(400) + Duration::seconds(7)}) {
    auto back = parse_duration(to_iso8601(d));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, d);
  }
}

TEST(DurationTest, ArithmeticIsExact) {
  Instant start = Instant::from_date(2025, 7, 14);
  Instant end = start + Duration::hours(36);
  EXPECT_EQ(end - start, Duration::hours(36));
  EXPECT_EQ(to_iso8601(end), "2025-07-15T12:00:00Z");
  EXPECT_DOUBLE_EQ((end - start).to_hours(), 36.0);
  EXPECT_LT(start, end);
  EXPECT_EQ(date_of(end), (Date{2025, 7, 15}));
}

}  // namespace
}  // namespace straits
