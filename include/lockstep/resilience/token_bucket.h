#pragma once

#include <atomic>
#include <cstdint>

#include "lockstep/base/clock.h"
#include "lockstep/base/status.h"
#include "lockstep/resilience/rate_decision.h"

namespace lockstep::resilience {

// A local rate limiter: at most `rate` tokens per second on average, bursts of `burst`.
// GCRA ("generic cell rate algorithm", the token bucket written as one number): the state
// is the theoretical arrival time (TAT) of the next token, in nanoseconds of the injected
// Clock; a request for n tokens is admitted when TAT' = max(TAT, now) + n*T stays within
// now + burst*T (T = 1/rate). Bound, for any window of t seconds (with fixed rate/burst):
// admitted tokens <= rate*t + burst; a caller offering more than that gets at least
// floor(rate*t) + floor(burst) over a window that starts with a full bucket.
//
// Thread-safe and lock-free: TryAcquire is one compare-and-swap loop on a single atomic
// word (the TAT), so concurrent callers never over-admit. SetRate stores T and the
// tolerance in two further atomics; a decision that races a SetRate may combine the old
// interval with the new burst (or the reverse) for that one decision.
// The Clock must outlive the bucket.
class TokenBucket {
 public:
  // kInvalidArgument unless rate is finite and in (0, 1e9] per second and burst is finite
  // and >= 1 (fractional bursts are allowed: 2.5 admits 2 at once and the third half a
  // token later).
  static Status Validate(double rate, double burst);

  // Starts full. REQUIRES: Validate(rate, burst).ok() (checked; aborts otherwise).
  TokenBucket(double rate, double burst, const Clock& clock = Clock::Real());
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // Takes `n` tokens if they are available now, else takes nothing. REQUIRES: n >= 1.
  // A request for more than `burst` tokens is never admitted (retry_after =
  // nanoseconds::max()). Never blocks. Thread-safe.
  RateDecision TryAcquire(int64_t n = 1);

  // New rate and burst from now on (config reload); tokens already taken stay taken.
  // REQUIRES: Validate(rate, burst).ok() (checked). Thread-safe.
  void SetRate(double rate, double burst);

  // Emission interval T = ceil(1e9 / rate) ns (rounded up: never faster than `rate`).
  std::chrono::nanoseconds interval() const {
    return std::chrono::nanoseconds(interval_ns_.load(std::memory_order_relaxed));
  }

 private:
  const Clock& clock_;
  // Relaxed atomics: each is a self-contained value, no other memory is published with
  // them; the admission invariant lives entirely in tat_'s compare-and-swap.
  std::atomic<int64_t> interval_ns_;   // T.
  std::atomic<int64_t> tolerance_ns_;  // burst * T.
  std::atomic<int64_t> tat_{INT64_MIN};  // Theoretical arrival time; INT64_MIN = full.
};

}  // namespace lockstep::resilience
