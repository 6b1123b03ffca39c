// LockService against a real Redis: grant/release, pub/sub wake-up, reentrancy, renewal,
// fences, loss detection. Awaits conditions; never asserts durations.
#include "lockstep/lock/lock_service.h"

#include <gtest/gtest.h>

#include <atomic>

#include <memory>
#include <thread>

#include "lockstep/lock/test_peer.h"
#include "lock_test_util.h"
#include "support/redis_test.h"

namespace lockstep::lock {
namespace {

using namespace std::chrono_literals;
using testing::EventCounter;

class LockServiceTest : public lockstep::testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    LockServiceOptions o;
    o.key_prefix = "";  // Names are test keys already ("{t:<test>}:<name>").
    o.release_channel = Key("released");
    o.observer = events_.Observer();
    Result<std::unique_ptr<LockService>> s = LockService::Create(client(), o);
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = std::move(*s);
  }
  void TearDown() override {
    service_.reset();
    RedisTest::TearDown();
  }

  EventCounter events_;
  std::unique_ptr<LockService> service_;
};

TEST_F(LockServiceTest, AcquireReleaseAndTryAcquireFailsWhileHeld) {
  const std::string name = Key("a");
  Result<LockGuard> g = service_->Acquire(name, {}, Deadline::After(30s));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->Check().ok());
  EXPECT_GT(g->fence(), 0);
  EXPECT_EQ(g->name(), name);
  EXPECT_FALSE(g->deadline().expired());

  Result<LockGuard> other = service_->TryAcquire(name, {});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kAborted);
  EXPECT_EQ(other.status().reason(), "lock_busy");

  EXPECT_TRUE(g->Release().ok());
  EXPECT_EQ(g->Check().reason(), "not_held");
  Result<std::optional<std::string>> value = client().Get(name, Deadline::After(10s));
  ASSERT_TRUE(value.ok());
  EXPECT_FALSE(value->has_value()) << "release deletes the key";

  Result<LockGuard> again = service_->TryAcquire(name, {});
  ASSERT_TRUE(again.ok()) << again.status();
}

TEST_F(LockServiceTest, WaiterIsWokenByReleaseMessage) {
  const std::string name = Key("w");
  Result<LockGuard> holder = service_->Acquire(name, {.lease = 60s}, Deadline::After(30s));
  ASSERT_TRUE(holder.ok()) << holder.status();
  const int64_t first_fence = holder->fence();

  // The fallback poll (and the holder's lease) are far longer than the waiter's deadline:
  // the waiter can only get the lock through the release message.
  Result<LockGuard> waited = Status::Unknown("not run");
  std::thread waiter([&] { waited = service_->Acquire(name, {.poll_interval = 600s}, Deadline::After(45s)); });
  ASSERT_TRUE(events_.Await("wait", 1)) << "the second acquirer never started waiting";
  EXPECT_TRUE(holder->Release().ok());
  waiter.join();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_GE(events_.Get("wake"), 1);
  EXPECT_GE(service_->stats().wakes, 1u);
  EXPECT_EQ(service_->stats().polls, 0u);
  EXPECT_GT(waited->fence(), first_fence);
}

TEST_F(LockServiceTest, WaiterTakesOverWhenHolderLeaseExpires) {
  // A holder that crashed never publishes; the waiter retries when the lease runs out.
  const std::string name = Key("crash");
  Result<LockGuard> holder = service_->Acquire(name, {.lease = 1s, .auto_renew = false}, Deadline::After(30s));
  ASSERT_TRUE(holder.ok()) << holder.status();
  Result<LockGuard> waited = service_->Acquire(name, {.poll_interval = 600s}, Deadline::After(60s));
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_GT(waited->fence(), holder->fence());
  EXPECT_FALSE(holder->Check().ok());
}

TEST_F(LockServiceTest, ReentrantGuardsShareLeaseAndFence) {
  const std::string name = Key("r");
  auto owner = std::make_shared<LockOwner>();
  const LockOptions reentrant{.owner = owner, .reentrant = true};
  Result<LockGuard> g1 = service_->Acquire(name, reentrant, Deadline::After(30s));
  ASSERT_TRUE(g1.ok()) << g1.status();
  Result<LockGuard> g2 = service_->TryAcquire(name, reentrant);
  ASSERT_TRUE(g2.ok()) << g2.status();
  EXPECT_EQ(g1->hold_count(), 2);
  EXPECT_EQ(g1->fence(), g2->fence());

  // Without reentrancy the same owner is just another contender; other owners wait.
  EXPECT_EQ(service_->TryAcquire(name, {.owner = owner}).status().reason(), "lock_busy");
  EXPECT_EQ(service_->TryAcquire(name, {}).status().reason(), "lock_busy");

  EXPECT_TRUE(g2->Release().ok());
  EXPECT_EQ(g1->hold_count(), 1);
  EXPECT_TRUE(g1->Check().ok());
  EXPECT_EQ(service_->TryAcquire(name, {}).status().reason(), "lock_busy");

  EXPECT_TRUE(g1->Release().ok());
  Result<LockGuard> other = service_->TryAcquire(name, {});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_GT(other->fence(), g2->fence());
}

TEST_F(LockServiceTest, RenewalKeepsLockAlivePastSeveralLeases) {
  const std::string name = Key("renew");
  Result<LockGuard> g = service_->Acquire(name, {.lease = 2s}, Deadline::After(30s));
  ASSERT_TRUE(g.ok()) << g.status();
  // Renewals every ~667ms: six of them span two full leases.
  ASSERT_TRUE(events_.Await("renewed", 6)) << "renewals stalled";
  EXPECT_TRUE(g->Check().ok());
  EXPECT_EQ(events_.Get("lost"), 0);
  EXPECT_EQ(service_->TryAcquire(name, {}).status().reason(), "lock_busy");
  Result<redis::Reply> pttl = client().Command({"PTTL", name}, Deadline::After(10s));
  ASSERT_TRUE(pttl.ok());
  EXPECT_GT(pttl->integer(), 0);
}

TEST_F(LockServiceTest, RenewalsOfManyLocksArePipelined) {
  std::vector<LockGuard> guards;
  for (int i = 0; i < 4; ++i) {
    Result<LockGuard> g = service_->Acquire(Key("p" + std::to_string(i)), {.lease = 2s}, Deadline::After(30s));
    ASSERT_TRUE(g.ok()) << g.status();
    guards.push_back(std::move(*g));
  }
  ASSERT_TRUE(events_.Await("renewed", 12));
  const LockServiceStats stats = service_->stats();
  EXPECT_LT(stats.renew_batches, stats.renewals) << "renewals of locks due together share a pipeline";
  for (const LockGuard& g : guards) EXPECT_TRUE(g.Check().ok());
}

TEST_F(LockServiceTest, FencesStrictlyIncrease) {
  const std::string name = Key("f");
  int64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    Result<LockGuard> g = service_->Acquire(name, {}, Deadline::After(30s));
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_GT(g->fence(), last);
    last = g->fence();
  }
}

TEST_F(LockServiceTest, LosesLockWhenKeyIsTakenOver) {
  const std::string name = Key("lost");
  EventCounter lost;
  std::atomic<int64_t> lost_fence{0};
  Result<LockGuard> g = service_->Acquire(name,
                                          {.lease = 2s,
                                           .on_lost =
                                               [&](std::string_view, int64_t fence) {
                                                 lost_fence = fence;
                                                 lost.Add("lost");
                                               }},
                                          Deadline::After(30s));
  ASSERT_TRUE(g.ok()) << g.status();
  // Another party overwrites the key: the next compare-and-pexpire is refused.
  ASSERT_TRUE(client().Set(name, "someone-else", Deadline::After(10s)).ok());
  ASSERT_TRUE(lost.Await("lost", 1)) << "loss never reported";
  const Status s = g->Check();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.reason(), "lock_lost");
  EXPECT_TRUE(g->lost());
  EXPECT_TRUE(g->deadline().expired());
  EXPECT_EQ(events_.Get("lost"), 1);
  EXPECT_EQ(lost_fence.load(), g->fence()) << "on_lost carries the lost grant's fence";
  // Releasing a lost guard never deletes the new owner's key, and says the lock was lost.
  const Status released = g->Release();
  EXPECT_EQ(released.code(), StatusCode::kFailedPrecondition) << released;
  EXPECT_EQ(released.reason(), "lock_lost") << released;
  EXPECT_TRUE(g->Release().ok()) << "a released guard releases nothing more";
  Result<std::optional<std::string>> value = client().Get(name, Deadline::After(10s));
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->value_or(""), "someone-else");
  EXPECT_EQ(lost.Get("lost"), 1) << "the callback fires once";
}

TEST_F(LockServiceTest, LosesLockWhenKeyIsDeleted) {
  const std::string name = Key("deleted");
  Result<LockGuard> g = service_->Acquire(name, {.lease = 2s}, Deadline::After(30s));
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(client().Del({name}, Deadline::After(10s)).ok());
  ASSERT_TRUE(events_.Await("lost", 1));
  EXPECT_EQ(g->Check().reason(), "lock_lost");
}

TEST_F(LockServiceTest, PausedRenewalReportsLostWhenValidityEnds) {
  const std::string name = Key("paused");
  Result<LockGuard> g = service_->Acquire(name, {.lease = 1s}, Deadline::After(30s));
  ASSERT_TRUE(g.ok()) << g.status();
  LockGuardTestPeer::PauseRenewals(*g);
  ASSERT_TRUE(events_.Await("lost", 1));
  EXPECT_EQ(g->Check().reason(), "lock_lost");
}

TEST_F(LockServiceTest, RejectsBadArguments) {
  EXPECT_EQ(service_->Acquire("", {}, Deadline::After(1s)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->Acquire(Key("x"), {.lease = 1ms}, Deadline::After(1s)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(LockServiceTest, WaitingAcquireTimesOutWithLockBusy) {
  const std::string name = Key("busy");
  Result<LockGuard> holder = service_->Acquire(name, {.lease = 60s}, Deadline::After(30s));
  ASSERT_TRUE(holder.ok());
  Result<LockGuard> late = service_->Acquire(name, {}, Deadline::After(300ms));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(late.status().reason(), "lock_busy");
}

}  // namespace
}  // namespace lockstep::lock
