#include "routing/heartbeat_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace lockstep::routing::internal {
namespace {

using std::chrono::milliseconds;
const HeartbeatLog::Clock::time_point kT0 = HeartbeatLog::Clock::time_point{} + std::chrono::hours(1);

TEST(HeartbeatLog, CoveredUntilIsTheSendTimeOfTheAppliedHeartbeat) {
  HeartbeatLog log(8);
  log.Sent(1, kT0);
  log.Committed(1, kT0 + milliseconds(2));
  log.Sent(2, kT0 + milliseconds(15));
  EXPECT_EQ(log.CoveredUntil(1), kT0);
  EXPECT_EQ(log.CoveredUntil(2), kT0 + milliseconds(15));  // Seen on a replica before its write returned.
  EXPECT_FALSE(log.CoveredUntil(0).has_value());
  EXPECT_FALSE(log.CoveredUntil(3).has_value());
}

TEST(HeartbeatLog, LagIsTheAgeOfTheOldestMissingCommit) {
  HeartbeatLog log(8);
  for (uint64_t s = 1; s <= 5; ++s) {
    log.Sent(s, kT0 + milliseconds(10 * s));
    log.Committed(s, kT0 + milliseconds(10 * s + 1));
  }
  // Up to date: nothing committed that the replica lacks.
  EXPECT_EQ(log.Lag(5, kT0 + milliseconds(60)), milliseconds(0));
  // Has 3: heartbeat 4 committed at +41ms is missing at +60ms.
  EXPECT_EQ(log.Lag(3, kT0 + milliseconds(60)), milliseconds(19));
  // Heartbeat 5 committed after the probe started: not counted.
  EXPECT_EQ(log.Lag(4, kT0 + milliseconds(50)), milliseconds(0));
  // Never saw any.
  EXPECT_EQ(log.Lag(0, kT0 + milliseconds(100)), milliseconds(89));
}

TEST(HeartbeatLog, ForgetsOldEntriesAndSkipsFailedWrites) {
  HeartbeatLog log(4);
  for (uint64_t s = 1; s <= 10; ++s) {
    log.Sent(s, kT0 + milliseconds(10 * s));
    if (s != 8) log.Committed(s, kT0 + milliseconds(10 * s + 1));
  }
  EXPECT_FALSE(log.CoveredUntil(2).has_value());  // Overwritten by 6.
  EXPECT_EQ(log.CoveredUntil(7), kT0 + milliseconds(70));
  // Has 7; 8 never committed (its write failed), 9 did at +91.
  EXPECT_EQ(log.Lag(7, kT0 + milliseconds(120)), milliseconds(29));
  // Has 1 (long forgotten): the oldest remembered commit (7 at +71) bounds the lag from below.
  EXPECT_EQ(log.Lag(1, kT0 + milliseconds(120)), milliseconds(49));
}

TEST(HeartbeatLog, WriterAndReadersConcurrently) {
  HeartbeatLog log(64);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t s = 1; s <= 20'000; ++s) {
      log.Sent(s, kT0 + milliseconds(s));
      log.Committed(s, kT0 + milliseconds(s) + std::chrono::microseconds(500));
    }
    done = true;
  });
  uint64_t reads = 0;
  while (!done) {
    const auto lag = log.Lag(reads % 20'000, kT0 + milliseconds(reads % 20'000 + 5));
    EXPECT_GE(lag.count(), 0);
    (void)log.CoveredUntil(reads % 20'000);
    ++reads;
  }
  writer.join();
  EXPECT_EQ(log.CoveredUntil(20'000), kT0 + milliseconds(20'000));
}

}  // namespace
}  // namespace lockstep::routing::internal
