#include "lockstep/resilience/admission_controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace lockstep::resilience {
namespace {

using namespace std::chrono_literals;

AdmissionOptions Fixed(int limit) {
  AdmissionOptions o;
  o.min_limit = o.initial_limit = o.max_limit = limit;
  return o;
}

std::unique_ptr<AdmissionController> Make(AdmissionOptions o, const Clock& clock) {
  auto c = AdmissionController::Create(std::move(o), clock);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

TEST(AdmissionOptionsTest, RejectsInvalid) {
  EXPECT_TRUE(AdmissionOptions{}.Validate().ok());
  AdmissionOptions o;
  o.target_delay = 0us;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.min_limit = 10;
  o.initial_limit = 5;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.backoff = 1.0;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(AdmissionController::Create(o).ok());
  o = {};
  o.servers = 0;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(AdmissionControllerTest, ConcurrencyLimitShedsNormalButNeverCritical) {
  ManualClock clock;
  std::vector<std::pair<Priority, ShedReason>> sheds;
  AdmissionOptions o = Fixed(2);
  o.observer.on_shed = [&](Priority p, ShedReason r) { sheds.emplace_back(p, r); };
  auto c = Make(o, clock);
  auto a = c->TryAdmit(Priority::kNormal);
  auto b = c->TryAdmit(Priority::kNormal);
  ASSERT_TRUE(a.ok() && b.ok());
  auto refused = c->TryAdmit(Priority::kNormal);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().reason(), "overloaded");
  EXPECT_NE(refused.status().message().find("concurrency_limit"), std::string::npos);
  auto critical = c->TryAdmit(Priority::kCritical);
  EXPECT_TRUE(critical.ok());
  ASSERT_EQ(sheds.size(), 1u);
  EXPECT_EQ(sheds[0].second, ShedReason::kConcurrencyLimit);
  // A finished slot frees room (started or not).
  { Admission done = std::move(*a); }
  EXPECT_FALSE(c->TryAdmit(Priority::kNormal).ok());  // Still 2 in flight: b and critical.
  { Admission done = std::move(*critical); }
  EXPECT_TRUE(c->TryAdmit(Priority::kNormal).ok());
  const AdmissionStats s = c->stats();
  EXPECT_EQ(s.admitted, 4u);
  EXPECT_EQ(s.shed_concurrency_limit, 2u);
  EXPECT_EQ(s.in_flight, 1);  // b; the last one was destroyed at once.
}

TEST(AdmissionControllerTest, BulkGetsHalfTheLimit) {
  ManualClock clock;
  auto c = Make(Fixed(4), clock);
  auto a = c->TryAdmit(Priority::kBulk);
  auto b = c->TryAdmit(Priority::kBulk);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(c->TryAdmit(Priority::kBulk).ok());
  EXPECT_TRUE(c->TryAdmit(Priority::kNormal).ok());
}

TEST(AdmissionControllerTest, StandingQueueShedsUntilADelayBelowTarget) {
  ManualClock clock;
  std::vector<bool> changes;
  AdmissionOptions o = Fixed(1000);
  o.target_delay = 5ms;
  o.interval = 100ms;
  o.observer.on_overload_change = [&](bool overloaded) { changes.push_back(overloaded); };
  auto c = Make(o, clock);
  // Every start waits 20 ms (above target): after one interval of that, the queue stands.
  std::vector<Admission> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(std::move(c->TryAdmit(Priority::kNormal)).value());
  clock.Advance(20ms);
  queued[0].Started();
  EXPECT_FALSE(c->stats().overloaded);  // Above target, but not for an interval yet.
  clock.Advance(100ms);
  queued[1].Started();
  ASSERT_TRUE(c->stats().overloaded);
  EXPECT_EQ(changes, std::vector<bool>{true});
  // While it stands and work is queued, normal requests are refused; critical ones pass.
  auto refused = c->TryAdmit(Priority::kNormal);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("queue_delay"), std::string::npos);
  EXPECT_TRUE(c->TryAdmit(Priority::kCritical).ok());
  // A drained queue admits again (to measure), even while still marked standing.
  for (size_t i = 2; i < queued.size(); ++i) queued[i].Started();
  auto probe = c->TryAdmit(Priority::kNormal);
  ASSERT_TRUE(probe.ok());
  // A start below target ends the episode.
  clock.Advance(1ms);
  probe->Started();
  EXPECT_FALSE(c->stats().overloaded);
  EXPECT_EQ(changes, (std::vector<bool>{true, false}));
  EXPECT_EQ(c->stats().overload_episodes, 1u);
  EXPECT_EQ(c->stats().shed_queue_delay, 1u);
}

TEST(AdmissionControllerTest, LimitShrinksOncePerIntervalAboveTargetAndGrowsBelow) {
  ManualClock clock;
  std::vector<int> limits;
  AdmissionOptions o;
  o.min_limit = 4;
  o.initial_limit = 20;
  o.max_limit = 40;
  o.backoff = 0.5;
  o.target_delay = 5ms;
  o.interval = 100ms;
  o.observer.on_limit_change = [&](int limit) { limits.push_back(limit); };
  auto c = Make(o, clock);
  clock.Advance(1s);  // Past the (epoch) time of the last decrease.
  std::vector<Admission> slots;
  for (int i = 0; i < 3; ++i) slots.push_back(std::move(c->TryAdmit(Priority::kNormal)).value());
  clock.Advance(10ms);
  for (Admission& s : slots) s.Started();  // Three starts above target within one interval.
  EXPECT_EQ(c->stats().limit, 10);         // Halved once, not three times.
  EXPECT_EQ(c->stats().limit_decreases, 1u);
  slots.clear();
  clock.Advance(100ms);
  auto late = c->TryAdmit(Priority::kNormal);
  clock.Advance(10ms);
  late->Started();
  EXPECT_EQ(c->stats().limit, 5);
  late = c->TryAdmit(Priority::kCritical);  // Replaces (finishes) the old slot.
  clock.Advance(100ms);
  late->Started();
  EXPECT_EQ(c->stats().limit, 4);  // Floored at min_limit.
  EXPECT_EQ(limits, (std::vector<int>{10, 5, 4}));
  { Admission gone = std::move(*late); }
  {
    auto calm = c->TryAdmit(Priority::kNormal);  // A start below target ends the standing queue.
    calm->Started();
  }
  ASSERT_FALSE(c->stats().overloaded);
  // Below target with the limit more than half used: +1 per `limit` starts.
  for (int round = 0; round < 8; ++round) {
    std::vector<Admission> batch;
    for (int i = 0; i < 4; ++i) batch.push_back(std::move(c->TryAdmit(Priority::kNormal)).value());
    for (Admission& s : batch) s.Started();  // No time passes: zero delay.
  }
  EXPECT_GE(c->stats().limit, 5);
  EXPECT_GT(c->stats().limit_increases, 0u);
  // Below target but idle (less than half used): no growth.
  const int before = c->stats().limit;
  for (int i = 0; i < 50; ++i) {
    auto one = c->TryAdmit(Priority::kNormal);
    one->Started();
  }
  EXPECT_EQ(c->stats().limit, before);
}

TEST(AdmissionControllerTest, DeadlineBeforeTheExpectedWaitIsRefused) {
  ManualClock clock;
  AdmissionOptions o = Fixed(100'000);
  o.target_delay = 10s;  // Only the deadline rule in play.
  o.servers = 2;
  auto c = Make(o, clock);
  // Work that runs 20 ms (the EWMA converges over many samples); a long idle pause after
  // it changes nothing.
  for (int i = 0; i < 60; ++i) {
    auto s = c->TryAdmit(Priority::kNormal);
    s->Started();
    clock.Advance(20ms);
  }
  EXPECT_GT(c->stats().run_time, 19ms);
  clock.Advance(1h);
  // Nothing queued: admitted whatever the deadline.
  EXPECT_TRUE(c->TryAdmit(Priority::kNormal, Deadline::At(clock.Now() + 1ms)).ok());
  // 50 queued ahead, 2 at a time, 20 ms each: about half a second.
  std::vector<Admission> queued;
  for (int i = 0; i < 50; ++i) queued.push_back(std::move(c->TryAdmit(Priority::kCritical)).value());
  auto refused = c->TryAdmit(Priority::kNormal, Deadline::At(clock.Now() + 300ms));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("deadline"), std::string::npos);
  EXPECT_TRUE(c->TryAdmit(Priority::kNormal, Deadline::At(clock.Now() + 2s)).ok());
  EXPECT_TRUE(c->TryAdmit(Priority::kNormal).ok());  // No deadline: never this rule.
  EXPECT_EQ(c->stats().shed_deadline, 1u);
}

// A checker over a real concurrent run: with a fixed limit, the admitted and unfinished
// work never exceeds it, and every counter balances at the end.
TEST(AdmissionControllerTest, ConcurrentHoldersNeverExceedTheLimit) {
  auto c = Make(Fixed(8), Clock::Real());
  std::atomic<int> holders{0};
  std::atomic<int> max_holders{0};
  std::atomic<int64_t> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto slot = c->TryAdmit(Priority::kNormal);
        if (!slot.ok()) continue;
        admitted.fetch_add(1);
        const int now = holders.fetch_add(1) + 1;
        int seen = max_holders.load();
        while (now > seen && !max_holders.compare_exchange_weak(seen, now)) {
        }
        slot->Started();
        holders.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_holders.load(), 8);
  const AdmissionStats s = c->stats();
  EXPECT_EQ(s.in_flight, 0);
  EXPECT_EQ(s.queued, 0);
  EXPECT_EQ(static_cast<int64_t>(s.admitted), admitted.load());
  EXPECT_EQ(s.admitted + s.shed_concurrency_limit + s.shed_queue_delay + s.shed_deadline, 8u * 2000u);
}

}  // namespace
}  // namespace lockstep::resilience
