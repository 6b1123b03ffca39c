#include "arrival_schedule.h"

#include <cmath>

#include "lockstep/base/check.h"

namespace lockstep::bench {

ArrivalSchedule::ArrivalSchedule(double rate_per_s, int threads) : rate_(rate_per_s), threads_(threads) {
  LOCKSTEP_CHECK(rate_per_s > 0 && threads > 0);
}

std::chrono::nanoseconds ArrivalSchedule::Offset(int64_t index) const {
  return std::chrono::nanoseconds(std::llround(static_cast<double>(index) * 1e9 / rate_));
}

int64_t ArrivalSchedule::Count(double duration_s, int64_t requests) const {
  if (duration_s <= 0) return requests;
  return static_cast<int64_t>(std::ceil(rate_ * duration_s - 1e-9));
}

double ArrivalSchedule::OfferedRate(int64_t sent, std::chrono::nanoseconds last_send) const {
  if (sent <= 0) return 0;
  return static_cast<double>(sent) / (std::chrono::duration<double>(last_send).count() + 1.0 / rate_);
}

}  // namespace lockstep::bench
