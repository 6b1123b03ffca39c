// PoolOptions::breaker against the real MariaDB behind the fault proxy: a sick server opens
// the breaker, open calls fail at once without touching the network, half-open lets a
// bounded number of probes through, recovery closes it; server answers never open it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "support/breaker_testing.h"
#include "support/fault_proxy.h"
#include "support/mariadb_test.h"

namespace lockstep::sql {
namespace {

using namespace std::chrono_literals;
using testing::Direction;
using testing::Fault;
using testing::FaultProxy;
using testing::kFarFromTheDeadline;
using testing::kLongDeadline;
using testing::Ms;
using SteadyClock = std::chrono::steady_clock;

class PoolBreakerTest : public testing::MariaDbTest {
 protected:
  void SetUp() override {
    MariaDbTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExecAdmin("CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB").ok());
    auto proxy = FaultProxy::Start({.upstream_port = options().port});
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(proxy).value();
  }
  void TearDown() override {
    through_proxy_.reset();
    proxy_.reset();
    MariaDbTest::TearDown();
  }

  // Opens through_proxy() on the test database through the proxy with `breaker`; the
  // observer counts transitions into transitions_.
  void OpenThroughProxy(const CircuitBreakerOptions& breaker) {
    ConnectionOptions connection = options();
    connection.port = proxy_->port();
    connection.connect_timeout = 1s;
    connection.read_timeout = 2s;  // Backstop of a handshake the stalled proxy never answers.
    PoolOptions pool_options = DefaultPoolOptions();
    pool_options.max_connections = 16;
    pool_options.breaker = breaker;
    pool_options.observer.on_breaker_state = transitions_.Observer();
    auto pool = Pool::Open(connection, pool_options);
    ASSERT_TRUE(pool.ok()) << pool.status();
    through_proxy_ = std::move(pool).value();
  }
  Pool& through_proxy() { return *through_proxy_; }
  CircuitBreakerStats breaker() const { return through_proxy_->stats().breaker.value(); }

  // One autocommit query through the proxy pool.
  Status Select(Deadline deadline) {
    Result<PooledConnection> lease = through_proxy_->Acquire(deadline);
    if (!lease.ok()) return lease.status();
    return lease->Query("SELECT COUNT(*) FROM kv", deadline).status();
  }

  // Stalls the server and fails calls until the breaker opens (each waits for its short
  // deadline, so the failures are deadline cuts and connect timeouts, as a sick server
  // gives). Returns how many calls it took.
  int StallUntilOpen(int max_calls) {
    proxy_->SetFault(Fault::Stall());
    for (int i = 1; i <= max_calls; ++i) {
      const Status s = Select(Deadline::After(300ms));
      EXPECT_FALSE(s.ok());
      EXPECT_FALSE(CircuitBreaker::IsRejection(s)) << "refused before it opened: " << s;
      if (breaker().state == BreakerState::kOpen) return i;
    }
    ADD_FAILURE() << "the breaker did not open after " << max_calls << " failed calls";
    return -1;
  }

  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<Pool> through_proxy_;
  testing::TransitionCounts transitions_;
};

TEST_F(PoolBreakerTest, StalledServerOpensTheBreakerAndOpenCallsFailAtOnceWithoutTheNetwork) {
  OpenThroughProxy(testing::TestBreaker(60s));  // Stays open for the whole test.
  ASSERT_TRUE(Select(Deadline::After(kLongDeadline)).ok());
  // A lease taken while the server was healthy.
  Result<PooledConnection> held = through_proxy().Acquire(Deadline::After(kLongDeadline));
  ASSERT_TRUE(held.ok()) << held.status();

  ASSERT_GT(StallUntilOpen(20), 0);
  EXPECT_EQ(transitions_.opened.load(), 1);
  EXPECT_EQ(through_proxy().stats().breaker->transitions_to_open, 1u);

  // The server is healthy again, but the breaker is open: nothing may reach it.
  proxy_->SetFault(Fault::None());
  const uint64_t accepted = proxy_->accepted();
  const uint64_t sent = proxy_->bytes_read(Direction::kClientToServer);

  const Deadline deadline = Deadline::After(kLongDeadline);
  const auto start = SteadyClock::now();
  Result<PooledConnection> lease = through_proxy().Acquire(deadline);
  const auto acquire_took = SteadyClock::now() - start;
  EXPECT_TRUE(CircuitBreaker::IsRejection(lease.status())) << lease.status();
  EXPECT_NE(lease.status().message().find("mariadb"), std::string_view::npos) << lease.status();
  EXPECT_GT(deadline.remaining(), kFarFromTheDeadline);

  Result<Rows> on_held = held->Query("SELECT 1", deadline);
  EXPECT_TRUE(CircuitBreaker::IsRejection(on_held.status())) << on_held.status();
  EXPECT_FALSE(held->broken()) << "a refused statement sent nothing: the connection is intact";

  Result<Transaction> tx = through_proxy().Begin({}, deadline);
  EXPECT_TRUE(CircuitBreaker::IsRejection(tx.status())) << tx.status();

  RunStats stats;
  const Status unit = RunInTransaction(through_proxy(), {}, deadline, [](Transaction&) { return Status::Ok(); },
                                       &stats);
  EXPECT_TRUE(CircuitBreaker::IsRejection(unit)) << unit;
  EXPECT_EQ(stats.attempts, 1) << "a refusal is not rerun until the deadline";
  const Status with_retries = RunWithRetries(through_proxy(), {}, deadline, [](PooledConnection&) { return Status::Ok(); });
  EXPECT_TRUE(CircuitBreaker::IsRejection(with_retries)) << with_retries;

  EXPECT_GT(deadline.remaining(), kFarFromTheDeadline);
  EXPECT_EQ(proxy_->accepted(), accepted) << "no connection was attempted while open";
  EXPECT_EQ(proxy_->bytes_read(Direction::kClientToServer), sent) << "no byte was sent while open";
  EXPECT_GE(breaker().rejected, 5u);
  std::cerr << "open breaker: Acquire refused after " << Ms(acquire_took) << " ms with "
            << std::chrono::duration<double>(deadline.remaining()).count() << " s of the deadline left\n";
}

TEST_F(PoolBreakerTest, HalfOpenLetsOneProbeThroughAndRecoveryClosesIt) {
  // open_duration 3 s > the probe's 1 s deadline: every probe fails (and reopens) before
  // another could be let through, so exactly one call per half-open period reaches the server.
  OpenThroughProxy(testing::TestBreaker(3s));
  ASSERT_TRUE(Select(Deadline::After(kLongDeadline)).ok());
  ASSERT_GT(StallUntilOpen(20), 0);

  const Deadline wait = Deadline::After(60s);
  while (breaker().state != BreakerState::kHalfOpen && !wait.expired()) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(breaker().state, BreakerState::kHalfOpen);

  // Eight callers at once against the still stalled server.
  const uint64_t accepted = proxy_->accepted();
  constexpr int kCallers = 8;
  std::vector<Status> results(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([this, &results, i] { results[i] = Select(Deadline::After(1s)); });
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
  EXPECT_EQ(proxy_->accepted(), accepted + 1) << "only the probe connected";
  EXPECT_EQ(breaker().state, BreakerState::kOpen) << "the failed probe reopened it";
  EXPECT_EQ(breaker().transitions_to_open, 2u);

  // Recovery: the next probe after open_duration succeeds and closes the breaker.
  proxy_->SetFault(Fault::None());
  const auto healed = SteadyClock::now();
  const Deadline await = Deadline::After(60s);
  Status s;
  do {
    s = Select(Deadline::After(kLongDeadline));
    if (!s.ok()) std::this_thread::sleep_for(20ms);
  } while (!s.ok() && !await.expired());
  ASSERT_TRUE(s.ok()) << s;
  std::cerr << "first successful call " << Ms(SteadyClock::now() - healed)
            << " ms after the server healed (open_duration 3000 ms)\n";
  EXPECT_EQ(breaker().state, BreakerState::kClosed);
  EXPECT_EQ(transitions_.closed.load(), 1);
  EXPECT_EQ(transitions_.half_opened.load(), 2);
  EXPECT_EQ(transitions_.opened.load(), 2);
  EXPECT_TRUE(Select(Deadline::After(kLongDeadline)).ok());
}

TEST_F(PoolBreakerTest, ServerAnswersNeverCountAsFailures) {
  OpenThroughProxy(testing::TestBreaker(60s));
  ASSERT_TRUE(ExecAdmin("INSERT INTO kv (k, v) VALUES ('taken', 1)").ok());
  for (int i = 0; i < 5; ++i) {
    Result<PooledConnection> lease = through_proxy().Acquire(Deadline::After(kLongDeadline));
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_EQ(lease->Execute("INSERT INTO kv (k, v) VALUES ('taken', 2)").status().code(),
              StatusCode::kAlreadyExists);
    EXPECT_EQ(lease->Query("SELECT no_such_column FROM kv").status().code(), StatusCode::kInvalidArgument);
  }
  // A lock wait timeout (1205): another transaction holds the row.
  Result<Transaction> holder = pool().Begin({}, Deadline::After(kLongDeadline));
  ASSERT_TRUE(holder.ok()) << holder.status();
  ASSERT_TRUE(holder->Execute("UPDATE kv SET v = v + 1 WHERE k = 'taken'").ok());
  {
    Result<Transaction> waiter = through_proxy().Begin({}, Deadline::After(kLongDeadline));
    ASSERT_TRUE(waiter.ok()) << waiter.status();
    ASSERT_TRUE(waiter->Execute("SET SESSION innodb_lock_wait_timeout = 1").ok());
    const Result<ExecResult> blocked = waiter->Execute("UPDATE kv SET v = v + 1 WHERE k = 'taken'");
    EXPECT_EQ(blocked.status().driver_error(), 1205) << blocked.status();
  }
  ASSERT_TRUE(holder->Rollback().ok());

  const CircuitBreakerStats stats = breaker();
  EXPECT_EQ(stats.state, BreakerState::kClosed);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_GE(stats.successes, 15u);
  EXPECT_EQ(transitions_.opened.load(), 0);
}

}  // namespace
}  // namespace lockstep::sql
