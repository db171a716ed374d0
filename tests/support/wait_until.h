// Waiting in tests for something that happens on another thread or in
// another process: one helper for every suite, so that they all poll alike.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace straits::testing {

// Calls `done` until it returns true or `timeout` has passed, sleeping
// `every` between calls; true when `done` held. `done` is called once more
// at the deadline, so a condition met during the last sleep still counts.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds every = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(every);
  }
  return true;
}

}  // namespace straits::testing
