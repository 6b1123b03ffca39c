#include "lockstep/base/backoff.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(Backoff, DelaysStayWithinTheExponentialBound) {
  ManualClock clock;
  Backoff backoff({.initial = microseconds(1000), .max = microseconds(16000), .multiplier = 2}, clock, 42);
  for (int attempt = 0; attempt < 20; ++attempt) {
    const auto bound = microseconds(std::min<int64_t>(16000, int64_t{1000} << std::min(attempt, 20)));
    const auto d = backoff.NextDelay();
    EXPECT_GE(d, Clock::duration::zero());
    EXPECT_LE(d, bound) << "attempt " << attempt;
  }
}

TEST(Backoff, FullJitterSpreadsDelays) {
  ManualClock clock;
  Backoff backoff({.initial = microseconds(100000), .max = microseconds(100000)}, clock, 7);
  Clock::duration lo = Clock::duration::max(), hi = Clock::duration::zero();
  for (int i = 0; i < 200; ++i) {
    const auto d = backoff.NextDelay();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  // Uniform over [0, 100ms]: 200 draws land far apart (a fixed delay would not).
  EXPECT_LT(lo, milliseconds(20));
  EXPECT_GT(hi, milliseconds(80));
}

TEST(Backoff, WaitAdvancesTheClockAndRespectsTheDeadline) {
  ManualClock clock;
  Backoff backoff({.initial = microseconds(10000), .max = microseconds(10000)}, clock, 3);
  const auto start = clock.Now();
  Deadline far = Deadline::After(std::chrono::seconds(10), clock);
  ASSERT_TRUE(backoff.Wait(far).ok());
  EXPECT_LE(clock.Now() - start, milliseconds(10));
  Deadline gone = Deadline::After(Clock::duration::zero(), clock);
  EXPECT_EQ(backoff.Wait(gone).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(backoff.attempts(), 2);
}

}  // namespace
}  // namespace lockstep
