// Transactions, savepoints, RunInTransaction and isolation levels against a real MariaDB.
#include <gtest/gtest.h>

#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "lockstep/sql/transaction.h"
#include "support/mariadb_test.h"

namespace lockstep::sql {
namespace {

using std::chrono::seconds;

class TransactionTest : public testing::MariaDbTest {
 protected:
  void SetUp() override {
    MariaDbTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExecAdmin("CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB").ok());
  }
  Deadline Soon() const { return Deadline::After(seconds(30)); }
  int64_t Count(std::string_view where_k = "") {
    auto lease = pool().Acquire(Soon());
    EXPECT_TRUE(lease.ok()) << lease.status();
    if (!lease.ok()) return -1;
    auto rows = where_k.empty() ? lease->Query("SELECT COUNT(*) FROM kv")
                                : lease->Query("SELECT COUNT(*) FROM kv WHERE k = ?", where_k);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *(*rows)[0].GetInt64(0) : -1;
  }
};

TEST_F(TransactionTest, CommitPersists) {
  auto tx = pool().Begin({}, Soon());
  ASSERT_TRUE(tx.ok()) << tx.status();
  auto r = tx->Execute("INSERT INTO kv (k, v) VALUES (?, ?)", "a", 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->affected_rows, 1u);
  ASSERT_TRUE(tx->Commit().ok());
  EXPECT_TRUE(tx->committed());
  EXPECT_FALSE(tx->active());
  EXPECT_EQ(tx->Commit().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(tx->Execute("SELECT 1").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count("a"), 1);
}

TEST_F(TransactionTest, RollsBackWhenDestroyedUncommitted) {
  {
    auto tx = pool().Begin({}, Soon());
    ASSERT_TRUE(tx.ok()) << tx.status();
    ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES (?, ?)", "a", 1).ok());
  }
  EXPECT_EQ(Count(), 0);
  const PoolStats stats = pool().stats();
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.discarded, 0u);  // A clean rollback keeps the connection.
}

TEST_F(TransactionTest, ExplicitRollbackAndMoveAssignment) {
  auto tx = pool().Begin({}, Soon());
  ASSERT_TRUE(tx.ok());
  ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('a', 1)").ok());
  ASSERT_TRUE(tx->Rollback().ok());
  EXPECT_EQ(tx->Rollback().code(), StatusCode::kFailedPrecondition);
  auto tx2 = pool().Begin({}, Soon());
  ASSERT_TRUE(tx2.ok());
  ASSERT_TRUE(tx2->Execute("INSERT INTO kv (k, v) VALUES ('b', 1)").ok());
  Transaction moved = std::move(*tx2);
  ASSERT_TRUE(moved.Commit().ok());
  EXPECT_EQ(Count(), 1);
}

TEST_F(TransactionTest, RunInTransactionCommitsWhenBodyReturnsOk) {
  RunStats stats;
  const Status s = RunInTransaction(pool(), {}, Soon(), [](Transaction& tx) -> Status {
    return tx.Execute("INSERT INTO kv (k, v) VALUES (?, ?)", "a", 1).status();
  }, &stats);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(stats.attempts, 1);
  EXPECT_EQ(Count("a"), 1);
}

TEST_F(TransactionTest, EarlyReturnFromBodyRollsBack) {
  int runs = 0;
  const Status s = RunInTransaction(pool(), {}, Soon(), [&](Transaction& tx) -> Status {
    ++runs;
    LOCKSTEP_RETURN_IF_ERROR(tx.Execute("INSERT INTO kv (k, v) VALUES (?, ?)", "a", 1).status());
    return Status::FailedPrecondition("insufficient funds").WithReason("insufficient_funds");
  });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(runs, 1);  // Business refusals are never rerun.
  EXPECT_EQ(Count(), 0);
}

TEST_F(TransactionTest, BodyMayCommitItself) {
  const Status s = RunInTransaction(pool(), {}, Soon(), [](Transaction& tx) -> Status {
    LOCKSTEP_RETURN_IF_ERROR(tx.Execute("INSERT INTO kv (k, v) VALUES ('a', 1)").status());
    return tx.Commit();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(Count(), 1);
}

TEST_F(TransactionTest, RunWithRetriesRerunsAbortsOnAFreshLeaseButNotOtherErrors) {
  RunStats stats;
  int runs = 0;
  Status s = RunWithRetries(pool(), {}, Soon(), [&](PooledConnection& conn) -> Status {
    if (++runs == 1) return Status::Aborted("deadlock (injected)").WithDriverError(1213);
    return conn.Execute("INSERT INTO kv (k, v) VALUES (?, ?)", "a", 1).status();
  }, &stats);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(stats.attempts, 2);
  EXPECT_EQ(stats.deadlocks, 1);
  EXPECT_EQ(Count("a"), 1);
  // A duplicate (the caller's "already done" signal) is returned at once, never rerun.
  runs = 0;
  s = RunWithRetries(pool(), {}, Soon(), [&](PooledConnection& conn) -> Status {
    ++runs;
    return conn.Execute("INSERT INTO kv (k, v) VALUES (?, ?)", "a", 2).status();
  });
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(runs, 1);
}

TEST_F(TransactionTest, SelfCommittingProcedureRollsBackWholeOnErrorAndLeavesNothingOpen) {
  auto lease = pool().Acquire(Soon());
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(lease->Execute("CREATE PROCEDURE put_two(IN a VARCHAR(64), IN b VARCHAR(64)) BEGIN "
                             "DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END; "
                             "START TRANSACTION; INSERT INTO kv (k, v) VALUES (a, 1); "
                             "INSERT INTO kv (k, v) VALUES (b, 2); COMMIT; SELECT 1 AS done; END")
                  .ok());
  ASSERT_TRUE(lease->Execute("INSERT INTO kv (k, v) VALUES ('taken', 0)").ok());
  auto failed = lease->Query("CALL put_two(?, ?)", "first", "taken");
  EXPECT_EQ(failed.status().code(), StatusCode::kAlreadyExists) << failed.status();
  EXPECT_EQ(Count("first"), 0);  // The first INSERT went back with the second.
  auto open = lease->Query("SELECT @@in_transaction");
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(*(*open)[0].GetInt64(0), 0);
  auto done = lease->Query("CALL put_two(?, ?)", "first", "second");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(Count("first"), 1);
  EXPECT_EQ(Count("second"), 1);
}

TEST_F(TransactionTest, SavepointRollbackKeepsEarlierWork) {
  auto tx = pool().Begin({}, Soon());
  ASSERT_TRUE(tx.ok());
  ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('before', 1)").ok());
  {
    auto sp = tx->NewSavepoint("nested_1");
    ASSERT_TRUE(sp.ok()) << sp.status();
    ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('inside', 1)").ok());
    // Destroyed without Release(): ROLLBACK TO SAVEPOINT.
  }
  {
    auto kept = tx->NewSavepoint("nested_2");
    ASSERT_TRUE(kept.ok());
    ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('released', 1)").ok());
    ASSERT_TRUE(kept->Release().ok());
  }
  {
    auto explicit_rb = tx->NewSavepoint("nested_3");
    ASSERT_TRUE(explicit_rb.ok());
    ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('undone', 1)").ok());
    ASSERT_TRUE(explicit_rb->Rollback().ok());
  }
  ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('after', 1)").ok());
  ASSERT_TRUE(tx->Commit().ok());
  EXPECT_EQ(Count("before"), 1);
  EXPECT_EQ(Count("inside"), 0);
  EXPECT_EQ(Count("released"), 1);
  EXPECT_EQ(Count("undone"), 0);
  EXPECT_EQ(Count("after"), 1);
}

TEST_F(TransactionTest, SavepointNameIsValidated) {
  auto tx = pool().Begin({}, Soon());
  ASSERT_TRUE(tx.ok());
  for (const char* bad : {"", "1abc", "a-b", "x; DROP TABLE kv", "a b", "`q`"}) {
    EXPECT_EQ(tx->NewSavepoint(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(tx->NewSavepoint("_ok_Name9").ok());
}

TEST_F(TransactionTest, DuplicateKeyIsAlreadyExistsAndTransactionContinues) {
  auto tx = pool().Begin({}, Soon());
  ASSERT_TRUE(tx.ok());
  ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('a', 1)").ok());
  auto dup = tx->Execute("INSERT INTO kv (k, v) VALUES ('a', 2)");
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().driver_error(), 1062);
  ASSERT_TRUE(tx->Execute("INSERT INTO kv (k, v) VALUES ('b', 2)").ok());
  ASSERT_TRUE(tx->Commit().ok());
  EXPECT_EQ(Count(), 2);
}

TEST_F(TransactionTest, BadStatementsAreClassified) {
  auto lease = pool().Acquire(Soon());
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->Execute("SELEC 1").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lease->Query("SELECT * FROM missing_table").status().code(), StatusCode::kInternal);
  EXPECT_EQ(lease->Execute("INSERT INTO kv (k, v) VALUES (?, ?)", "only one").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(lease->broken());
  EXPECT_TRUE(lease->Query("SELECT 1").ok());
}

class IsolationTest : public TransactionTest {
 protected:
  void SetUp() override {
    TransactionTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExecAdmin("INSERT INTO kv (k, v) VALUES ('x', 1)").ok());
  }
  int64_t Read(Transaction& tx) {
    auto rows = tx.Query("SELECT v FROM kv WHERE k = 'x'");
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() && !rows->empty() ? *(*rows)[0].GetInt64("v") : -1;
  }
  void WriteElsewhere(int64_t v) { ASSERT_TRUE(ExecAdmin("UPDATE kv SET v = " + std::to_string(v) + " WHERE k = 'x'").ok()); }
};

TEST_F(IsolationTest, ReadCommittedSeesOtherCommits) {
  auto tx = pool().Begin({.isolation = IsolationLevel::kReadCommitted}, Soon());
  ASSERT_TRUE(tx.ok());
  EXPECT_EQ(Read(*tx), 1);
  WriteElsewhere(2);
  EXPECT_EQ(Read(*tx), 2);  // Non-repeatable read.
}

TEST_F(IsolationTest, RepeatableReadDoesNot) {
  auto tx = pool().Begin({.isolation = IsolationLevel::kRepeatableRead}, Soon());
  ASSERT_TRUE(tx.ok());
  EXPECT_EQ(Read(*tx), 1);
  WriteElsewhere(2);
  EXPECT_EQ(Read(*tx), 1);
}

TEST_F(IsolationTest, RepeatableReadSnapshotStartsAtFirstRead) {
  auto tx = pool().Begin({.isolation = IsolationLevel::kRepeatableRead}, Soon());
  ASSERT_TRUE(tx.ok());
  WriteElsewhere(3);        // After START TRANSACTION, before the first read...
  EXPECT_EQ(Read(*tx), 3);  // ...is still visible: InnoDB takes the snapshot lazily.
  WriteElsewhere(4);
  EXPECT_EQ(Read(*tx), 3);
}

TEST_F(IsolationTest, LevelIsAppliedPerTransaction) {
  for (auto [level, name] : {std::pair{IsolationLevel::kSerializable, "SERIALIZABLE"},
                             std::pair{IsolationLevel::kReadCommitted, "READ-COMMITTED"},
                             std::pair{IsolationLevel::kRepeatableRead, "REPEATABLE-READ"}}) {
    auto tx = pool().Begin({.isolation = level}, Soon());
    ASSERT_TRUE(tx.ok());
    auto rows = tx->Query("SELECT @@tx_isolation");
    ASSERT_TRUE(rows.ok()) << rows.status();
    EXPECT_EQ(*(*rows)[0].GetString(0), name);
  }
}

TEST_F(IsolationTest, ReadOnlyTransactionRejectsWrites) {
  auto tx = pool().Begin({.read_only = true}, Soon());
  ASSERT_TRUE(tx.ok());
  EXPECT_EQ(Read(*tx), 1);
  auto w = tx->Execute("UPDATE kv SET v = 9 WHERE k = 'x'");
  EXPECT_EQ(w.status().code(), StatusCode::kFailedPrecondition) << w.status();
}

}  // namespace
}  // namespace lockstep::sql
