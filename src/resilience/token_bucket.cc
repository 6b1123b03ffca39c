#include "lockstep/resilience/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lockstep/base/check.h"

namespace lockstep::resilience {
namespace {

int64_t IntervalNs(double rate) { return static_cast<int64_t>(std::ceil(1e9 / rate)); }

int64_t ToleranceNs(double burst, int64_t interval_ns) {
  return static_cast<int64_t>(std::floor(burst * static_cast<double>(interval_ns)));
}

}  // namespace

Status TokenBucket::Validate(double rate, double burst) {
  if (!std::isfinite(rate) || rate <= 0 || rate > 1e9) {
    return Status::InvalidArgument("rate must be in (0, 1e9] per second, got ", rate);
  }
  if (!std::isfinite(burst) || burst < 1 || burst > 1e12) {
    return Status::InvalidArgument("burst must be in [1, 1e12], got ", burst);
  }
  return Status::Ok();
}

TokenBucket::TokenBucket(double rate, double burst, const Clock& clock)
    : clock_(clock), interval_ns_(0), tolerance_ns_(0) {
  SetRate(rate, burst);
}

void TokenBucket::SetRate(double rate, double burst) {
  LOCKSTEP_CHECK(Validate(rate, burst).ok());
  const int64_t interval = IntervalNs(rate);
  interval_ns_.store(interval, std::memory_order_relaxed);
  tolerance_ns_.store(ToleranceNs(burst, interval), std::memory_order_relaxed);
}

RateDecision TokenBucket::TryAcquire(int64_t n) {
  LOCKSTEP_CHECK(n >= 1);
  const int64_t interval = interval_ns_.load(std::memory_order_relaxed);
  const int64_t tolerance = tolerance_ns_.load(std::memory_order_relaxed);
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch()).count();
  RateDecision d;
  int64_t tat = tat_.load(std::memory_order_relaxed);
  if (n > tolerance / interval) {  // More than burst: never (and n * interval could overflow).
    const int64_t base = std::max(tat, now);
    d.remaining = std::max<int64_t>(0, (now + tolerance - base) / interval);
    d.retry_after = std::chrono::nanoseconds::max();
    d.reset = std::chrono::nanoseconds(base - now);
    return d;
  }
  for (;;) {
    // A thread whose `now` is older than another's is only stricter here (its now +
    // tolerance is earlier), so a stale read of the clock never over-admits.
    const int64_t base = std::max(tat, now);
    const int64_t next = base + n * interval;
    if (next - now > tolerance) {
      d.allowed = false;
      d.remaining = std::max<int64_t>(0, (now + tolerance - base) / interval);
      d.retry_after = std::chrono::nanoseconds(next - tolerance - now);
      d.reset = std::chrono::nanoseconds(base - now);
      return d;
    }
    if (tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed)) {
      d.allowed = true;
      d.remaining = (now + tolerance - next) / interval;
      d.retry_after = std::chrono::nanoseconds(0);
      d.reset = std::chrono::nanoseconds(next - now);
      return d;
    }
  }
}

}  // namespace lockstep::resilience
