// What /metrics shows, in the Prometheus text format (version 0.0.4):
// requests by route, method and status; request latency histograms by
// route; commits; and gauges read from the world when scraped (queue length,
// jobs by state, GPUs leased and used by pool).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "core/time.h"

namespace straits::api::internal {

struct World;

class Metrics {
 public:
  void record(const std::string& method, const std::string& route, int status, Duration took);
  void record_pass(Duration took, std::size_t started, std::size_t waiting);
  // The exposition; gauges from `world` (locked shared by the caller).
  std::string render(const World& world, std::uint64_t commits, std::uint64_t mutations) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> latency_;
  Histogram passes_;
  std::uint64_t last_started_ = 0, last_waiting_ = 0;
};

}  // namespace straits::api::internal
