// Small text helpers shared by the workload reader and the run verifier.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

namespace straits::sim::internal {

// Parses the whole of `text` as a number of type T, or nothing.
template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

// Only spaces and tabs (or nothing).
inline bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

// Without the spaces and tabs at its ends.
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Numbers appended to a row built in place (a million-job run writes
// millions of rows): through to_chars, which printf's digits and strtod's
// round trip are promised of, without printf's cost.

inline void append_int(std::string& out, long long v) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, end);
}

// As printf's %.Nf.
inline void append_fixed(std::string& out, double v, int decimals) {
  // Most values are rounded in integers: v * 10^N is within half an ulp of
  // the exact product, so unless that lands near a half (where the exact
  // rounding could go either way) it rounds as printf does. The rest, and
  // what integers cannot hold, go through to_chars.
  static constexpr double kScale[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
  if (decimals >= 0 && decimals <= 9 && !std::signbit(v)) {
    const double scaled = v * kScale[decimals];
    if (scaled < 1e15) {
      const double whole = std::floor(scaled);
      const double fraction = scaled - whole;  // exact below 2^52
      if (std::fabs(fraction - 0.5) > 1e-15 * scaled + 1e-300) {
        auto units = static_cast<unsigned long long>(whole) + (fraction > 0.5 ? 1 : 0);
        char buffer[32];
        char* end = buffer + sizeof buffer;
        char* at = end;
        for (int k = 0; k < decimals; ++k, units /= 10) *--at = static_cast<char>('0' + units % 10);
        if (decimals > 0) *--at = '.';
        do {
          *--at = static_cast<char>('0' + units % 10);
          units /= 10;
        } while (units > 0);
        out.append(at, end);
        return;
      }
    }
  }
  char buffer[400];
  auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::fixed, decimals);
  if (ec == std::errc()) {
    out.append(buffer, end);
  } else {
    out += '0';
  }
}

// The shortest text that reads back as exactly `v`.
inline void append_shortest(std::string& out, double v) {
  // Small whole numbers (GPU counts, sizes) as integers: what to_chars
  // writes below 10^5 (from there "1e+05" can be shorter).
  if (v > -1e5 && v < 1e5 && v == std::floor(v) && !(v == 0 && std::signbit(v))) {
    append_int(out, static_cast<long long>(v));
    return;
  }
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, end);
}

}  // namespace straits::sim::internal
