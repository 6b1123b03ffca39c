// The distributed RateLimiter against the real Redis of the test stack: exact GCRA
// decisions by Redis TIME, accuracy of three limiters sharing a key, no influence of a
// skewed client clock, the bound of the local fallback while Redis is down, and the return
// to Redis.
#include "lockstep/resilience/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lockstep/base/mutex.h"
#include "lockstep/redis/client.h"
#include "support/redis_test.h"
#include "support/test_env.h"

namespace lockstep::resilience {
namespace {

using namespace std::chrono_literals;
using lockstep::testing::RedisTestOptions;
using lockstep::testing::RunStackCommand;
using lockstep::testing::UniqueTestName;

constexpr auto kCallBound = 10s;  // Generous: a loaded 2-core machine.

std::unique_ptr<redis::Client> OpenClient(int index = 0) {
  auto c = redis::Client::Open(RedisTestOptions(index));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(c).value() : nullptr;
}

RateLimiterOptions Options(double rate, int64_t burst) {
  RateLimiterOptions o;
  o.rate = rate;
  o.burst = burst;
  o.key_prefix = "{t:" + UniqueTestName() + "}:rl:";
  o.heartbeat_interval = 0ms;  // The test calls Heartbeat() itself.
  o.instance_ttl = 60s;        // Registrations outlive any pause of a loaded machine.
  return o;
}

std::unique_ptr<RateLimiter> Make(redis::Client& client, const RateLimiterOptions& o,
                                  const Clock& clock = Clock::Real()) {
  auto l = RateLimiter::Create(client, o, clock);
  EXPECT_TRUE(l.ok()) << l.status();
  return l.ok() ? std::move(l).value() : nullptr;
}

RateDecision MustDecide(RateLimiter& l, std::string_view key, int64_t n = 1) {
  auto d = l.Decide(key, Deadline::After(kCallBound), n);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : RateDecision{};
}

TEST(RateLimiterTest, RejectsInvalidOptionsAndArguments) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  RateLimiterOptions o = Options(10, 5);
  o.rate = 0;
  EXPECT_EQ(RateLimiter::Create(*client, o).status().code(), StatusCode::kInvalidArgument);
  o = Options(10, 5);
  o.burst = 0;
  EXPECT_EQ(RateLimiter::Create(*client, o).status().code(), StatusCode::kInvalidArgument);
  o = Options(10, 5);
  o.key_prefix = "";
  EXPECT_EQ(RateLimiter::Create(*client, o).status().code(), StatusCode::kInvalidArgument);
  o = Options(10, 5);
  o.min_instances = 0;
  EXPECT_EQ(RateLimiter::Create(*client, o).status().code(), StatusCode::kInvalidArgument);
  auto l = Make(*client, Options(10, 5));
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->Decide("g", Deadline::After(kCallBound), 6).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(l->Decide("", Deadline::After(kCallBound)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(l->SetRate(-1, 5).code(), StatusCode::kInvalidArgument);
}

TEST(RateLimiterTest, AdmitsTheBurstThenDeniesWithRetryAfterFromRedis) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  auto l = Make(*client, Options(0.01, 3));  // One token per 100 s: the test's pace is irrelevant.
  ASSERT_NE(l, nullptr);
  for (int i = 0; i < 3; ++i) {
    RateDecision d = MustDecide(*l, "g");
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_FALSE(d.local);
    EXPECT_EQ(d.remaining, 2 - i);
    EXPECT_EQ(d.retry_after, 0ns);
  }
  RateDecision d = MustDecide(*l, "g");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_GT(d.retry_after, 0ns);
  EXPECT_LE(d.retry_after, 100s);
  EXPECT_GT(d.reset, 200s);
  EXPECT_LE(d.reset, 300s);
  // Another key is independent.
  EXPECT_TRUE(MustDecide(*l, "other").allowed);
  // n tokens at once: 3 from a full bucket, then nothing.
  EXPECT_TRUE(MustDecide(*l, "n", 3).allowed);
  EXPECT_FALSE(MustDecide(*l, "n", 1).allowed);
}

TEST(RateLimiterTest, DecideManyIsOneRoundTripOfExactDecisions) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  std::atomic<int> observed{0};
  RateLimiterOptions o = Options(0.01, 2);
  o.observer.on_decision = [&](std::string_view, const RateDecision&) { observed.fetch_add(1); };
  auto l = Make(*client, o);
  ASSERT_NE(l, nullptr);
  auto ds = l->DecideMany({"a", "a", "a", "b"}, Deadline::After(kCallBound));
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ(ds->size(), 4u);
  EXPECT_TRUE((*ds)[0].allowed);
  EXPECT_TRUE((*ds)[1].allowed);
  EXPECT_FALSE((*ds)[2].allowed);
  EXPECT_TRUE((*ds)[3].allowed);
  EXPECT_EQ((*ds)[3].remaining, 1);
  EXPECT_EQ(observed.load(), 4);
  EXPECT_FALSE(MustDecide(*l, "a").allowed);
}

TEST(RateLimiterTest, SetRateAppliesToTheNextDecisions) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  auto l = Make(*client, Options(0.01, 1));
  ASSERT_NE(l, nullptr);
  EXPECT_TRUE(MustDecide(*l, "g").allowed);
  EXPECT_FALSE(MustDecide(*l, "g").allowed);
  ASSERT_TRUE(l->SetRate(0.01, 3).ok());
  // The bucket holds up to 3 now: 2 more than the token already taken.
  EXPECT_TRUE(MustDecide(*l, "g").allowed);
  EXPECT_TRUE(MustDecide(*l, "g").allowed);
  EXPECT_FALSE(MustDecide(*l, "g").allowed);
}

// A clock far off (a year ahead, and moving by hours between decisions) injected into one
// limiter changes nothing: Redis decides with its own TIME; the C++ side sends only the
// interval, the burst and n (ScriptArgs), never a time.
TEST(RateLimiterTest, ASkewedClientClockHasNoInfluence) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  ManualClock skewed(Clock::time_point{} + 24h * 365);
  auto honest = Make(*client, Options(0.01, 4));
  auto skewed_limiter = Make(*client, Options(0.01, 4), skewed);
  ASSERT_NE(honest, nullptr);
  ASSERT_NE(skewed_limiter, nullptr);
  std::vector<int64_t> remaining;
  for (int i = 0; i < 4; ++i) {
    RateLimiter& l = i % 2 == 0 ? *skewed_limiter : *honest;
    skewed.Advance(3h);
    RateDecision d = MustDecide(l, "shared");
    ASSERT_TRUE(d.allowed) << i;
    ASSERT_FALSE(d.local);
    remaining.push_back(d.remaining);
  }
  EXPECT_EQ(remaining, (std::vector<int64_t>{3, 2, 1, 0}));
  skewed.Advance(24h);  // Were its clock used, a day would refill the bucket.
  RateDecision a = MustDecide(*skewed_limiter, "shared");
  RateDecision b = MustDecide(*honest, "shared");
  EXPECT_FALSE(a.allowed);
  EXPECT_FALSE(b.allowed);
  EXPECT_LE(a.retry_after, 100s);
  EXPECT_LE(b.retry_after, 100s);
  // Its heartbeat registers by Redis TIME as well: both count the same two instances.
  ASSERT_TRUE(honest->Heartbeat(Deadline::After(kCallBound)).ok());
  auto n = skewed_limiter->Heartbeat(Deadline::After(kCallBound));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  auto m = honest->Heartbeat(Deadline::After(kCallBound));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(*m, 2);
}

// Three limiter objects (as three instances would) on three threads offer far more than
// R for a real window of ~2.5 s on one key: admitted within [0.95*R*t, R*t + burst].
TEST(RateLimiterTest, ThreeInstancesSharingAKeyStayWithinTheBound) {
  constexpr double kRate = 100;
  constexpr int64_t kBurst = 50;
  std::vector<std::unique_ptr<redis::Client>> clients;
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  RateLimiterOptions o = Options(kRate, kBurst);
  o.heartbeat_interval = 200ms;  // The heartbeat threads run beside the decisions.
  o.instance_ttl = 10s;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(OpenClient());
    ASSERT_NE(clients.back(), nullptr);
    limiters.push_back(Make(*clients.back(), o));
    ASSERT_NE(limiters.back(), nullptr);
  }
  std::atomic<int64_t> admitted{0}, denied{0}, local{0}, errors{0};
  const auto start = std::chrono::steady_clock::now();
  const auto stop_at = start + 2500ms;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      while (std::chrono::steady_clock::now() < stop_at) {
        auto d = limiters[i]->Decide("orders", Deadline::After(kCallBound));
        if (!d.ok()) {
          errors.fetch_add(1);
          continue;
        }
        (d->allowed ? admitted : denied).fetch_add(1);
        if (d->local) local.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(local.load(), 0);
  EXPECT_LE(admitted.load(), static_cast<int64_t>(kRate * t) + kBurst) << "t=" << t;
  EXPECT_GE(admitted.load(), static_cast<int64_t>(0.95 * kRate * t)) << "t=" << t;
  EXPECT_GT(denied.load(), 0);  // More was offered than admitted.
  for (auto& l : limiters) EXPECT_EQ(l->fallback_instances(), 3);
}

// Three instances agree on N = 3 through the heartbeat set; then their Redis dies. Each
// decides locally with rate/3 and burst/3 (the breaker opens: Redis is not even tried),
// and the total over a manual window of t stays <= R*t + max(burst, 3) — here exactly
// R*t + burst. When Redis is back, a half-open probe returns the decisions to Redis.
TEST(RateLimiterTest, FallbackWhileRedisIsDownStaysWithinTheBoundAndRecovers) {
  constexpr int kIndex = 3;  // A master no other test kills.
  constexpr double kRate = 30;
  constexpr int64_t kBurst = 9;
  ManualClock clock;
  struct Instance {
    std::unique_ptr<redis::Client> client;
    std::unique_ptr<RateLimiter> limiter;
    std::atomic<int> to_local{0}, to_redis{0};
  };
  std::vector<std::unique_ptr<Instance>> instances;
  for (int i = 0; i < 3; ++i) {
    auto inst = std::make_unique<Instance>();
    inst->client = OpenClient(kIndex);
    ASSERT_NE(inst->client, nullptr);
    RateLimiterOptions o = Options(kRate, kBurst);
    Instance* raw = inst.get();
    o.observer.on_fallback_change = [raw](bool active, const Status&) {
      (active ? raw->to_local : raw->to_redis).fetch_add(1);
    };
    inst->limiter = Make(*inst->client, o, clock);
    ASSERT_NE(inst->limiter, nullptr);
    instances.push_back(std::move(inst));
  }
  for (int round = 0; round < 2; ++round) {
    for (auto& inst : instances) ASSERT_TRUE(inst->limiter->Heartbeat(Deadline::After(kCallBound)).ok());
  }
  for (auto& inst : instances) ASSERT_EQ(inst->limiter->fallback_instances(), 3);
  ASSERT_FALSE(MustDecide(*instances[0]->limiter, "warm").local);

  struct RestartOnExit {
    ~RestartOnExit() { EXPECT_EQ(RunStackCommand("start-redis " + std::to_string(kIndex)), 0); }
  } restart;
  ASSERT_EQ(RunStackCommand("kill-redis " + std::to_string(kIndex)), 0);

  // t = 2 s of manual time in 10 ms steps; every instance offers 5 requests per step.
  int64_t admitted = 0;
  int64_t local = 0;
  constexpr int kSteps = 200;
  for (int s = 0; s <= kSteps; ++s) {
    if (s > 0) clock.Advance(10ms);
    for (auto& inst : instances) {
      for (int k = 0; k < 5; ++k) {
        RateDecision d = MustDecide(*inst->limiter, "orders");
        admitted += d.allowed ? 1 : 0;
        local += d.local ? 1 : 0;
      }
    }
  }
  EXPECT_EQ(local, 3 * 5 * (kSteps + 1));
  const double t = kSteps * 0.010;
  EXPECT_LE(admitted, static_cast<int64_t>(kRate * t) + std::max<int64_t>(kBurst, 3));
  // Each instance: burst 3 + 10/s * 2 s; no less either.
  EXPECT_EQ(admitted, 3 * (3 + 20));
  for (auto& inst : instances) {
    EXPECT_TRUE(inst->limiter->fallback_active());
    EXPECT_EQ(inst->to_local.load(), 1);
    EXPECT_EQ(inst->limiter->breaker_stats().state, BreakerState::kOpen);
  }

  // Redis back: await (bounded) the half-open probe that returns each instance to Redis.
  ASSERT_EQ(RunStackCommand("start-redis " + std::to_string(kIndex)), 0);
  for (auto& inst : instances) {
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    bool back = false;
    while (!back && std::chrono::steady_clock::now() < give_up) {
      clock.Advance(1100ms);  // Past open_duration: the next decision probes Redis.
      back = !MustDecide(*inst->limiter, "probe").local;
    }
    ASSERT_TRUE(back);
    EXPECT_FALSE(inst->limiter->fallback_active());
    EXPECT_EQ(inst->to_redis.load(), 1);
  }
  // Precise again: a fresh key admits exactly the burst, across the three instances (at
  // a rate of one token per 100 s, so the test's pace cannot refill one).
  for (auto& inst : instances) ASSERT_TRUE(inst->limiter->SetRate(0.01, kBurst).ok());
  int64_t again = 0;
  for (int k = 0; k < 5; ++k) {
    for (auto& inst : instances) {
      RateDecision d = MustDecide(*inst->limiter, "after");
      EXPECT_FALSE(d.local);
      again += d.allowed ? 1 : 0;
    }
  }
  EXPECT_EQ(again, kBurst);
}

// An instance that never saw Redis uses N = min_instances (the fleet size from the
// deployment), so a newcomer during an outage takes only its share.
TEST(RateLimiterTest, AnInstanceThatNeverSawRedisUsesMinInstances) {
  redis::RedisOptions ro = RedisTestOptions(0);
  ro.port = 9;  // Nothing listens there.
  ro.connect_timeout = 200ms;
  auto client = redis::Client::Open(ro);
  ASSERT_TRUE(client.ok()) << client.status();
  ManualClock clock;
  RateLimiterOptions o = Options(30, 9);
  o.min_instances = 3;
  auto l = Make(**client, o, clock);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->fallback_instances(), 3);
  int64_t admitted = 0;
  for (int s = 0; s <= 100; ++s) {
    if (s > 0) clock.Advance(10ms);
    for (int k = 0; k < 5; ++k) {
      RateDecision d = MustDecide(*l, "g");
      EXPECT_TRUE(d.local);
      admitted += d.allowed ? 1 : 0;
    }
  }
  EXPECT_EQ(admitted, 3 + 10);  // burst 9/3 + 10/s * 1 s.
  // DecideMany falls back the same way: a fresh key's local burst is 3.
  auto many = l->DecideMany({"m", "m", "m", "m"}, Deadline::After(kCallBound));
  ASSERT_TRUE(many.ok()) << many.status();
  int allowed = 0;
  for (const RateDecision& d : *many) {
    EXPECT_TRUE(d.local);
    allowed += d.allowed ? 1 : 0;
  }
  EXPECT_EQ(allowed, 3);
}

}  // namespace
}  // namespace lockstep::resilience
