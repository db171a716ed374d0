// Small text helpers shared by the workload reader and the run verifier.
#pragma once

#include <charconv>
#include <optional>
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

}  // namespace straits::sim::internal
