#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/status.h"

namespace lockstep {

struct BackoffOptions {
  // Upper bound of the first delay. > 0. Default 5ms.
  std::chrono::microseconds initial{5'000};
  // Cap on the upper bound of any delay. >= initial. Default 500ms.
  std::chrono::microseconds max{500'000};
  // Growth of the upper bound per attempt. >= 1. Default 2.
  double multiplier = 2.0;
};

// Exponential backoff with full jitter: delay n is uniform in [0, min(max, initial *
// multiplier^n)]. Deadline-aware: never sleeps past the deadline. Not thread-safe (one per
// retry loop); cheap to create.
class Backoff {
 public:
  explicit Backoff(BackoffOptions options = {}, const Clock& clock = Clock::Real(),
                   uint64_t seed = 0 /* 0 = random */);

  // The next delay (advances the attempt count).
  Clock::duration NextDelay();

  // Sleeps the next delay. Returns kDeadlineExceeded without sleeping if the deadline would
  // pass before the delay ends (there would be no time left to retry).
  Status Wait(const Deadline& deadline);

  int attempts() const { return attempts_; }
  void Reset() { attempts_ = 0; }

 private:
  BackoffOptions options_;
  const Clock& clock_;
  uint64_t state_;  // xorshift64* state.
  int attempts_ = 0;
};

}  // namespace lockstep
