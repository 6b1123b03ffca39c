// RateLimitGate against the real Redis of the test stack: concurrent checks while the
// limits are re-applied (a TSan target), the bound of admitted requests, X-Client-Id.
#include "api/rate_limit_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "lockstep/base/mutex.h"
#include "support/redis_test.h"

namespace shopd::api {
namespace {

using Clock = std::chrono::steady_clock;

// Collects verdicts from any thread; Await blocks until `n` arrived.
class Verdicts {
 public:
  http::Responder Make() {
    return http::Responder([this](http::Response r) {
      lockstep::MutexLock lock(&mu_);
      ++by_status_[r.status];
      ++count_;
      cv_.SignalAll();
    });
  }
  bool Await(int n) {
    const lockstep::Deadline d = lockstep::Deadline::After(std::chrono::seconds(60));
    lockstep::MutexLock lock(&mu_);
    while (count_ < n) {
      if (!cv_.WaitUntil(&mu_, d) && count_ < n) return false;
    }
    return true;
  }
  int Of(int status) {
    lockstep::MutexLock lock(&mu_);
    return by_status_[status];
  }
  int count() {
    lockstep::MutexLock lock(&mu_);
    return count_;
  }

 private:
  lockstep::Mutex mu_;
  lockstep::CondVar cv_;
  std::map<int, int> by_status_ LOCKSTEP_GUARDED_BY(mu_);
  int count_ LOCKSTEP_GUARDED_BY(mu_) = 0;
};

class RateLimitGateTest : public lockstep::testing::RedisTest {
 protected:
  std::unique_ptr<RateLimitGate> MakeGate() {
    auto gate = RateLimitGate::Create(client(), {.key_prefix = prefix() + "rl:"}, registry_);
    EXPECT_TRUE(gate.ok()) << gate.status();
    return gate.ok() ? std::move(*gate) : nullptr;
  }
  prometheus::Registry registry_;
};

TEST_F(RateLimitGateTest, ConcurrentChecksWhileReapplyingStayWithinTheBound) {
  auto gate = MakeGate();
  ASSERT_NE(gate, nullptr);
  const std::vector<config::RateLimitSpec> group = {{"orders", 50, 10}};
  ASSERT_TRUE(gate->Apply(group, {}).ok());
  Verdicts verdicts;
  std::atomic<bool> stop{false};
  // Re-applies (unchanged group limit, a client limit coming and going) the whole time.
  std::thread reloader([&] {
    bool with_client = false;
    while (!stop.load()) {
      with_client = !with_client;
      std::vector<config::RateLimitSpec> clients;
      if (with_client) clients.push_back({"all", 1e6, 1'000'000});
      EXPECT_TRUE(gate->Apply(group, clients).ok());
    }
  });
  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      http::Headers headers;
      headers.Add("X-Client-Id", "client-" + std::to_string(t));
      for (int i = 0; i < kPerThread; ++i) {
        gate->Check({"orders", headers, lockstep::Deadline::After(std::chrono::seconds(30))}, verdicts.Make());
      }
    });
  }
  for (std::thread& t : callers) t.join();
  ASSERT_TRUE(verdicts.Await(kThreads * kPerThread)) << verdicts.count() << " verdicts";
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stop.store(true);
  reloader.join();
  const int passed = verdicts.Of(100);
  const int limited = verdicts.Of(429);
  EXPECT_EQ(passed + limited, kThreads * kPerThread) << "every check answered once, 429 or pass";
  EXPECT_GE(passed, 10);  // The burst at least.
  EXPECT_LE(passed, 50 * seconds + 10) << "over " << seconds << " s";
}

TEST_F(RateLimitGateTest, ClientIdsAreCheckedAndTheRefusalNamesTheLimit) {
  auto gate = MakeGate();
  ASSERT_NE(gate, nullptr);
  ASSERT_TRUE(gate->Apply({}, {{"transfers", 0.1, 1}}).ok());
  EXPECT_EQ(gate->Describe(), "client:transfers=0.1:1");
  Verdicts verdicts;
  http::Headers bad;
  bad.Add("X-Client-Id", std::string(65, 'x'));
  gate->Check({"transfers", bad, lockstep::Deadline::After(std::chrono::seconds(30))}, verdicts.Make());
  EXPECT_EQ(verdicts.Of(400), 1);  // At once, without Redis.
  http::Headers alice;
  alice.Add("X-Client-Id", "alice");
  for (int i = 0; i < 2; ++i) {
    gate->Check({"transfers", alice, lockstep::Deadline::After(std::chrono::seconds(30))}, verdicts.Make());
  }
  ASSERT_TRUE(verdicts.Await(3));
  EXPECT_EQ(verdicts.Of(100), 1);
  EXPECT_EQ(verdicts.Of(429), 1);
  // Other groups are not limited; a bad config is refused whole.
  gate->Check({"orders", alice, lockstep::Deadline::After(std::chrono::seconds(30))}, verdicts.Make());
  ASSERT_TRUE(verdicts.Await(4));
  EXPECT_EQ(verdicts.Of(100), 2);
  EXPECT_FALSE(gate->Apply({{"orders", 0, 1}}, {}).ok());
  EXPECT_EQ(gate->Describe(), "client:transfers=0.1:1");
}

}  // namespace
}  // namespace shopd::api
