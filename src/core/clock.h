// Where "now" comes from. Code that needs the time takes a Clock& so that
// tests and the simulator control it; only SystemClock reads the real time.
//
// Implementations are thread-safe.
#pragma once

#include <atomic>

#include "core/time.h"

namespace straits {

class Clock {
 public:
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;

  virtual Instant now() const = 0;
};

// The machine's UTC time.
class SystemClock final : public Clock {
 public:
  Instant now() const override;
};

// A clock that moves only when told to: for tests and simulation.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Instant start) : now_us_(start.unix_microseconds()) {}

  Instant now() const override { return Instant::from_unix_microseconds(now_us_.load()); }
  void advance(Duration by) { now_us_ += by.count_microseconds(); }
  // REQUIRES: `to` is not before now(); a clock never runs backwards.
  void set(Instant to);

 private:
  std::atomic<std::int64_t> now_us_;
};

}  // namespace straits
