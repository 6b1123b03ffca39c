// Faults: deadlines mid-transaction, killed connections, a stopped (SIGSTOP) server.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <iostream>

#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "support/mariadb_test.h"
#include "support/process_pause.h"
#include "support/test_env.h"

namespace lockstep::sql {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class FaultTest : public testing::MariaDbTest {
 protected:
  void SetUp() override {
    MariaDbTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExecAdmin("CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB").ok());
  }
  int64_t Count() {
    auto lease = pool().Acquire(Deadline::After(seconds(30)));
    EXPECT_TRUE(lease.ok()) << lease.status();
    auto rows = lease->Query("SELECT COUNT(*) FROM kv");
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *(*rows)[0].GetInt64(0) : -1;
  }
  static int64_t ConnectionId(Transaction& tx) {
    auto rows = tx.Query("SELECT CONNECTION_ID()");
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *(*rows)[0].GetInt64(0) : -1;
  }
};

TEST_F(FaultTest, DeadlineMidTransactionLeavesNoPartialEffect) {
  const auto start = std::chrono::steady_clock::now();
  RunStats stats;
  const Status s = RunInTransaction(pool(), {}, Deadline::After(milliseconds(1500)), [](Transaction& tx) -> Status {
    LOCKSTEP_RETURN_IF_ERROR(tx.Execute("INSERT INTO kv (k, v) VALUES ('partial', 1)").status());
    // Outlives the deadline: the server's max_statement_time or our watchdog stops it.
    LOCKSTEP_RETURN_IF_ERROR(tx.Query("SELECT SLEEP(20)").status());
    return tx.Execute("INSERT INTO kv (k, v) VALUES ('second', 1)").status();
  }, &stats);
  std::cerr << "returned after " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << "s: " << s << "\n";
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s;
  EXPECT_EQ(stats.attempts, 1);  // Deadline errors are not rerun.
  EXPECT_EQ(Count(), 0);
}

TEST_F(FaultTest, KilledConnectionIsDiscardedAndPoolRecovers) {
  const uint64_t discarded_before = pool().stats().discarded;
  {
    auto tx = pool().Begin({}, Deadline::After(seconds(30)));
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('lost', 1)").ok());
    const int64_t id = ConnectionId(*tx);
    ASSERT_TRUE(ExecAdmin("KILL CONNECTION " + std::to_string(id)).ok());
    auto next = tx->Execute("INSERT INTO kv (k, v) VALUES ('after_kill', 1)");
    EXPECT_EQ(next.status().code(), StatusCode::kUnavailable) << next.status();
    // Poisoned: Commit refuses and reports the loss.
    EXPECT_EQ(tx->Commit().code(), StatusCode::kUnavailable);
  }
  EXPECT_EQ(pool().stats().discarded, discarded_before + 1);
  EXPECT_EQ(pool().stats().in_use, 0);
  // The next call works on a fresh connection.
  auto tx = pool().Begin({}, Deadline::After(seconds(30)));
  ASSERT_TRUE(tx.ok()) << tx.status();
  ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('ok', 1)").ok());
  ASSERT_TRUE(tx->Commit().ok());
  EXPECT_EQ(Count(), 1);
}

TEST_F(FaultTest, RunnerRerunsAfterConnectionLossBeforeCommit) {
  int runs = 0;
  RunStats stats;
  const Status s = RunInTransaction(pool(), {}, Deadline::After(seconds(30)), [&](Transaction& tx) -> Status {
    ++runs;
    LOCKSTEP_RETURN_IF_ERROR(tx.Execute("INSERT INTO kv (k, v) VALUES ('once', 1)").status());
    if (runs == 1) {
      const Status killed = ExecAdmin("KILL CONNECTION " + std::to_string(ConnectionId(tx)));
      if (!killed.ok()) return killed;
    }
    return tx.Execute("UPDATE kv SET v = v + 1 WHERE k = 'once'").status();
  }, &stats);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(stats.retries, 1);
  EXPECT_EQ(Count(), 1);
}

class IdleKillTest : public FaultTest {
 protected:
  PoolOptions DefaultPoolOptions() const override {
    PoolOptions p = FaultTest::DefaultPoolOptions();
    p.max_connections = 1;
    p.ping_after_idle = milliseconds(0);  // Ping on every checkout.
    return p;
  }
};

TEST_F(IdleKillTest, HealthCheckOnCheckoutDiscardsAKilledIdleConnection) {
  int64_t id = -1;
  {
    auto lease = pool().Acquire(Deadline::After(seconds(30)));
    ASSERT_TRUE(lease.ok());
    auto rows = lease->Query("SELECT CONNECTION_ID()");
    ASSERT_TRUE(rows.ok());
    id = *(*rows)[0].GetInt64(0);
  }
  ASSERT_TRUE(ExecAdmin("KILL CONNECTION " + std::to_string(id)).ok());
  auto lease = pool().Acquire(Deadline::After(seconds(30)));
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto rows = lease->Query("SELECT CONNECTION_ID()");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_NE(*(*rows)[0].GetInt64(0), id);
  EXPECT_EQ(pool().stats().discarded, 1u);
}

// Sends SIGCONT to `pid` when destroyed, whatever happened in between.
class ContinueGuard {
 public:
  explicit ContinueGuard(pid_t pid) : pid_(pid) {}
  ~ContinueGuard() { ::kill(pid_, SIGCONT); }

 private:
  pid_t pid_;
};

pid_t PrimaryPid() {
  const testing::TestEnv env = testing::TestEnv::FromEnvironment();
  std::ifstream in(env.stack_dir + "/mariadb-primary/mariadbd.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

class StoppedServerTest : public FaultTest {
 protected:
  PoolOptions DefaultPoolOptions() const override {
    PoolOptions p = FaultTest::DefaultPoolOptions();
    p.ping_after_idle = seconds(3600);  // Use the pooled connection without a ping.
    return p;
  }
};

TEST_F(StoppedServerTest, StalledServerDoesNotHangACallPastItsDeadline) {
  const pid_t pid = PrimaryPid();
  ASSERT_GT(pid, 0) << "no pid file under LOCKSTEP_STACK_DIR";
  auto tx = pool().Begin({}, Deadline::After(seconds(30)));
  ASSERT_TRUE(tx.ok());
  ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('stalled', 1)").ok());
  auto lease = pool().Acquire(Deadline::After(seconds(30)));
  ASSERT_TRUE(lease.ok());
  const uint64_t fired_before = pool().stats().watchdog_fired;
  Status in_tx;
  Status autocommit;
  double tx_seconds = 0;
  double lease_seconds = 0;
  {
    ContinueGuard resume(pid);
    ASSERT_TRUE(lockstep::testing::StopProcessAndAwait(pid)) << "mariadbd did not stop";
    auto start = std::chrono::steady_clock::now();
    in_tx = tx->Execute("INSERT INTO kv (k, v) VALUES ('stalled2', 1)", Deadline::After(milliseconds(700))).status();
    tx_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    autocommit = lease->Query("SELECT 1", Deadline::After(milliseconds(300))).status();
    lease_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::cerr << "in tx: " << tx_seconds << "s " << in_tx << "\nautocommit: " << lease_seconds << "s " << autocommit
            << "\n";
  EXPECT_TRUE(in_tx.code() == StatusCode::kDeadlineExceeded || in_tx.code() == StatusCode::kUnavailable) << in_tx;
  EXPECT_TRUE(autocommit.code() == StatusCode::kDeadlineExceeded || autocommit.code() == StatusCode::kUnavailable)
      << autocommit;
  EXPECT_LT(tx_seconds, 0.7 + 5);
  EXPECT_LT(lease_seconds, 0.3 + 5);
  EXPECT_GE(pool().stats().watchdog_fired, fired_before + 2);
  EXPECT_EQ(tx->Commit().code(), StatusCode::kDeadlineExceeded);  // Poisoned; nothing committed.
  lease = Result<PooledConnection>(PooledConnection());
  // The server is running again: the pool recovers with fresh connections.
  const Status after = RunInTransaction(pool(), {}, Deadline::After(seconds(30)), [](Transaction& t) -> Status {
    return t.Execute("INSERT INTO kv (k, v) VALUES ('resumed', 1)").status();
  });
  ASSERT_TRUE(after.ok()) << after;
  EXPECT_EQ(Count(), 1);
}

}  // namespace
}  // namespace lockstep::sql
