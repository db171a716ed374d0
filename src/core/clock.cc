#include "core/clock.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace straits {

Instant SystemClock::now() const {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return Instant::from_unix_microseconds(
      std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count());
}

void ManualClock::set(Instant to) {
  if (to.unix_microseconds() < now_us_.load()) {
    std::fprintf(stderr, "ManualClock::set: time cannot run backwards (%s < %s)\n",
                 to_iso8601(to).c_str(), to_iso8601(now()).c_str());
    std::abort();
  }
  now_us_ = to.unix_microseconds();
}

}  // namespace straits
