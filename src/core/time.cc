#include "core/time.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace straits {
namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;

// Days since 1970-01-01 of a civil date (H. Hinnant, "chrono-compatible
// low-level date algorithms"); exact over the whole int range.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr Date civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Date{static_cast<int>(y + (m <= 2)), static_cast<int>(m), static_cast<int>(d)};
}

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Floor division, so that instants before 1970 print correctly.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Reads exactly `width` digits at `pos`.
bool read_digits(std::string_view text, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > text.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  pos += width;
  return true;
}

Error bad_instant(std::string_view text, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument, "invalid date '" + std::string(text) +
                                                "': " + std::string(why) +
                                                " (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)");
}

}  // namespace

Duration Duration::from_seconds(double seconds) {
  return Duration(static_cast<std::int64_t>(std::llround(seconds * 1e6)));
}

Instant Instant::from_date(int year, int month, int day) {
  return Instant(days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
                 kSecondsPerDay * kMicrosPerSecond);
}

Date date_of(Instant instant) {
  return civil_from_days(floor_div(instant.unix_microseconds(), kSecondsPerDay * kMicrosPerSecond));
}

Result<Instant> parse_instant(std::string_view text) {
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0;
  if (!read_digits(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, day)) {
    return bad_instant(text, "not a date");
  }
  if (month < 1 || month > 12) return bad_instant(text, "month out of range");
  if (day < 1 || day > days_in_month(year, month)) return bad_instant(text, "day out of range");
  Instant instant = Instant::from_date(year, month, day);
  if (pos == text.size()) return instant;

  if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') {
    return bad_instant(text, "unexpected text after the date");
  }
  ++pos;
  int hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
      !read_digits(text, pos, 2, minute)) {
    return bad_instant(text, "bad time of day");
  }
  std::int64_t micros = 0;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!read_digits(text, pos, 2, second)) return bad_instant(text, "bad seconds");
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      std::int64_t scale = 100'000;
      std::size_t digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (digits < 6) micros += (text[pos] - '0') * scale;
        scale /= 10;
        ++digits;
        ++pos;
      }
      if (digits == 0) return bad_instant(text, "empty fraction of a second");
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return bad_instant(text, "time out of range");
  if (pos >= text.size()) return bad_instant(text, "a time needs a zone: 'Z' or '+HH:MM'");
  std::int64_t offset_seconds = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!read_digits(text, pos, 2, oh)) return bad_instant(text, "bad zone offset");
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (!read_digits(text, pos, 2, om)) return bad_instant(text, "bad zone offset");
    if (oh > 23 || om > 59) return bad_instant(text, "zone offset out of range");
    offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    return bad_instant(text, "bad zone");
  }
  if (pos != text.size()) return bad_instant(text, "unexpected text after the time");
  return instant + Duration::seconds(hour * 3600 + minute * 60 + second - offset_seconds) +
         Duration::microseconds(micros);
}

Result<Duration> parse_duration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument, "invalid duration '" + std::string(text) +
                                                  "': " + std::string(why) +
                                                  " (expected e.g. PT2H30M, 90m, 2h, 7d)");
  };
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && rest.front() == '-') {
    negative = true;
    rest.remove_prefix(1);
  }
  if (rest.empty()) return bad("empty");

  // Seconds in each unit; -1 where the unit does not belong (ISO 8601 keeps
  // days and weeks before 'T', hours, minutes and seconds after it).
  auto unit_seconds = [](char unit, bool in_time_part, bool iso) -> std::int64_t {
    switch (unit) {
      case 'W':
      case 'w': return iso && in_time_part ? -1 : 7 * 86400;
      case 'D':
      case 'd': return iso && in_time_part ? -1 : 86400;
      case 'H':
      case 'h': return iso && !in_time_part ? -1 : 3600;
      case 'M':
      case 'm': return iso && !in_time_part ? -1 : 60;
      case 'S':
      case 's': return iso && !in_time_part ? -1 : 1;
      default: return -1;
    }
  };
  constexpr std::int64_t kLimitMicros = 1'000'000'000'000'000'000;  // about 31,700 years

  bool iso = rest.front() == 'P' || rest.front() == 'p';
  if (iso) rest.remove_prefix(1);
  bool in_time_part = !iso;
  bool any = false;
  std::int64_t total = 0;  // microseconds, exact: no floating point on the whole part
  while (!rest.empty()) {
    if (iso && (rest.front() == 'T' || rest.front() == 't')) {
      if (in_time_part) return bad("'T' twice");
      in_time_part = true;
      rest.remove_prefix(1);
      continue;
    }
    std::int64_t whole = 0;
    std::size_t n = 0;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') {
      if (whole > kLimitMicros / 10) return bad("too long");
      whole = whole * 10 + (rest[n] - '0');
      ++n;
    }
    double fraction = 0;
    std::size_t fraction_digits = 0;
    if (n < rest.size() && rest[n] == '.') {
      ++n;
      double scale = 0.1;
      while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') {
        fraction += (rest[n] - '0') * scale;
        scale /= 10;
        ++n;
        ++fraction_digits;
      }
      if (fraction_digits == 0) return bad("bad number");
    }
    if (n == 0) return bad("expected a number");
    rest.remove_prefix(n);
    if (rest.empty()) return bad("a number needs a unit");
    std::int64_t scale = unit_seconds(rest.front(), in_time_part, iso);
    if (scale <= 0) return bad(std::string("unknown unit '") + rest.front() + "'");
    rest.remove_prefix(1);
    std::int64_t unit_micros = scale * 1'000'000;
    if (whole > kLimitMicros / unit_micros) return bad("too long");
    total += whole * unit_micros +
             static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(unit_micros)));
    if (total > kLimitMicros) return bad("too long");
    any = true;
  }
  if (!any) return bad("no value");
  Duration d = Duration::microseconds(total);
  return negative ? -d : d;
}

std::string to_iso_date(Instant instant) {
  Date date = date_of(instant);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", date.year, date.month, date.day);
  return buffer;
}

std::string to_iso8601(Instant instant) {
  std::string out;
  append_iso8601(out, instant);
  return out;
}

void append_iso8601(std::string& out, Instant instant) {
  if (instant == Instant::min()) {
    out += "-infinity";
    return;
  }
  if (instant == Instant::max()) {
    out += "infinity";
    return;
  }
  const std::int64_t us = instant.unix_microseconds();
  const std::int64_t day_us = kSecondsPerDay * kMicrosPerSecond;
  const std::int64_t days = floor_div(us, day_us);
  const std::int64_t in_day = us - days * day_us;
  // By hand rather than snprintf: simulations print millions of these, and
  // most of a run's fall on a day the last one did (its date text is kept).
  struct DateText {
    std::int64_t days = std::numeric_limits<std::int64_t>::min();
    char text[24];
    std::size_t size = 0;
  };
  thread_local DateText last;
  if (last.days != days) {
    const Date date = civil_from_days(days);
    char* end = last.text;
    if (date.year >= 0 && date.year <= 9999) {
      for (int v = date.year, k = 3; k >= 0; --k, v /= 10) end[k] = static_cast<char>('0' + v % 10);
      end += 4;
    } else {
      end += std::snprintf(end, 12, "%05d", date.year);  // sign, then at least 4 digits
    }
    *end++ = '-';
    *end++ = static_cast<char>('0' + date.month / 10);
    *end++ = static_cast<char>('0' + date.month % 10);
    *end++ = '-';
    *end++ = static_cast<char>('0' + date.day / 10);
    *end++ = static_cast<char>('0' + date.day % 10);
    *end++ = 'T';
    last.days = days;
    last.size = static_cast<std::size_t>(end - last.text);
  }
  const auto seconds = static_cast<std::uint32_t>(in_day / kMicrosPerSecond);
  auto fraction = static_cast<std::uint32_t>(in_day % kMicrosPerSecond);
  char buffer[48];
  std::memcpy(buffer, last.text, last.size);
  char* end = buffer + last.size;
  auto two = [&end](std::uint32_t value) {
    *end++ = static_cast<char>('0' + value / 10);
    *end++ = static_cast<char>('0' + value % 10);
  };
  two(seconds / 3600);
  *end++ = ':';
  two(seconds / 60 % 60);
  *end++ = ':';
  two(seconds % 60);
  if (fraction != 0) {  // six digits, less the trailing zeros
    *end++ = '.';
    for (int k = 5; k >= 0; --k, fraction /= 10) end[k] = static_cast<char>('0' + fraction % 10);
    end += 6;
    while (end[-1] == '0') --end;
  }
  *end++ = 'Z';
  out.append(buffer, end);
}

namespace {

struct Parts {
  bool negative;
  std::int64_t days, hours, minutes, seconds, micros;
};

Parts split(Duration duration) {
  std::int64_t us = duration.count_microseconds();
  bool negative = us < 0;
  // INT64_MIN has no positive counterpart; clamp (it is never a real span).
  std::uint64_t magnitude =
      negative ? static_cast<std::uint64_t>(-(us + 1)) + 1 : static_cast<std::uint64_t>(us);
  auto total_seconds = static_cast<std::int64_t>(magnitude / 1'000'000);
  return Parts{negative,
               total_seconds / 86400,
               total_seconds / 3600 % 24,
               total_seconds / 60 % 60,
               total_seconds % 60,
               static_cast<std::int64_t>(magnitude % 1'000'000)};
}

std::string seconds_text(const Parts& p) {
  std::string out = std::to_string(p.seconds);
  if (p.micros != 0) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, ".%06lld", static_cast<long long>(p.micros));
    std::string frac = buffer;
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  return out;
}

}  // namespace

std::string to_iso8601(Duration duration) {
  Parts p = split(duration);
  std::string out = p.negative ? "-P" : "P";
  if (p.days) out += std::to_string(p.days) + "D";
  if (p.hours || p.minutes || p.seconds || p.micros || !p.days) {
    out += "T";
    if (p.hours) out += std::to_string(p.hours) + "H";
    if (p.minutes) out += std::to_string(p.minutes) + "M";
    if (p.seconds || p.micros || (!p.hours && !p.minutes)) out += seconds_text(p) + "S";
  }
  return out;
}

std::string to_human(Duration duration) {
  Parts p = split(duration);
  std::string out = p.negative ? "-" : "";
  if (p.days) out += std::to_string(p.days) + "d";
  if (p.hours) out += std::to_string(p.hours) + "h";
  if (p.minutes) out += std::to_string(p.minutes) + "m";
  if (p.seconds || p.micros || (!p.days && !p.hours && !p.minutes)) out += seconds_text(p) + "s";
  return out;
}

}  // namespace straits
