#include "core/money.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace straits {
namespace {

void require_same_currency(Currency a, Currency b) {
  if (a != b) {
    std::fprintf(stderr, "straits: money arithmetic across currencies (%s and %s)\n",
                 a.str().c_str(), b.str().c_str());
    std::abort();
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_upper_alpha(std::string_view s) {
  if (s.size() != 3) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

}  // namespace

Result<Currency> Currency::make(std::string_view code) {
  if (!is_upper_alpha(code)) {
    return Error(ErrorCode::kInvalidArgument,
                 "invalid currency '" + std::string(code) +
                     "': expected an ISO 4217 code of three upper-case letters, e.g. USD");
  }
  Currency currency;
  currency.code_ = {code[0], code[1], code[2]};
  return currency;
}

Money Money::from_units(double units, Currency currency) {
  return Money(static_cast<std::int64_t>(std::llround(units * kMicrosPerUnit)), currency);
}

Money Money::operator+(Money other) const {
  require_same_currency(currency_, other.currency_);
  return Money(micros_ + other.micros_, currency_);
}

Money Money::operator-(Money other) const {
  require_same_currency(currency_, other.currency_);
  return Money(micros_ - other.micros_, currency_);
}

Money& Money::operator+=(Money other) {
  require_same_currency(currency_, other.currency_);
  micros_ += other.micros_;
  return *this;
}

Money Money::scaled(double factor) const {
  return Money(static_cast<std::int64_t>(std::llround(static_cast<double>(micros_) * factor)),
               currency_);
}

Result<Money> parse_money(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument, "invalid amount '" + std::string(text) +
                                                  "': " + std::string(why) +
                                                  " (expected e.g. \"3.93 USD\")");
  };
  std::string_view s = trim(text);
  std::size_t space = s.find(' ');
  if (space == std::string_view::npos) return bad("missing the currency");
  std::string_view left = trim(s.substr(0, space));
  std::string_view right = trim(s.substr(space + 1));
  std::string_view number = left, code = right;
  if (is_upper_alpha(left)) std::swap(number, code);
  auto currency = Currency::make(code);
  if (!currency) return bad("the currency must be three upper-case letters");

  bool negative = false;
  if (!number.empty() && (number.front() == '-' || number.front() == '+')) {
    negative = number.front() == '-';
    number.remove_prefix(1);
  }
  if (number.empty()) return bad("missing the number");
  std::int64_t whole = 0, fraction = 0;
  int fraction_digits = 0;
  bool seen_point = false, any_digit = false;
  for (char c : number) {
    if (c == '.') {
      if (seen_point) return bad("two decimal points");
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') return bad("not a number");
    any_digit = true;
    if (seen_point) {
      if (++fraction_digits > 6) return bad("more than six decimals");
      fraction = fraction * 10 + (c - '0');
    } else {
      if (whole > (std::numeric_limits<std::int64_t>::max() / Money::kMicrosPerUnit - 9) / 10) {
        return bad("too large");
      }
      whole = whole * 10 + (c - '0');
    }
  }
  if (!any_digit) return bad("not a number");
  for (int i = fraction_digits; i < 6; ++i) fraction *= 10;
  std::int64_t micros = whole * Money::kMicrosPerUnit + fraction;
  return Money(negative ? -micros : micros, *currency);
}

std::string to_decimal(Money money) {
  std::int64_t micros = money.micros();
  bool negative = micros < 0;
  std::uint64_t magnitude =
      negative ? static_cast<std::uint64_t>(-(micros + 1)) + 1 : static_cast<std::uint64_t>(micros);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%s%llu.%06llu", negative ? "-" : "",
                static_cast<unsigned long long>(magnitude / Money::kMicrosPerUnit),
                static_cast<unsigned long long>(magnitude % Money::kMicrosPerUnit));
  std::string out = buffer;
  // Keep at least two decimals.
  while (out.size() > 3 && out.back() == '0' && out[out.size() - 3] != '.') out.pop_back();
  return out;
}

std::string to_string(Money money) {
  return to_decimal(money) + " " + money.currency().str();
}

}  // namespace straits
