#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lockstep/base/status.h"
#include "lockstep/resilience/circuit_breaker.h"
#include "lockstep/resilience/rate_decision.h"

namespace lockstep::resilience {

// The hooks a RateLimiter calls to report what it does (the project's one observer shape).
// Every hook is optional (unset: not called). Called on the deciding thread (the heartbeat
// thread for on_instances), with no lock held; must be cheap, thread-safe and must not
// call back into the RateLimiter.
struct RateLimiterObserver {
  // After every decision of Decide/DecideMany: the caller's key (without the prefix).
  std::function<void(std::string_view key, const RateDecision& decision)> on_decision = nullptr;
  // When decisions switch to the local fallback (active = true; `cause`: the Redis error,
  // or kUnavailable "circuit_open") and back to Redis (active = false, cause OK). Two
  // switches racing each other on different threads may be reported in either order;
  // RateLimiter::fallback_active() is the state.
  std::function<void(bool active, const Status& cause)> on_fallback_change = nullptr;
  // After each successful heartbeat: the live instances Redis counted (this one included).
  std::function<void(int live_instances)> on_instances = nullptr;
};

// Options of a RateLimiter (STYLE.md R9). Validated by RateLimiter::Create
// (kInvalidArgument).
struct RateLimiterOptions {
  // Tokens per second per key, summed over every instance sharing the Redis; finite, in
  // (0, 1e6]. No default (0 is invalid).
  double rate = 0;
  // Tokens a key may take at once after being idle; in [1, 1e9]. Default 1.
  int64_t burst = 1;
  // Prefix of every Redis key the limiter writes: decisions on "<prefix>k:<key>", the
  // instance heartbeat set on "<prefix>instances". Non-empty. Default "rl:".
  std::string key_prefix = "rl:";
  // This instance's member in the heartbeat set; "" = "<hostname>:<pid>:<random>".
  std::string instance_id;
  // A background thread refreshes this instance's heartbeat this often (and reads the
  // number of live instances, N). 0 = no thread: the owner calls Heartbeat(). Default 1s.
  std::chrono::milliseconds heartbeat_interval{1'000};
  // A heartbeat keeps its member live for this long (expiry by Redis TIME); > 0 and
  // > heartbeat_interval. Default 3s.
  std::chrono::milliseconds instance_ttl{3'000};
  // The fallback never assumes fewer live instances than this (e.g. the fleet size from
  // the deployment, covering instances started while Redis was down); >= 1. Default 1.
  int min_instances = 1;
  // Breaker around Redis: while open, decisions are local without trying Redis.
  CircuitBreakerOptions breaker{.window = std::chrono::milliseconds(2'000),
                                .buckets = 10,
                                .min_requests = 5,
                                .failure_ratio = 0.5,
                                .open_duration = std::chrono::milliseconds(1'000),
                                .half_open_probes = 1,
                                .on_transition = {}};
  // Default: none.
  RateLimiterObserver observer;
};

// kInvalidArgument naming the first invalid field. Thread-safe.
Status ValidateRateLimiterOptions(const RateLimiterOptions& options);

}  // namespace lockstep::resilience
