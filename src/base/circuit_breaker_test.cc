#include "lockstep/base/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace lockstep {
namespace {

using namespace std::chrono_literals;

CircuitBreakerOptions SmallOptions() {
  CircuitBreakerOptions o;
  o.window = 1s;
  o.buckets = 10;
  o.min_requests = 4;
  o.failure_ratio = 0.5;
  o.open_duration = 500ms;
  o.half_open_probes = 2;
  return o;
}

std::unique_ptr<CircuitBreaker> Make(const CircuitBreakerOptions& o, const Clock& clock) {
  auto b = CircuitBreaker::Create(o, clock);
  EXPECT_TRUE(b.ok()) << b.status();
  return std::move(b).value();
}

TEST(CircuitBreaker, RejectsInvalidOptions) {
  ManualClock clock;
  CircuitBreakerOptions o = SmallOptions();
  o.failure_ratio = 0;
  EXPECT_EQ(CircuitBreaker::Create(o, clock).status().code(), StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.min_requests = 0;
  EXPECT_EQ(CircuitBreaker::Create(o, clock).status().code(), StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.open_duration = 0ms;
  EXPECT_EQ(CircuitBreaker::Create(o, clock).status().code(), StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.half_open_probes = 0;
  EXPECT_EQ(CircuitBreaker::Create(o, clock).status().code(), StatusCode::kInvalidArgument);
}

TEST(CircuitBreaker, StaysClosedBelowMinimumRequests) {
  ManualClock clock;
  auto b = Make(SmallOptions(), clock);
  for (int i = 0; i < 3; ++i) b->RecordFailure();
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  EXPECT_TRUE(b->Allow().ok());
}

TEST(CircuitBreaker, OpensAtFailureRatioAndFailsFast) {
  ManualClock clock;
  auto b = Make(SmallOptions(), clock);
  b->RecordSuccess();
  b->RecordSuccess();
  b->RecordFailure();
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  b->RecordFailure();  // 2 of 4 = 0.5.
  EXPECT_EQ(b->state(), BreakerState::kOpen);
  const Status s = b->Allow();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.reason(), "circuit_open");
  EXPECT_EQ(b->stats().rejected, 1u);
  EXPECT_EQ(b->stats().transitions_to_open, 1u);
}

TEST(CircuitBreaker, OldOutcomesLeaveTheRollingWindow) {
  ManualClock clock;
  auto b = Make(SmallOptions(), clock);
  for (int i = 0; i < 3; ++i) b->RecordFailure();
  clock.Advance(1100ms);  // Those three are outside the 1s window now.
  b->RecordFailure();
  b->RecordSuccess();
  b->RecordSuccess();
  b->RecordSuccess();
  EXPECT_EQ(b->state(), BreakerState::kClosed);
}

TEST(CircuitBreaker, HalfOpenAfterOpenDurationLimitsProbes) {
  ManualClock clock;
  auto b = Make(SmallOptions(), clock);
  for (int i = 0; i < 4; ++i) b->RecordFailure();
  ASSERT_EQ(b->state(), BreakerState::kOpen);
  clock.Advance(499ms);
  EXPECT_FALSE(b->Allow().ok());
  clock.Advance(1ms);
  EXPECT_EQ(b->state(), BreakerState::kHalfOpen);
  EXPECT_TRUE(b->Allow().ok());
  EXPECT_TRUE(b->Allow().ok());
  EXPECT_FALSE(b->Allow().ok());  // Two probes at most.
  b->RecordSuccess();
  EXPECT_EQ(b->state(), BreakerState::kHalfOpen);
  EXPECT_FALSE(b->Allow().ok());  // One success + one in flight fill the two slots.
  b->RecordSuccess();
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  EXPECT_TRUE(b->Allow().ok());
  const CircuitBreakerStats s = b->stats();
  EXPECT_EQ(s.transitions_to_open, 1u);
  EXPECT_EQ(s.transitions_to_half_open, 1u);
  EXPECT_EQ(s.transitions_to_closed, 1u);
}

TEST(CircuitBreaker, ProbeFailureReopens) {
  ManualClock clock;
  auto b = Make(SmallOptions(), clock);
  for (int i = 0; i < 4; ++i) b->RecordFailure();
  clock.Advance(500ms);
  ASSERT_TRUE(b->Allow().ok());
  b->RecordFailure();
  EXPECT_EQ(b->state(), BreakerState::kOpen);
  EXPECT_FALSE(b->Allow().ok());
  clock.Advance(500ms);
  EXPECT_TRUE(b->Allow().ok());
  EXPECT_EQ(b->stats().transitions_to_open, 2u);
}

TEST(CircuitBreaker, LostProbeFreesItsSlot) {
  ManualClock clock;
  CircuitBreakerOptions o = SmallOptions();
  o.half_open_probes = 1;
  auto b = Make(o, clock);
  for (int i = 0; i < 4; ++i) b->RecordFailure();
  clock.Advance(500ms);
  ASSERT_TRUE(b->Allow().ok());  // Its outcome is never recorded.
  EXPECT_FALSE(b->Allow().ok());
  clock.Advance(500ms);
  EXPECT_TRUE(b->Allow().ok());
}

TEST(CircuitBreaker, ClosedWindowStartsEmptyAfterRecovery) {
  ManualClock clock;
  auto b = Make(SmallOptions(), clock);
  for (int i = 0; i < 4; ++i) b->RecordFailure();
  clock.Advance(500ms);
  ASSERT_TRUE(b->Allow().ok());
  ASSERT_TRUE(b->Allow().ok());
  b->RecordSuccess();
  b->RecordSuccess();
  ASSERT_EQ(b->state(), BreakerState::kClosed);
  b->RecordFailure();  // One failure alone must not reopen it (the old ones are gone).
  EXPECT_EQ(b->state(), BreakerState::kClosed);
}

TEST(CircuitBreaker, ClassifiesDependencyFailuresOnly) {
  EXPECT_TRUE(CircuitBreaker::IsFailure(Status::Unavailable("x")));
  EXPECT_TRUE(CircuitBreaker::IsFailure(Status::DeadlineExceeded("x")));
  EXPECT_FALSE(CircuitBreaker::IsFailure(Status::NotFound("x")));
  EXPECT_FALSE(CircuitBreaker::IsFailure(Status::Ok()));
}

TEST(CircuitBreaker, ConcurrentUseKeepsCountersConsistent) {
  ManualClock clock;
  CircuitBreakerOptions o = SmallOptions();
  o.min_requests = 1'000'000;  // Never opens: every call is allowed and counted.
  auto b = Make(o, clock);
  constexpr int kThreads = 8;
  constexpr int kCalls = 2'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        ASSERT_TRUE(b->Allow().ok());
        if ((i + t) % 2 == 0) {
          b->RecordSuccess();
        } else {
          b->RecordFailure();
        }
        if (i % 100 == 0) clock.Advance(1ms);
      }
    });
  }
  for (auto& th : threads) th.join();
  const CircuitBreakerStats s = b->stats();
  EXPECT_EQ(s.successes + s.failures, static_cast<uint64_t>(kThreads * kCalls));
  EXPECT_EQ(s.state, BreakerState::kClosed);
}

TEST(CircuitBreaker, CheckAnswersAsAllowWithoutTakingAProbeSlot) {
  ManualClock clock;
  CircuitBreakerOptions o = SmallOptions();
  o.half_open_probes = 1;
  auto b = Make(o, clock);
  EXPECT_TRUE(b->Check().ok());
  for (int i = 0; i < 4; ++i) b->RecordFailure();
  const Status open = b->Check();
  EXPECT_EQ(open.code(), StatusCode::kUnavailable);
  EXPECT_EQ(open.reason(), "circuit_open");
  clock.Advance(500ms);
  // Half-open: Check leaves the one probe slot to Allow, however often it is asked.
  EXPECT_TRUE(b->Check().ok());
  EXPECT_TRUE(b->Check().ok());
  ASSERT_TRUE(b->Allow().ok());
  EXPECT_EQ(b->Check().reason(), "circuit_open");
  EXPECT_FALSE(b->Allow().ok());
  // Each refusal counts once, whether Check or Allow gave it.
  EXPECT_EQ(b->stats().rejected, 3u);
  // A probe that never reports frees its slot after open_duration: Check agrees.
  clock.Advance(500ms);
  EXPECT_TRUE(b->Check().ok());
  EXPECT_TRUE(b->Allow().ok());
}

TEST(CircuitBreaker, ReportsEveryTransitionOnceInOrder) {
  ManualClock clock;
  std::vector<BreakerState> seen;
  CircuitBreakerOptions o = SmallOptions();
  o.half_open_probes = 1;
  o.on_transition = [&seen](BreakerState to) { seen.push_back(to); };
  auto b = Make(o, clock);
  for (int i = 0; i < 4; ++i) b->RecordFailure();
  clock.Advance(500ms);
  EXPECT_EQ(b->state(), BreakerState::kHalfOpen);  // Reported only once a call sees it.
  EXPECT_EQ(seen, std::vector<BreakerState>({BreakerState::kOpen}));
  ASSERT_TRUE(b->Allow().ok());
  b->RecordFailure();
  clock.Advance(500ms);
  ASSERT_TRUE(b->Allow().ok());
  b->RecordSuccess();
  EXPECT_EQ(seen, std::vector<BreakerState>({BreakerState::kOpen, BreakerState::kHalfOpen, BreakerState::kOpen,
                                             BreakerState::kHalfOpen, BreakerState::kClosed}));
  const CircuitBreakerStats s = b->stats();
  EXPECT_EQ(s.transitions_to_open + s.transitions_to_half_open + s.transitions_to_closed, seen.size());
}

}  // namespace
}  // namespace lockstep
