// RedisOptions::breaker against the real Redis behind the fault proxy: a sick server opens
// the breaker, open calls fail at once without touching the network, half-open lets a
// bounded number of probes through, recovery closes it; error replies never open it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "lockstep/redis/client.h"
#include "support/breaker_testing.h"
#include "support/fault_proxy.h"
#include "support/redis_test.h"

namespace lockstep::redis {
namespace {

using namespace std::chrono_literals;
using testing::Direction;
using testing::Fault;
using testing::FaultProxy;
using testing::kFarFromTheDeadline;
using testing::kLongDeadline;
using testing::Ms;
using SteadyClock = std::chrono::steady_clock;

class ClientBreakerTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    auto proxy = FaultProxy::Start({.upstream_port = options().port});
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(proxy).value();
  }
  void TearDown() override {
    through_proxy_.reset();
    proxy_.reset();
    RedisTest::TearDown();
  }

  // Opens through_proxy() through the proxy with `breaker`; the observer counts transitions.
  void OpenThroughProxy(const CircuitBreakerOptions& breaker) {
    RedisOptions o = options();
    o.port = proxy_->port();
    o.pool_size = 16;
    o.breaker = breaker;
    o.observer.on_breaker_state = transitions_.Observer();
    auto client = Client::Open(o);
    ASSERT_TRUE(client.ok()) << client.status();
    through_proxy_ = std::move(client).value();
  }
  Client& through_proxy() { return *through_proxy_; }
  CircuitBreakerStats breaker() const { return through_proxy_->stats().breaker.value(); }

  // Stalls the server and fails GETs (short deadline) until the breaker opens. Returns how
  // many calls it took.
  int StallUntilOpen(int max_calls) {
    proxy_->SetFault(Fault::Stall());
    for (int i = 1; i <= max_calls; ++i) {
      const auto r = through_proxy_->Get(Key("k"), Deadline::After(300ms));
      EXPECT_FALSE(r.ok());
      EXPECT_FALSE(CircuitBreaker::IsRejection(r.status())) << "refused before it opened: " << r.status();
      if (breaker().state == BreakerState::kOpen) return i;
    }
    ADD_FAILURE() << "the breaker did not open after " << max_calls << " failed calls";
    return -1;
  }

  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<Client> through_proxy_;
  testing::TransitionCounts transitions_;
};

TEST_F(ClientBreakerTest, StalledServerOpensTheBreakerAndOpenCallsFailAtOnceWithoutTheNetwork) {
  OpenThroughProxy(testing::TestBreaker(60s));  // Stays open for the whole test.
  ASSERT_TRUE(through_proxy().Set(Key("k"), "v", Deadline::After(kLongDeadline)).ok());
  ASSERT_GT(StallUntilOpen(20), 0);
  EXPECT_EQ(transitions_.opened.load(), 1);

  // The server is healthy again, but the breaker is open: nothing may reach it.
  proxy_->SetFault(Fault::None());
  const uint64_t accepted = proxy_->accepted();
  const uint64_t sent = proxy_->bytes_read(Direction::kClientToServer);
  const Deadline deadline = Deadline::After(kLongDeadline);
  const auto start = SteadyClock::now();
  const auto get = through_proxy().Get(Key("k"), deadline);
  const auto get_took = SteadyClock::now() - start;
  EXPECT_TRUE(CircuitBreaker::IsRejection(get.status())) << get.status();
  EXPECT_NE(get.status().message().find("redis"), std::string_view::npos) << get.status();
  const auto pipeline = through_proxy().Pipeline({{"GET", Key("k")}, {"PING"}}, deadline);
  EXPECT_TRUE(CircuitBreaker::IsRejection(pipeline.status())) << pipeline.status();
  EXPECT_TRUE(CircuitBreaker::IsRejection(through_proxy().Ping(deadline)));
  EXPECT_GT(deadline.remaining(), kFarFromTheDeadline);
  EXPECT_EQ(proxy_->accepted(), accepted) << "no connection was attempted while open";
  EXPECT_EQ(proxy_->bytes_read(Direction::kClientToServer), sent) << "no byte was sent while open";
  EXPECT_EQ(breaker().rejected, 3u);
  std::cerr << "open breaker: GET refused after " << Ms(get_took) << " ms with "
            << std::chrono::duration<double>(deadline.remaining()).count() << " s of the deadline left\n";
}

TEST_F(ClientBreakerTest, HalfOpenLetsOneProbeThroughAndRecoveryClosesIt) {
  // open_duration 3 s > the probe's 1 s deadline: the probe fails (and reopens) before
  // another could be let through.
  OpenThroughProxy(testing::TestBreaker(3s));
  ASSERT_TRUE(through_proxy().Set(Key("k"), "v", Deadline::After(kLongDeadline)).ok());
  ASSERT_GT(StallUntilOpen(20), 0);
  const Deadline wait = Deadline::After(60s);
  while (breaker().state != BreakerState::kHalfOpen && !wait.expired()) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(breaker().state, BreakerState::kHalfOpen);

  const uint64_t sent = proxy_->bytes_read(Direction::kClientToServer);
  constexpr int kCallers = 8;
  std::vector<Status> results(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([this, &results, i] {
      auto r = through_proxy_->Get(Key("k"), Deadline::After(1s));
      results[i] = r.ok() ? Status::Ok() : r.status();
    });
  }
  for (std::thread& t : callers) t.join();
  int refused = 0;
  for (const Status& s : results) {
    if (CircuitBreaker::IsRejection(s)) {
      ++refused;
    } else {
      EXPECT_FALSE(s.ok()) << "the server is stalled";
    }
  }
  EXPECT_EQ(refused, kCallers - 1) << "half_open_probes = 1";
  // A stalled direction reads nothing: the probe's bytes wait in the kernel, so nothing was
  // read at all; what the refused callers did not send is proven by the open-state test.
  EXPECT_EQ(proxy_->bytes_read(Direction::kClientToServer), sent);
  EXPECT_EQ(breaker().state, BreakerState::kOpen) << "the failed probe reopened it";
  EXPECT_EQ(breaker().transitions_to_open, 2u);

  proxy_->SetFault(Fault::None());
  const auto healed = SteadyClock::now();
  const Deadline await = Deadline::After(60s);
  Result<std::optional<std::string>> got = Status::Unavailable("not tried");
  do {
    got = through_proxy().Get(Key("k"), Deadline::After(kLongDeadline));
    if (!got.ok()) std::this_thread::sleep_for(20ms);
  } while (!got.ok() && !await.expired());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value_or(""), "v");
  std::cerr << "first successful call " << Ms(SteadyClock::now() - healed)
            << " ms after the server healed (open_duration 3000 ms)\n";
  EXPECT_EQ(breaker().state, BreakerState::kClosed);
  EXPECT_EQ(transitions_.closed.load(), 1);
  EXPECT_EQ(transitions_.half_opened.load(), 2);
  EXPECT_EQ(transitions_.opened.load(), 2);
}

TEST_F(ClientBreakerTest, ErrorRepliesNeverCountAsFailures) {
  OpenThroughProxy(testing::TestBreaker(60s));
  ASSERT_TRUE(through_proxy().Command({"RPUSH", Key("list"), "x"}, Deadline::After(kLongDeadline)).ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(through_proxy().Get(Key("list"), Deadline::After(kLongDeadline)).status().code(),
              StatusCode::kFailedPrecondition);  // WRONGTYPE.
    EXPECT_FALSE(through_proxy().Command({"NOSUCHCOMMAND"}, Deadline::After(kLongDeadline)).ok());
    auto slots = through_proxy().Pipeline({{"GET", Key("list")}, {"PING"}}, Deadline::After(kLongDeadline));
    ASSERT_TRUE(slots.ok()) << slots.status();
    EXPECT_FALSE((*slots)[0].ok());
  }
  const CircuitBreakerStats stats = breaker();
  EXPECT_EQ(stats.state, BreakerState::kClosed);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_GE(stats.successes, 15u);
  EXPECT_EQ(transitions_.opened.load(), 0);
}

}  // namespace
}  // namespace lockstep::redis
