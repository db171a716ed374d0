// Time in straits: an Instant is a UTC point in time, a Duration a signed
// span, both integer microseconds so that arithmetic is exact and simulation
// output is byte-identical across runs and machines.
//
// Text form is ISO 8601: instants as "2025-06-01" (midnight UTC),
// "2025-06-01T12:30:00Z" or with an offset "+08:00"; durations as
// "PT2H30M", "P1DT2H", or the short forms "90s", "15m", "2h", "7d".
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace straits {

class Duration {
 public:
  constexpr Duration() = default;

  static constexpr Duration microseconds(std::int64_t n) { return Duration(n); }
  static constexpr Duration milliseconds(std::int64_t n) { return Duration(n * 1'000); }
  static constexpr Duration seconds(std::int64_t n) { return Duration(n * 1'000'000); }
  static constexpr Duration minutes(std::int64_t n) { return seconds(n * 60); }
  static constexpr Duration hours(std::int64_t n) { return seconds(n * 3'600); }
  static constexpr Duration days(std::int64_t n) { return seconds(n * 86'400); }
  // Rounds to the nearest microsecond.
  static Duration from_seconds(double seconds);

  constexpr std::int64_t count_microseconds() const { return us_; }
  constexpr std::int64_t whole_seconds() const { return us_ / 1'000'000; }
  double to_seconds() const { return static_cast<double>(us_) / 1e6; }
  double to_hours() const { return static_cast<double>(us_) / 3.6e9; }

  constexpr Duration operator+(Duration other) const { return Duration(us_ + other.us_); }
  constexpr Duration operator-(Duration other) const { return Duration(us_ - other.us_); }
  constexpr Duration operator-() const { return Duration(-us_); }
  constexpr Duration operator*(std::int64_t factor) const { return Duration(us_ * factor); }
  constexpr Duration operator/(std::int64_t divisor) const { return Duration(us_ / divisor); }
  constexpr Duration& operator+=(Duration other) {
    us_ += other.us_;
    return *this;
  }
  constexpr Duration& operator-=(Duration other) {
    us_ -= other.us_;
    return *this;
  }

  friend constexpr bool operator==(Duration, Duration) = default;
  friend constexpr auto operator<=>(Duration, Duration) = default;

 private:
  constexpr explicit Duration(std::int64_t us) : us_(us) {}
  std::int64_t us_ = 0;
};

class Instant {
 public:
  constexpr Instant() = default;

  static constexpr Instant from_unix_microseconds(std::int64_t us) { return Instant(us); }
  static constexpr Instant from_unix_seconds(std::int64_t s) { return Instant(s * 1'000'000); }
  // Midnight UTC of a civil date. REQUIRES: a valid date (month 1-12, day in month).
  static Instant from_date(int year, int month, int day);
  // The earliest and latest representable instants: open ends of intervals.
  static constexpr Instant min() { return Instant(INT64_MIN); }
  static constexpr Instant max() { return Instant(INT64_MAX); }

  constexpr std::int64_t unix_microseconds() const { return us_; }
  constexpr std::int64_t unix_seconds() const { return us_ / 1'000'000; }

  constexpr Instant operator+(Duration d) const { return Instant(us_ + d.count_microseconds()); }
  constexpr Instant operator-(Duration d) const { return Instant(us_ - d.count_microseconds()); }
  constexpr Duration operator-(Instant other) const {
    return Duration::microseconds(us_ - other.us_);
  }
  constexpr Instant& operator+=(Duration d) {
    us_ += d.count_microseconds();
    return *this;
  }

  friend constexpr bool operator==(Instant, Instant) = default;
  friend constexpr auto operator<=>(Instant, Instant) = default;

 private:
  constexpr explicit Instant(std::int64_t us) : us_(us) {}
  std::int64_t us_ = 0;
};

// A civil date in the proleptic Gregorian calendar, UTC.
struct Date {
  int year = 1970;
  int month = 1;
  int day = 1;
  friend bool operator==(const Date&, const Date&) = default;
  friend auto operator<=>(const Date&, const Date&) = default;
};

Date date_of(Instant instant);

// Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.ffffff]](Z|+HH:MM|-HH:MM)".
// A date-time without a zone is an error: straits never guesses a zone.
Result<Instant> parse_instant(std::string_view text);
// Parses ISO 8601 durations ("P1DT2H30M", "PT45S", "P2W") and short forms
// ("90s", "15m", "2h", "7d", "1.5h"). Negative durations start with '-'.
Result<Duration> parse_duration(std::string_view text);

// "2025-06-01T00:00:00Z"; fractional seconds only when not whole.
std::string to_iso8601(Instant instant);
// The same, appended to `out` (no temporary: for writers of millions of rows).
void append_iso8601(std::string& out, Instant instant);
// "2025-06-01".
std::string to_iso_date(Instant instant);
// "PT2H30M", "P3DT4H", "PT0S"; negative durations get a leading '-'.
std::string to_iso8601(Duration duration);
// "2h30m", "3d4h", "45s", "0s": for people.
std::string to_human(Duration duration);

}  // namespace straits
