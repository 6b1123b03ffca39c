// Deadlock retry, pool bounds and invariants under real threads (labelled tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>

#include "lockstep/base/mutex.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "support/mariadb_test.h"

namespace lockstep::sql {
namespace {

using std::chrono::seconds;

class ConcurrencyTest : public testing::MariaDbTest {
 protected:
  void SetUp() override {
    MariaDbTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExecAdmin("CREATE TABLE acc (id BIGINT PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB").ok());
    ASSERT_TRUE(ExecAdmin("INSERT INTO acc VALUES (1, 0), (2, 0)").ok());
  }
  int64_t Value(int id) {
    auto lease = pool().Acquire(Deadline::After(seconds(30)));
    EXPECT_TRUE(lease.ok());
    auto rows = lease->Query("SELECT v FROM acc WHERE id = ?", id);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return *(*rows)[0].GetInt64(0);
  }
};

TEST_F(ConcurrencyTest, OppositeLockOrderDeadlocksAndBothFinishThroughRetries) {
  // Each unit locks its first row, waits until the other has locked its first row (only on
  // the first attempt), then locks the other row: a guaranteed lock cycle. InnoDB kills
  // one (1213); the runner reruns it after the survivor commits.
  std::latch both_hold_first_lock(2);
  RunStats stats[2];
  Status results[2];
  auto worker = [&](int index, int first, int second) {
    int attempt = 0;
    RunOptions options;
    options.max_attempts = 20;
    results[index] = RunInTransaction(pool(), options, Deadline::After(seconds(60)), [&](Transaction& tx) -> Status {
      ++attempt;
      LOCKSTEP_RETURN_IF_ERROR(tx.Execute("UPDATE acc SET v = v + 1 WHERE id = ?", first).status());
      if (attempt == 1) both_hold_first_lock.arrive_and_wait();
      return tx.Execute("UPDATE acc SET v = v + 1 WHERE id = ?", second).status();
    }, &stats[index]);
  };
  std::thread a(worker, 0, 1, 2);
  std::thread b(worker, 1, 2, 1);
  a.join();
  b.join();
  ASSERT_TRUE(results[0].ok()) << results[0];
  ASSERT_TRUE(results[1].ok()) << results[1];
  const int deadlocks = stats[0].deadlocks + stats[1].deadlocks;
  std::cerr << "attempts " << stats[0].attempts << "+" << stats[1].attempts << ", deadlocks " << deadlocks << "\n";
  EXPECT_GE(deadlocks, 1);  // The deadlock really happened and was retried.
  EXPECT_GE(stats[0].attempts + stats[1].attempts, 3);
  // Each unit applied exactly once: no partial effect from the aborted attempt.
  EXPECT_EQ(Value(1), 2);
  EXPECT_EQ(Value(2), 2);
}

TEST_F(ConcurrencyTest, TransfersConserveTheTotal) {
  ASSERT_TRUE(ExecAdmin("UPDATE acc SET v = 1000").ok());
  constexpr int kThreads = 4;
  constexpr int kTransfers = 15;
  std::atomic<int> failures{0};  // Atomic: only counted, read after join.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTransfers; ++i) {
        const int from = (t + i) % 2 + 1;
        const int to = 3 - from;
        const Status s = RunInTransaction(pool(), {}, Deadline::After(seconds(60)), [&](Transaction& tx) -> Status {
          LOCKSTEP_RETURN_IF_ERROR(tx.Execute("UPDATE acc SET v = v - 1 WHERE id = ?", from).status());
          return tx.Execute("UPDATE acc SET v = v + 1 WHERE id = ?", to).status();
        });
        if (!s.ok()) {
          std::cerr << s << "\n";
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Value(1) + Value(2), 2000);
  const PoolStats stats = pool().stats();
  EXPECT_LE(stats.open, pool().options().max_connections);
  EXPECT_EQ(stats.in_use, 0);
}

class PoolLimitTest : public testing::MariaDbTest {
 protected:
  PoolOptions DefaultPoolOptions() const override {
    PoolOptions p;
    p.max_connections = 2;
    p.acquire_timeout = std::chrono::milliseconds(100);
    return p;
  }
};

TEST_F(PoolLimitTest, AcquireTimesOutWithAClearStatusWhenAllConnectionsAreHeld) {
  auto a = pool().Acquire(Deadline::After(seconds(30)));
  auto b = pool().Acquire(Deadline::After(seconds(30)));
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = pool().Acquire(Deadline::After(seconds(30)));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("exhausted"), std::string_view::npos) << c.status();
  auto d = pool().Acquire(Deadline::After(std::chrono::milliseconds(10)));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kDeadlineExceeded) << d.status();
  auto tx = pool().Begin({}, Deadline::After(seconds(30)));
  EXPECT_EQ(tx.status().code(), StatusCode::kUnavailable);
  const PoolStats stats = pool().stats();
  EXPECT_EQ(stats.open, 2);
  EXPECT_EQ(stats.in_use, 2);
  EXPECT_GE(stats.waits, 3u);
}

class PoolHandoffTest : public testing::MariaDbTest {
 protected:
  PoolOptions DefaultPoolOptions() const override {
    PoolOptions p;
    p.max_connections = 1;
    p.acquire_timeout = std::chrono::seconds(60);
    std::atomic<int>* waits = &observed_waits_;
    p.observer.on_acquire_wait = [waits](std::chrono::steady_clock::duration) { waits->fetch_add(1); };
    return p;
  }
  mutable std::atomic<int> observed_waits_{0};  // Atomic: written by the observer on any thread.
};

TEST_F(PoolHandoffTest, WaiterGetsTheReturnedConnection) {
  auto held = pool().Acquire(Deadline::After(seconds(30)));
  ASSERT_TRUE(held.ok());
  Result<PooledConnection> got = Status::Unknown("not run");
  std::thread waiter([&] { got = pool().Acquire(Deadline::After(seconds(60))); });
  // Await the waiter actually waiting (no sleeps as synchronisation).
  const Deadline until = Deadline::After(seconds(30));
  while (pool().stats().waits == 0 && !until.expired()) std::this_thread::yield();
  ASSERT_EQ(pool().stats().waits, 1u);
  *held = PooledConnection();  // Return it.
  waiter.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->Query("SELECT 1").ok());
  EXPECT_EQ(observed_waits_.load(), 1);
}

}  // namespace
}  // namespace lockstep::sql
