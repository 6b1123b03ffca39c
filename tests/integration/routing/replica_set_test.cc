// ReplicaSet against the real stack: primary + 2 GTID replicas (scripts/stack.sh --replicas
// 2). Replica 1 is made to lag (MASTER_DELAY), stopped (SQL thread) or killed through the
// stack script, and restored by a guard even when the test fails.
#include "lockstep/routing/replica_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "lockstep/routing/consistency.h"
#include "support/mariadb_test.h"
#include "support/test_env.h"

namespace lockstep::routing {
namespace {

using namespace std::chrono_literals;
using lockstep::testing::MariaDbTest;
using lockstep::testing::RunStackCommand;
using lockstep::testing::TestEnv;

Deadline Soon() { return Deadline::After(10s); }

// Polls `cond` (every 10ms) until it holds or `within` passes.
bool Await(const std::function<bool()>& cond, std::chrono::milliseconds within = 60s) {
  const Deadline d = Deadline::After(within);
  while (!cond()) {
    if (d.expired()) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Runs a stack command on scope exit (restores a replica a test made lag or killed).
class Restore {
 public:
  explicit Restore(std::string command) : command_(std::move(command)) {}
  ~Restore() { EXPECT_EQ(RunStackCommand(command_), 0) << command_; }

 private:
  std::string command_;
};

struct Counters {
  std::atomic<int> primary_reads{0};
  std::atomic<int> replica_reads{0};
  std::atomic<int> fallbacks{0};
  std::atomic<int> waits_reached{0};
  std::atomic<int> waits_timed_out{0};
  std::atomic<int> probes{0};
};

class ReplicaSetTest : public MariaDbTest {
 public:
  void SetUp() override {
    MariaDbTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExecAdmin("CREATE TABLE items (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)").ok());
    const TestEnv env = TestEnv::FromEnvironment();
    ASSERT_EQ(env.replica_ports.size(), 2u) << "the stack must run 2 replicas";
    for (int port : env.replica_ports) {
      sql::ConnectionOptions o = options();
      o.port = port;
      sql::PoolOptions po = DefaultPoolOptions();
      po.acquire_timeout = 2s;
      // The test database reaches the replica through replication: wait for it.
      std::unique_ptr<sql::Pool> pool;
      ASSERT_TRUE(Await([&] {
        auto p = sql::Pool::Open(o, po);
        if (p.ok()) pool = std::move(*p);
        return p.ok();
      })) << "database " << database() << " did not reach the replica on port " << port;
      replica_pools_.push_back(std::move(pool));
    }
  }

  void TearDown() override {
    sets_.clear();  // Stops the monitors before the pools and the database go.
    replica_pools_.clear();
    MariaDbTest::TearDown();
  }

  // A ReplicaSet over the replicas `indexes` (of the stack's two), counting into `counters`.
  ReplicaSet& OpenSet(std::vector<size_t> indexes, Counters* counters = nullptr) {
    ReplicaSetOptions o;
    if (counters != nullptr) {
      o.observer.on_read = [counters](const ReadSource& s) { ++(s.primary ? counters->primary_reads : counters->replica_reads); };
      o.observer.on_primary_fallback = [counters](FallbackReason) { ++counters->fallbacks; };
      o.observer.on_gtid_wait = [counters](WaitOutcome w, auto) {
        if (w == WaitOutcome::kReached) ++counters->waits_reached;
        if (w == WaitOutcome::kTimedOut) ++counters->waits_timed_out;
      };
      o.observer.on_replica_probe = [counters](const ReplicaStatus&) { ++counters->probes; };
    }
    std::vector<sql::Pool*> pools;
    for (size_t i : indexes) pools.push_back(replica_pools_[i].get());
    auto set = ReplicaSet::Open(pool(), pools, o, Soon());
    EXPECT_TRUE(set.ok()) << set.status();
    sets_.push_back(std::move(*set));
    return *sets_.back();
  }

  static bool AllInRotation(const ReplicaSet& set) {
    for (const ReplicaStatus& s : set.replicas()) {
      if (!s.in_rotation) return false;
    }
    return true;
  }

  // Inserts row `id` in one transaction on the primary; returns the commit's token.
  ConsistencyToken Write(ReplicaSet& set, int64_t id) {
    auto tx = set.BeginWrite({}, Soon());
    EXPECT_TRUE(tx.ok()) << tx.status();
    EXPECT_TRUE(tx->Execute("INSERT INTO items (id, v) VALUES (?, ?)", id, id * 10).ok());
    auto gtid = tx->CommitWithGtid();
    EXPECT_TRUE(gtid.ok()) << gtid.status();
    auto token = ConsistencyToken::Parse(*gtid);
    EXPECT_TRUE(token.ok()) << "'" << *gtid << "': " << token.status();
    return *token;
  }

  // Reads row `id` where `c` routes; true if it was there. `source` gets where it ran.
  static bool Read(ReplicaSet& set, const Consistency& c, int64_t id, std::string* source = nullptr) {
    auto tx = set.BeginRead(c, Soon());
    EXPECT_TRUE(tx.ok()) << tx.status();
    if (!tx.ok()) return false;
    if (source != nullptr) *source = tx->source().ToString();
    auto rows = tx->Query("SELECT v FROM items WHERE id = ?", id);
    EXPECT_TRUE(rows.ok()) << rows.status();
    EXPECT_TRUE(tx->Commit().ok());
    return rows.ok() && rows->size() == 1;
  }

  std::string ReplicaSource(size_t index) const {
    return "replica:" + options().host + ":" + std::to_string(TestEnv::FromEnvironment().replica_ports[index]);
  }

  // Counters the monitors' threads update: they must outlive the sets (TearDown).
  Counters& NewCounters() { return counters_.emplace_back(); }

  std::deque<Counters> counters_;
  std::vector<std::unique_ptr<sql::Pool>> replica_pools_;
  std::vector<std::unique_ptr<ReplicaSet>> sets_;
};

TEST_F(ReplicaSetTest, CommitWithGtidReturnsTheCommitsPosition) {
  ReplicaSet& set = OpenSet({});
  // Tracked (BeginWrite: session tracking, no extra round trip) and untracked (SELECT
  // @@last_gtid) give the same kind of GTID, increasing, matching the primary's binlog.
  const ConsistencyToken a = Write(set, 1);
  auto tx = pool().Begin({}, Soon());
  ASSERT_TRUE(tx.ok());
  ASSERT_TRUE(tx->Execute("INSERT INTO items (id, v) VALUES (2, 20)").ok());
  auto b = tx->CommitWithGtid();
  ASSERT_TRUE(b.ok()) << b.status();
  const ConsistencyToken tb = *ConsistencyToken::Parse(*b);
  ASSERT_EQ(a.position().gtids().size(), 1u);
  EXPECT_GT(tb.position().gtids()[0].seq_no, a.position().gtids()[0].seq_no);
  // A transaction that wrote nothing binlogs nothing: no GTID with tracking.
  auto ro = set.BeginWrite({}, Soon());
  ASSERT_TRUE(ro.ok());
  ASSERT_TRUE(ro->Query("SELECT COUNT(*) FROM items").ok());
  auto none = ro->CommitWithGtid();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, "");
  // Plain Commit() is unchanged.
  auto plain = set.BeginWrite({}, Soon());
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(plain->Execute("INSERT INTO items (id, v) VALUES (3, 30)").ok());
  EXPECT_TRUE(plain->Commit().ok());
}

TEST_F(ReplicaSetTest, PooledConnectionReportsTheGtidOfAnAutocommitWriteAndOfACallThatCommits) {
  ASSERT_TRUE(ExecAdmin("CREATE PROCEDURE put_item(i BIGINT) BEGIN START TRANSACTION; "
                        "INSERT INTO items (id, v) VALUES (i, i); COMMIT; SELECT i; END")
                  .ok());
  auto conn = pool().Acquire(Soon());
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->LastCommitGtid(), std::nullopt);  // Not tracking yet.
  ASSERT_TRUE(conn->TrackCommitGtid(Soon()).ok());
  ASSERT_TRUE(conn->TrackCommitGtid(Soon()).ok());  // Idempotent.
  // Read by the session itself right after each statement: @@last_gtid.
  auto last_gtid = [&]() -> std::string {
    auto rows = conn->Query("SELECT @@last_gtid");
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *(*rows)[0].GetString(0) : "";
  };
  ASSERT_TRUE(conn->Execute("INSERT INTO items (id, v) VALUES (1, 1)").ok());
  const std::optional<std::string> insert = conn->LastCommitGtid();
  ASSERT_TRUE(insert.has_value());
  EXPECT_EQ(*insert, last_gtid());
  auto called = conn->Query("CALL put_item(?)", int64_t{2});
  ASSERT_TRUE(called.ok()) << called.status();
  const std::optional<std::string> call = conn->LastCommitGtid();
  ASSERT_TRUE(call.has_value()) << "the CALL's final OK packet named no GTID";
  EXPECT_EQ(*call, last_gtid());
  EXPECT_NE(*call, *insert);
  EXPECT_TRUE(ConsistencyToken::Parse(*call).ok());
  // A statement that commits nothing names none.
  ASSERT_TRUE(conn->Query("SELECT COUNT(*) FROM items").ok());
  EXPECT_EQ(conn->LastCommitGtid(), std::nullopt);
}

TEST_F(ReplicaSetTest, WithoutReplicasReadsGoToThePrimaryAndNoHeartbeatIsWritten) {
  Counters& counters = NewCounters();
  ReplicaSet& set = OpenSet({}, &counters);
  EXPECT_TRUE(set.replicas().empty());
  std::string source;
  EXPECT_FALSE(Read(set, Consistency::MaxStaleness(3'600'000ms), 1, &source));
  EXPECT_EQ(source, "primary");
  EXPECT_EQ(counters.replica_reads.load(), 0);
  auto conn = pool().Acquire(Soon());
  ASSERT_TRUE(conn.ok());
  auto tables = conn->Query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
                            "AND table_name = 'lockstep_heartbeat'");
  ASSERT_TRUE(tables.ok()) << tables.status();
  EXPECT_EQ(*(*tables)[0].GetInt64(0), 0);
}

TEST_F(ReplicaSetTest, FreshReplicasAnswerReadsAndReadOnlyIsEnforced) {
  Counters& counters = NewCounters();
  ReplicaSet& set = OpenSet({0, 1}, &counters);
  ASSERT_TRUE(Await([&] { return AllInRotation(set); })) << "replicas never entered rotation";
  for (const ReplicaStatus& s : set.replicas()) {
    EXPECT_TRUE(s.reachable && s.sql_running && s.io_running) << s.address;
    EXPECT_TRUE(s.lag.has_value()) << s.address;
    EXPECT_FALSE(s.gtid_position.empty()) << s.address;
  }
  const ConsistencyToken token = Write(set, 7);
  std::string source;
  EXPECT_TRUE(Read(set, Consistency::AtLeast(token), 7, &source));
  EXPECT_NE(source, "primary");
  // A generous staleness bound is met by a healthy replica (await: the monitor's view of
  // a replica is refreshed every probe interval).
  ASSERT_TRUE(Await([&] {
    std::string s;
    Read(set, Consistency::MaxStaleness(5s), 7, &s);
    return s != "primary";
  }));
  EXPECT_TRUE(Read(set, Consistency::Primary(), 7, &source));
  EXPECT_EQ(source, "primary");
  EXPECT_TRUE(Read(set, Consistency::MaxStaleness(0ms), 7, &source));
  EXPECT_EQ(source, "primary");
  // The server refuses writes in the read-only transaction too (Query is the only way to
  // send a statement, and it cannot commit one).
  auto tx = set.BeginRead(Consistency::AtLeast(token), Soon());
  ASSERT_TRUE(tx.ok());
  EXPECT_FALSE(tx->Query("UPDATE items SET v = 0 WHERE id = 7").ok());
  EXPECT_GT(counters.replica_reads.load(), 0);
  EXPECT_GT(counters.probes.load(), 0);

  // Not asserted (speed is not tested here): how fresh healthy replicas are known to be,
  // sampled every 10 ms for 1 s (README "Replica routing (library)", BENCHMARKS.md).
  std::vector<int64_t> staleness, lag;
  for (int i = 0; i < 100; ++i) {
    for (const ReplicaStatus& s : set.replicas()) {
      if (s.staleness) staleness.push_back(s.staleness->count());
      if (s.lag) lag.push_back(s.lag->count());
    }
    std::this_thread::sleep_for(10ms);
  }
  auto pct = [](std::vector<int64_t> v, double p) {
    if (v.empty()) return int64_t{-1};
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
  };
  std::printf("healthy replicas, %zu samples: staleness p50 %lld ms p99 %lld ms max %lld ms; lag p50 %lld ms p99 %lld ms\n",
              staleness.size(), static_cast<long long>(pct(staleness, 0.5)), static_cast<long long>(pct(staleness, 0.99)),
              static_cast<long long>(pct(staleness, 1.0)), static_cast<long long>(pct(lag, 0.5)),
              static_cast<long long>(pct(lag, 0.99)));
}

// The read-your-writes checker: every read with the token of a write sees that write, while
// replica 1 lags 2 s (MASTER_DELAY). The control loop reads the same way without a token
// (MaxStaleness of an hour, through the lagging replica alone) and must see the past: it
// proves the checker can fail.
TEST_F(ReplicaSetTest, TokenReadsNeverSeeThePastWhileAReplicaLags) {
  ASSERT_EQ(RunStackCommand("delay-replica 1 2"), 0);
  Restore restore("delay-replica 1 0");
  Counters& all_counters = NewCounters();
  Counters& lagging_counters = NewCounters();
  ReplicaSet& all = OpenSet({0, 1}, &all_counters);
  ReplicaSet& lagging = OpenSet({1}, &lagging_counters);
  // The delayed replica's staleness is measured (the heartbeats reach it 2 s late).
  ASSERT_TRUE(Await([&] {
    const ReplicaStatus s = lagging.replicas()[0];
    return s.in_rotation && s.staleness && *s.staleness >= 1s && s.lag && *s.lag >= 1s;
  })) << "replica 1 never looked 2 s behind";
  ASSERT_TRUE(Await([&] { return AllInRotation(all); }));

  int violations = 0, bound_violations = 0, replica_answers = 0;
  int64_t id = 1000;
  for (int i = 0; i < 150; ++i, ++id) {
    const ConsistencyToken token = Write(all, id);
    std::string source;
    if (!Read(all, Consistency::AtLeast(token), id, &source)) ++violations;
    if (source != "primary") ++replica_answers;
  }
  for (int i = 0; i < 40; ++i, ++id) {
    const ConsistencyToken token = Write(all, id);
    if (!Read(lagging, Consistency::AtLeast(token), id)) ++violations;
    // A 200 ms bound is more than the lagging replica can meet: the primary answers.
    std::string source;
    if (!Read(lagging, Consistency::MaxStaleness(200ms), id, &source)) ++bound_violations;
    EXPECT_EQ(source, "primary");
  }
  EXPECT_EQ(violations, 0);
  EXPECT_EQ(bound_violations, 0);
  EXPECT_GT(replica_answers, 0) << "the fresh replica should answer token reads";
  EXPECT_GT(lagging_counters.fallbacks.load(), 0);
  EXPECT_GT(lagging_counters.waits_timed_out.load(), 0);

  int control_stale = 0;
  for (int i = 0; i < 40; ++i, ++id) {
    Write(all, id);
    std::string source;
    if (!Read(lagging, Consistency::MaxStaleness(3'600'000ms), id, &source)) ++control_stale;
    EXPECT_EQ(source, ReplicaSource(1));
  }
  EXPECT_GT(control_stale, 0) << "the control loop without token saw no stale read: the checker proves nothing";
  std::printf("token reads: %d of %d stale (%d on replicas); MaxStaleness(200ms): %d of 40 stale; control "
              "without token: %d of 40 stale\n", violations, 150 + 40, replica_answers, bound_violations, control_stale);
}

// Makes replica 1 unusable with `fault` (undone by `restore`, also if the test fails):
// once `out` holds for its status, reads through a set of replica 1 alone are answered by
// the primary and reads through both replicas avoid it; after `restore` it comes back
// into rotation and answers again.
void ExpectReadsAvoidReplica1(ReplicaSetTest& t, const std::string& fault, const std::string& restore,
                              const std::function<bool(const ReplicaStatus&)>& out) {
  ReplicaSet& lagging = t.OpenSet({1});
  ReplicaSet& all = t.OpenSet({0, 1});
  ASSERT_TRUE(Await([&] { return ReplicaSetTest::AllInRotation(lagging) && ReplicaSetTest::AllInRotation(all); }));
  {
    ASSERT_EQ(RunStackCommand(fault), 0);
    Restore restorer(restore);
    ASSERT_TRUE(Await([&] { return out(lagging.replicas()[0]); })) << "replica 1 still looks fine after " << fault;
    for (int64_t id = 1; id <= 20; ++id) {
      const ConsistencyToken token = t.Write(all, id);
      std::string source;
      EXPECT_TRUE(ReplicaSetTest::Read(lagging, Consistency::AtLeast(token), id, &source));
      EXPECT_EQ(source, "primary");
      EXPECT_TRUE(ReplicaSetTest::Read(lagging, Consistency::MaxStaleness(3'600'000ms), id, &source));
      EXPECT_EQ(source, "primary");
      EXPECT_TRUE(ReplicaSetTest::Read(all, Consistency::AtLeast(token), id, &source));
      EXPECT_NE(source, t.ReplicaSource(1));
    }
  }
  ASSERT_TRUE(Await([&] { return ReplicaSetTest::AllInRotation(lagging); })) << "replica 1 did not come back into rotation";
  const ConsistencyToken token = t.Write(all, 100);
  ASSERT_TRUE(Await([&] {
    std::string source;
    EXPECT_TRUE(ReplicaSetTest::Read(lagging, Consistency::AtLeast(token), 100, &source));
    return source == t.ReplicaSource(1);
  }));
}

TEST_F(ReplicaSetTest, StoppedSqlThreadTakesTheReplicaOutOfRotationUntilItRuns) {
  ExpectReadsAvoidReplica1(*this, "stop-replica-sql 1", "start-replica-sql 1",
                           [](const ReplicaStatus& s) { return !s.in_rotation && !s.sql_running && s.reachable; });
}

TEST_F(ReplicaSetTest, KilledReplicaReadsGoToThePrimaryAndRotationRecovers) {
  // Not awaited out of rotation first: reads right after the kill find it dead themselves.
  ExpectReadsAvoidReplica1(*this, "kill-replica 1", "start-replica 1", [](const ReplicaStatus&) { return true; });
}

TEST_F(ReplicaSetTest, ForeignAndFutureTokensAreAnsweredByThePrimary) {
  Counters& counters = NewCounters();
  ReplicaSet& set = OpenSet({0, 1}, &counters);
  ASSERT_TRUE(Await([&] { return AllInRotation(set); }));
  Write(set, 1);
  std::string source;
  // Another GTID domain: no replica will ever apply it; no wait, the primary answers.
  EXPECT_TRUE(Read(set, Consistency::AtLeast(*ConsistencyToken::Parse("77-1-5")), 1, &source));
  EXPECT_EQ(source, "primary");
  EXPECT_EQ(counters.waits_timed_out.load(), 0);
  // A position the primary has not reached: a bounded wait, then the primary.
  const std::string position = set.replicas()[0].gtid_position;
  const sql::GtidPosition now = *sql::GtidPosition::Parse(position);
  sql::GtidPosition future;
  for (sql::Gtid g : now.gtids()) {
    g.seq_no += 1'000'000'000;
    future.Advance(g);
  }
  auto tx = set.BeginRead(Consistency::AtLeast(*ConsistencyToken::FromPosition(future)), Deadline::After(5s));
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_EQ(tx->source().ToString(), "primary");
  EXPECT_EQ(counters.waits_timed_out.load(), 1);
  // A deadline too short to wait: straight to the primary, still answered.
  auto quick = set.BeginRead(Consistency::AtLeast(*ConsistencyToken::FromPosition(future)), Deadline::After(1ms));
  if (quick.ok()) {
    EXPECT_EQ(quick->source().ToString(), "primary");
  }
  // Malformed tokens never reach routing.
  for (const char* bad : {"", "garbage", "0-1-", "0-1-1;DROP TABLE items", "0-1-2,0-1-3"}) {
    auto t = ConsistencyToken::Parse(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace lockstep::routing
