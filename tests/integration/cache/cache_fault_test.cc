// Redis unreachable or killed mid-run: Gets keep succeeding from the loader, the breaker
// makes a dead Redis cost one fast failure, and L1 is dropped when the bus reconnects.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cache_test_util.h"
#include "lockstep/redis/client.h"
#include "support/test_env.h"

namespace lockstep::cache::testing {
namespace {

using lockstep::testing::RedisTestOptions;
using lockstep::testing::RunStackCommand;
using lockstep::testing::UniqueTestName;

// A port nothing listens on (privileged, never used by the test stack).
constexpr int kClosedPort = 9;

TEST(CacheFaultTest, RedisUnreachableGetsFallBackToTheLoaderWithTheBreakerOpen) {
  redis::RedisOptions ro;
  ro.port = kClosedPort;
  ro.connect_timeout = 200ms;
  auto client = redis::Client::Open(ro);
  ASSERT_TRUE(client.ok()) << client.status();
  CacheOptions o = TestCacheOptions("{t:" + UniqueTestName() + "}:");
  auto cache = OpenCache(**client, o);
  ASSERT_NE(cache, nullptr);
  FakeDb db;
  db.Put("k", "v1");
  constexpr int kGets = 200;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kGets; ++i) {
    auto r = cache->Get("k", db.LoaderFor("k"), Deadline::After(kWaitBound));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(*r->value, "v1");
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(db.loads(), kGets);  // Nothing can be cached; every Get is answered by the loader.
  const CacheStats s = cache->stats();
  EXPECT_EQ(s.breaker.state, resilience::BreakerState::kOpen);
  EXPECT_GE(s.breaker.transitions_to_open, 1u);
  EXPECT_GT(s.breaker.rejected, 0u);
  EXPECT_FALSE(s.bus_healthy);
  const Status inv = cache->Invalidate("k", 2, Deadline::After(kWaitBound));
  EXPECT_EQ(inv.code(), StatusCode::kUnavailable) << inv;
  EXPECT_EQ(cache->stats().invalidation_failures, 1u);
  std::printf("%d Gets with Redis unreachable: %lld us total, breaker rejected %llu\n", kGets,
              static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()),
              static_cast<unsigned long long>(s.breaker.rejected));
}

// Kills the last Redis master of the stack (the lock tests' Redlock tolerates it being
// restarted) and restarts it at the end, whatever happens.
class RedisKilledTest : public ::testing::Test {
 protected:
  static constexpr int kIndex = 4;
  void SetUp() override {
    if (lockstep::testing::TestEnv::FromEnvironment().redis_ports.size() <= kIndex) {
      GTEST_FAIL() << "needs " << kIndex + 1 << " Redis masters (LOCKSTEP_REDIS_COUNT)";
    }
    auto c = redis::Client::Open(RedisTestOptions(kIndex));
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
    ASSERT_TRUE(client_->Ping(Deadline::After(kWaitBound)).ok());
    prefix_ = "{t:" + UniqueTestName() + "}:";
  }
  void TearDown() override {
    if (killed_) {
      EXPECT_EQ(RunStackCommand("start-redis " + std::to_string(kIndex)), 0);
    }
    if (client_ != nullptr) {
      const Deadline d = Deadline::After(kWaitBound);
      while (!client_->Ping(d).ok() && !d.expired()) std::this_thread::sleep_for(20ms);
      (void)client_->Del({prefix_ + "c:k"}, d);
    }
  }
  void Kill() {
    ASSERT_EQ(RunStackCommand("kill-redis " + std::to_string(kIndex)), 0);
    killed_ = true;
  }
  void Start() {
    ASSERT_EQ(RunStackCommand("start-redis " + std::to_string(kIndex)), 0);
    killed_ = false;
  }

  std::unique_ptr<redis::Client> client_;
  std::string prefix_;
  bool killed_ = false;
};

TEST_F(RedisKilledTest, GetsKeepSucceedingAndNothingStaleAfterRedisReturns) {
  CacheOptions o = TestCacheOptions(prefix_);
  auto cache = OpenCache(*client_, o);
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->WaitBusHealthy(Deadline::After(kWaitBound)).ok());
  FakeDb db;
  db.Put("k", "v1");
  auto get = [&] {
    auto r = cache->Get("k", db.LoaderFor("k"), Deadline::After(kWaitBound));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->found() ? *r->value : std::string("<error>");
  };
  EXPECT_EQ(get(), "v1");
  EXPECT_EQ(get(), "v1");
  EXPECT_GE(cache->stats().l1_hits, 1u);

  Kill();
  // The bus notices the dead connection; L1 is not served from then on.
  const Deadline d = Deadline::After(kWaitBound);
  while (cache->bus_healthy() && !d.expired()) std::this_thread::sleep_for(5ms);
  ASSERT_FALSE(cache->bus_healthy());
  db.Put("k", "v2");  // A write while Redis is down; its invalidation cannot be delivered.
  EXPECT_FALSE(cache->Invalidate("k", db.Version("k"), Deadline::After(kWaitBound)).ok());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(get(), "v2");  // From the loader, never the old L1.

  Start();
  ASSERT_TRUE(cache->WaitBusHealthy(Deadline::After(kWaitBound)).ok());
  EXPECT_GE(cache->stats().l1_drops, 1u);
  // Replay of the undelivered invalidation (shopd keeps it durably and replays it; until
  // then it does not read that key through the cache).
  const Deadline replay = Deadline::After(kWaitBound);
  Status delivered = cache->Invalidate("k", db.Version("k"), replay);
  while (!delivered.ok() && !replay.expired()) {
    std::this_thread::sleep_for(50ms);
    delivered = cache->Invalidate("k", db.Version("k"), replay);
  }
  ASSERT_TRUE(delivered.ok()) << delivered;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(get(), "v2");
}

}  // namespace
}  // namespace lockstep::cache::testing
