#include "arrival_schedule.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace lockstep::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(ArrivalSchedule, RequestIIsIntendedAtIOverRate) {
  const ArrivalSchedule s(250, 4);
  EXPECT_EQ(s.Offset(0), nanoseconds(0));
  EXPECT_EQ(s.Offset(1), milliseconds(4));
  EXPECT_EQ(s.Offset(250), milliseconds(1000));
  EXPECT_EQ(ArrivalSchedule(3, 1).Offset(1), nanoseconds(333'333'333));
}

TEST(ArrivalSchedule, ThreadsTakeEveryCthRequestAndCoverAllOnce) {
  const ArrivalSchedule s(1000, 3);
  std::multiset<int64_t> seen;
  for (int t = 0; t < 3; ++t) {
    for (int64_t i = s.First(t); i < 10; i = s.Next(i)) seen.insert(i);
  }
  EXPECT_EQ(seen, (std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(s.First(2), 2);
  EXPECT_EQ(s.Next(2), 5);
}

TEST(ArrivalSchedule, CountIsRequestsOrThoseIntendedBeforeTheDurationEnds) {
  const ArrivalSchedule s(100, 8);
  EXPECT_EQ(s.Count(0, 1234), 1234);
  EXPECT_EQ(s.Count(10, 1234), 1000);    // 0 .. 9.99 s.
  EXPECT_EQ(s.Count(0.015, 1234), 2);    // 0 and 10 ms.
  EXPECT_EQ(ArrivalSchedule(0.5, 1).Count(3, 1), 2);  // 0 s and 2 s.
}

TEST(ArrivalSchedule, OfferedRateIsTheTargetWhenOnTimeAndLessWhenLate) {
  const ArrivalSchedule s(200, 16);
  // 1,000 requests on time: the last leaves at 999 / 200 s.
  EXPECT_DOUBLE_EQ(s.OfferedRate(1000, s.Offset(999)), 200);
  EXPECT_FALSE(s.FellBehind(s.OfferedRate(1000, s.Offset(999))));
  // The last leaves 1 s late: 1000 / 6 s.
  const double late = s.OfferedRate(1000, s.Offset(999) + milliseconds(1000));
  EXPECT_NEAR(late, 1000.0 / 6.0, 1e-9);
  EXPECT_TRUE(s.FellBehind(late));
  EXPECT_FALSE(s.FellBehind(191));  // 4.5% short.
  EXPECT_TRUE(s.FellBehind(189));   // 5.5% short.
  EXPECT_EQ(s.OfferedRate(0, nanoseconds(0)), 0);
}

}  // namespace
}  // namespace lockstep::bench
