// libFuzzer target: the small parsers every input goes through (dates,
// durations, amounts). They must reject bad text with an error, and what
// they accept must print and parse back to the same value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/money.h"
#include "core/time.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto t = straits::parse_instant(text)) {
    auto back = straits::parse_instant(straits::to_iso8601(*t));
    if (!back || *back != *t) __builtin_trap();
  }
  if (auto d = straits::parse_duration(text)) {
    auto back = straits::parse_duration(straits::to_iso8601(*d));
    if (!back || *back != *d) __builtin_trap();
  }
  if (auto m = straits::parse_money(text)) {
    auto back = straits::parse_money(straits::to_string(*m));
    if (!back || *back != *m) __builtin_trap();
  }
  return 0;
}
