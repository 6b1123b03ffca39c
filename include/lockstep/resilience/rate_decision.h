#pragma once

#include <chrono>
#include <cstdint>

namespace lockstep::resilience {

// The answer of a rate limiter (TokenBucket, RateLimiter) to one request for `n` tokens.
// Value type, thread-compatible.
struct RateDecision {
  // Whether the request is admitted (its tokens are taken).
  bool allowed = false;
  // Whole tokens left after this decision (what a request of 1 could still take now).
  int64_t remaining = 0;
  // Denied: how long until the same request could be admitted (if nothing else takes
  // tokens meanwhile); nanoseconds::max() when it never can (n > burst). Allowed: 0.
  std::chrono::nanoseconds retry_after{0};
  // How long until the bucket is full again (burst tokens), for a RateLimit-Reset header.
  std::chrono::nanoseconds reset{0};
  // True when a RateLimiter decided locally (Redis unreachable or its breaker open); see
  // rate_limiter.h for the bound that holds then. Always false from TokenBucket.
  bool local = false;
};

}  // namespace lockstep::resilience
