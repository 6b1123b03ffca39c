#include "lockstep/resilience/token_bucket.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

namespace lockstep::resilience {
namespace {

using namespace std::chrono_literals;

// Offers `per_step` requests after every `step` of manual time for `steps` steps (plus
// once at the start); returns how many were admitted.
int64_t OfferOverWindow(TokenBucket& bucket, const ManualClock& clock, std::chrono::nanoseconds step, int steps,
                        int per_step) {
  int64_t admitted = 0;
  for (int s = 0; s <= steps; ++s) {
    if (s > 0) clock.Advance(step);
    for (int i = 0; i < per_step; ++i) admitted += bucket.TryAcquire().allowed ? 1 : 0;
  }
  return admitted;
}

TEST(TokenBucket, RejectsInvalidRates) {
  EXPECT_EQ(TokenBucket::Validate(0, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenBucket::Validate(-5, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenBucket::Validate(NAN, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenBucket::Validate(INFINITY, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenBucket::Validate(10, 0.5).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenBucket::Validate(10, NAN).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(TokenBucket::Validate(10, 1).ok());
  EXPECT_TRUE(TokenBucket::Validate(0.01, 2.5).ok());
}

TEST(TokenBucket, StartsFullAndAdmitsExactlyTheBurstAtOnce) {
  ManualClock clock;
  TokenBucket bucket(100, 10, clock);
  for (int i = 0; i < 10; ++i) {
    RateDecision d = bucket.TryAcquire();
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 9 - i);
    EXPECT_EQ(d.retry_after, 0ns);
    EXPECT_EQ(d.reset, (i + 1) * 10ms);
  }
  RateDecision d = bucket.TryAcquire();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.reset, 100ms);
}

TEST(TokenBucket, RetryAfterIsExactlyWhenTheNextTokenArrives) {
  ManualClock clock;
  TokenBucket bucket(100, 2, clock);  // One token per 10ms.
  ASSERT_TRUE(bucket.TryAcquire(2).allowed);
  RateDecision d = bucket.TryAcquire();
  ASSERT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 10ms);
  clock.Advance(4ms);
  d = bucket.TryAcquire();
  ASSERT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 6ms);
  // Two tokens need 20ms from the empty bucket: 16ms more.
  d = bucket.TryAcquire(2);
  ASSERT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 16ms);
  clock.Advance(6ms - 1ns);
  EXPECT_FALSE(bucket.TryAcquire().allowed);
  clock.Advance(1ns);
  d = bucket.TryAcquire();
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
}

TEST(TokenBucket, NeverAdmitsMoreThanTheBurstInOneRequest) {
  ManualClock clock;
  TokenBucket bucket(100, 5, clock);
  RateDecision d = bucket.TryAcquire(6);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, std::chrono::nanoseconds::max());
  EXPECT_EQ(d.remaining, 5);
  EXPECT_TRUE(bucket.TryAcquire(5).allowed);
}

TEST(TokenBucket, AdmitsRateTimesWindowPlusBurstWhenOfferedMore) {
  ManualClock clock;
  constexpr double kRate = 1000;  // Divides 1e9: T = 1ms exactly.
  constexpr double kBurst = 50;
  TokenBucket bucket(kRate, kBurst, clock);
  // t = 2s in 0.25ms steps, 3 offers per step (12,000/s offered).
  const int64_t admitted = OfferOverWindow(bucket, clock, 250us, 8000, 3);
  EXPECT_EQ(admitted, static_cast<int64_t>(kRate * 2 + kBurst));
}

TEST(TokenBucket, AnyWindowHoldsTheBoundAfterIdleAndBurstyTraffic) {
  ManualClock clock;
  TokenBucket bucket(10, 3, clock);  // T = 100ms.
  // Idle for a long time: the bucket holds at most `burst` tokens, never more.
  clock.Advance(1h);
  EXPECT_EQ(OfferOverWindow(bucket, clock, 1ms, 0, 100), 3);
  // 1.5 s at 1ms steps with 2 offers each: 15 more.
  EXPECT_EQ(OfferOverWindow(bucket, clock, 1ms, 1500, 2), 15);
  // Total over the window of 1.5 s: 18 = rate*t + burst.
}

TEST(TokenBucket, FractionalRateAndBurst) {
  ManualClock clock;
  TokenBucket bucket(0.5, 2.5, clock);  // T = 2s, tolerance 5s.
  EXPECT_TRUE(bucket.TryAcquire().allowed);
  EXPECT_TRUE(bucket.TryAcquire().allowed);
  RateDecision d = bucket.TryAcquire();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 1s);  // TAT 4s, next 6s, 6 - 5 = 1s.
  clock.Advance(1s);
  EXPECT_TRUE(bucket.TryAcquire().allowed);
}

TEST(TokenBucket, SetRateAppliesFromNowOn) {
  ManualClock clock;
  TokenBucket bucket(10, 1, clock);  // T = 100ms.
  ASSERT_TRUE(bucket.TryAcquire().allowed);
  EXPECT_FALSE(bucket.TryAcquire().allowed);
  bucket.SetRate(1000, 5);  // T = 1ms; the debt of 100ms (TAT) stays.
  EXPECT_EQ(bucket.interval(), 1ms);
  // TAT = now + 100ms; tolerance 5ms: 95ms to wait for one token.
  RateDecision d = bucket.TryAcquire();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 96ms);
  clock.Advance(100ms);
  EXPECT_EQ(OfferOverWindow(bucket, clock, 1ms, 0, 100), 5);
}

// 8 threads hammer one bucket while the manual clock moves: the admitted total never
// exceeds rate*t + burst (each admission is one CAS on the single state word).
TEST(TokenBucket, ConcurrentCallersNeverOverAdmit) {
  ManualClock clock;
  constexpr double kRate = 10'000;  // T = 100us.
  constexpr double kBurst = 20;
  TokenBucket bucket(kRate, kBurst, clock);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> admitted{0};
  std::atomic<int64_t> attempts{0};  // Progress, for the main thread to await.
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      int64_t mine = 0;
      do {
        if (bucket.TryAcquire().allowed) ++mine;
        attempts.fetch_add(1, std::memory_order_relaxed);
      } while (!stop.load(std::memory_order_acquire));
      admitted.fetch_add(mine);
    });
  }
  // 100 steps of 1ms (t = 100ms); before each step, await 16 more attempts, so the
  // threads decide (and race) at every point in time.
  constexpr int kSteps = 100;
  for (int i = 0; i < kSteps; ++i) {
    const int64_t seen = attempts.load(std::memory_order_relaxed);
    while (attempts.load(std::memory_order_relaxed) < seen + 16) std::this_thread::yield();
    clock.Advance(1ms);
  }
  stop.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  const double t = kSteps * 1e-3;
  EXPECT_LE(admitted.load(), static_cast<int64_t>(kRate * t + kBurst));
  EXPECT_GE(admitted.load(), static_cast<int64_t>(kBurst));
  EXPECT_GT(attempts.load(), admitted.load());
}

}  // namespace
}  // namespace lockstep::resilience
