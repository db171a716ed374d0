// Percentiles as summary.json reports them, shared by the simulator and the
// comparison so that both give the same figure for the same jobs.
#pragma once

#include <cmath>
#include <vector>

namespace straits::sim::internal {

// The p-quantile of sorted values, linear between ranks; 0 for none.
// REQUIRES: `sorted` ascending.
inline double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = static_cast<std::size_t>(std::ceil(rank));
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

}  // namespace straits::sim::internal
