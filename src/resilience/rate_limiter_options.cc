#include "lockstep/resilience/rate_limiter_options.h"

#include <cmath>

namespace lockstep::resilience {

Status ValidateRateLimiterOptions(const RateLimiterOptions& o) {
  if (!std::isfinite(o.rate) || o.rate <= 0 || o.rate > 1e6) {
    return Status::InvalidArgument("rate limiter: rate must be in (0, 1e6] per second, got ", o.rate);
  }
  if (o.burst < 1 || o.burst > 1'000'000'000) {
    return Status::InvalidArgument("rate limiter: burst must be in [1, 1e9], got ", o.burst);
  }
  if (o.key_prefix.empty()) return Status::InvalidArgument("rate limiter: key_prefix must not be empty");
  if (o.heartbeat_interval.count() < 0) {
    return Status::InvalidArgument("rate limiter: heartbeat_interval must be >= 0");
  }
  if (o.instance_ttl.count() <= 0 || o.instance_ttl <= o.heartbeat_interval) {
    return Status::InvalidArgument("rate limiter: instance_ttl must be > 0 and > heartbeat_interval");
  }
  if (o.min_instances < 1) return Status::InvalidArgument("rate limiter: min_instances must be >= 1");
  return Status::Ok();
}

}  // namespace lockstep::resilience
