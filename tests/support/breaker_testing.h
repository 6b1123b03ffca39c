#pragma once

// Shared by the breaker tests of sql::Pool and redis::Client against the real servers.
#include <atomic>
#include <chrono>
#include <functional>

#include "lockstep/base/circuit_breaker.h"

namespace lockstep::testing {

// A call "failed at once" when it returned while its deadline (kLongDeadline) was still
// more than kFarFromTheDeadline away: asserted against seconds, never a short duration.
inline constexpr std::chrono::seconds kLongDeadline{10};
inline constexpr std::chrono::seconds kFarFromTheDeadline{5};

// Opens once half of at least 3 outcomes in a 60 s window failed; one probe.
inline CircuitBreakerOptions TestBreaker(std::chrono::milliseconds open_duration) {
  return CircuitBreakerOptions{.window = std::chrono::seconds(60), .buckets = 10, .min_requests = 3,
                               .failure_ratio = 0.5, .open_duration = open_duration, .half_open_probes = 1,
                               .on_transition = {}};
}

inline double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Counts a breaker's transitions by the state entered. Thread-safe.
struct TransitionCounts {
  std::atomic<int> opened{0}, half_opened{0}, closed{0};

  // An observer callback (on_breaker_state) that counts into *this, which must outlive it.
  std::function<void(BreakerState)> Observer() {
    return [this](BreakerState to) {
      switch (to) {
        case BreakerState::kOpen: opened.fetch_add(1); break;
        case BreakerState::kHalfOpen: half_opened.fetch_add(1); break;
        case BreakerState::kClosed: closed.fetch_add(1); break;
      }
    };
  }
};

}  // namespace lockstep::testing
