#include "lockstep/base/deadline.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {
using std::chrono::milliseconds;

TEST(Deadline, InfiniteNeverExpires) {
  ManualClock clock;
  Deadline d = Deadline::Infinite();
  clock.Advance(std::chrono::hours(1000));
  EXPECT_FALSE(d.expired(clock));
  EXPECT_TRUE(d.infinite());
  EXPECT_EQ(d.remaining(clock), Clock::duration::max());
}

TEST(Deadline, ExpiresWhenTheClockPassesIt) {
  ManualClock clock;
  Deadline d = Deadline::After(milliseconds(100), clock);
  EXPECT_EQ(d.remaining(clock), milliseconds(100));
  clock.Advance(milliseconds(99));
  EXPECT_FALSE(d.expired(clock));
  clock.Advance(milliseconds(1));
  EXPECT_TRUE(d.expired(clock));
  EXPECT_EQ(d.remaining(clock), Clock::duration::zero());
}

TEST(Deadline, NegativeDurationIsAlreadyExpired) {
  ManualClock clock;
  EXPECT_TRUE(Deadline::After(milliseconds(-5), clock).expired(clock));
}

TEST(Deadline, CappedAtTakesTheEarlier) {
  ManualClock clock;
  Deadline d = Deadline::After(milliseconds(500), clock);
  EXPECT_EQ(d.CappedAt(milliseconds(100), clock).remaining(clock), milliseconds(100));
  EXPECT_EQ(d.CappedAt(milliseconds(900), clock).remaining(clock), milliseconds(500));
  EXPECT_EQ(Deadline::Infinite().CappedAt(milliseconds(7), clock).remaining(clock), milliseconds(7));
}

TEST(Deadline, RemainingMillisRoundsUpAndCaps) {
  ManualClock clock;
  Deadline d = Deadline::After(std::chrono::microseconds(1500), clock);
  EXPECT_EQ(RemainingMillis(d, std::chrono::hours(1), clock), milliseconds(2));
  EXPECT_EQ(RemainingMillis(Deadline::Infinite(), milliseconds(30'000), clock), milliseconds(30'000));
}

}  // namespace
}  // namespace lockstep
