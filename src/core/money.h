// Money as an exact integer number of micro-units (1e-6) of one currency, so
// that summing a million GPU-hours of prices loses nothing. Arithmetic across
// currencies is a bug (REQUIRES same currency); converting is not straits' job.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace straits {

// ISO 4217 alphabetic code, e.g. "USD".
class Currency {
 public:
  constexpr Currency() = default;
  // REQUIRES: three upper-case ASCII letters (checked by parse_money / make).
  static Result<Currency> make(std::string_view code);
  std::string str() const { return std::string(code_.data(), 3); }

  friend bool operator==(const Currency&, const Currency&) = default;
  friend auto operator<=>(const Currency&, const Currency&) = default;

 private:
  std::array<char, 3> code_{'U', 'S', 'D'};
};

class Money {
 public:
  static constexpr std::int64_t kMicrosPerUnit = 1'000'000;

  constexpr Money() = default;
  constexpr Money(std::int64_t micros, Currency currency) : micros_(micros), currency_(currency) {}
  // Rounds to the nearest micro-unit; for results of rate x time.
  static Money from_units(double units, Currency currency);

  constexpr std::int64_t micros() const { return micros_; }
  constexpr Currency currency() const { return currency_; }
  double units() const { return static_cast<double>(micros_) / kMicrosPerUnit; }

  // REQUIRES: same currency (aborts otherwise: mixing currencies is a bug).
  Money operator+(Money other) const;
  Money operator-(Money other) const;
  Money& operator+=(Money other);
  Money operator*(std::int64_t factor) const { return Money(micros_ * factor, currency_); }
  // Rounds to the nearest micro-unit.
  Money scaled(double factor) const;

  friend bool operator==(const Money&, const Money&) = default;
  // Orders by currency first, then amount; compare amounts of one currency only.
  friend auto operator<=>(const Money&, const Money&) = default;

 private:
  std::int64_t micros_ = 0;
  Currency currency_;
};

// Parses "3.93 USD", "USD 3.93" or "3.930000 USD": up to six decimals.
Result<Money> parse_money(std::string_view text);
// "3.93": the amount alone, at least two decimals, at most six, trailing zeros trimmed.
std::string to_decimal(Money money);
// "3.93 USD".
std::string to_string(Money money);

}  // namespace straits
