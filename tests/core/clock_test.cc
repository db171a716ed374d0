#include "core/clock.h"

#include <gtest/gtest.h>

namespace straits {
namespace {

TEST(ManualClockTest, MovesOnlyWhenTold) {
  ManualClock clock(Instant::from_date(2025, 7, 14));
  const Clock& as_clock = clock;
  EXPECT_EQ(to_iso8601(as_clock.now()), "2025-07-14T00:00:00Z");
  clock.advance(Duration::hours(5));
  EXPECT_EQ(to_iso8601(as_clock.now()), "2025-07-14T05:00:00Z");
  clock.set(Instant::from_date(2026, 1, 15));
  EXPECT_EQ(to_iso_date(as_clock.now()), "2026-01-15");
}

TEST(ManualClockDeathTest, NeverRunsBackwards) {
  ManualClock clock(Instant::from_date(2025, 7, 14));
  EXPECT_DEATH(clock.set(Instant::from_date(2025, 1, 1)), "cannot run backwards");
}

TEST(SystemClockTest, IsAfterThisCodeWasWritten) {
  SystemClock clock;
  EXPECT_GT(clock.now(), Instant::from_date(2026, 1, 1));
}

}  // namespace
}  // namespace straits
