// lockstep::cdc against the real primary and Redis of the test stack: row changes read from
// the binlog (BinlogReader) and appended exactly once to a Redis Stream (StreamPublisher).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <sys/wait.h>

#include "lockstep/cdc/binlog_reader.h"
#include "lockstep/cdc/elected_relay.h"
#include "lockstep/cdc/relay.h"
#include "lockstep/cdc/stream_entry.h"
#include "lockstep/cdc/stream_publisher.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/redis/client.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/transaction.h"
#include "support/fault_proxy.h"
#include "support/mariadb_test.h"
#include "support/redis_test.h"
#include "support/child_process.h"
#include "support/test_env.h"

namespace lockstep::cdc {
namespace {

using namespace std::chrono_literals;
using lockstep::testing::Direction;
using lockstep::testing::Fault;
using lockstep::testing::FaultProxy;

Deadline Soon() { return Deadline::After(30s); }

// Replica server_ids of this process's readers: unique per reader (the primary is 1, the
// stack's replicas 2 and 3).
uint32_t NextServerId() {
  static std::atomic<uint32_t> next{1000 + static_cast<uint32_t>(::getpid() % 50'000) * 10};
  return next.fetch_add(1);
}

// The checker's verdict over the stream of `numbered` rows written by `writers` writers
// committing `txns_per_writer` transactions each (every 5th with 7 rows, else 1): every
// row exactly once; GTIDs increasing; a transaction's rows consecutive from 0; each
// writer's transactions in its commit order.
void ExpectEveryRowOnceInCommitOrder(const std::vector<StreamRow>& rows, int writers, int txns_per_writer) {
  std::set<std::tuple<int64_t, int64_t, int64_t>> seen;
  std::map<int64_t, int64_t> last_seq;  // writer -> last seq seen.
  Gtid last_gtid;
  uint64_t expected_row = 0;
  for (const StreamRow& r : rows) {
    const int64_t w = r.Get("writer")->i, s = r.Get("seq")->i, p = r.Get("part")->i;
    EXPECT_TRUE(seen.insert({w, s, p}).second) << "duplicate row " << w << "/" << s << "/" << p;
    if (r.gtid == last_gtid) {
      EXPECT_EQ(r.row, expected_row) << r.gtid.ToString();
    } else {
      EXPECT_GT(r.gtid.seq_no, last_gtid.seq_no);
      EXPECT_EQ(r.row, 0u) << r.gtid.ToString();
      auto it = last_seq.find(w);
      EXPECT_EQ(s, it == last_seq.end() ? 0 : it->second + 1) << "writer " << w;
      last_seq[w] = s;
    }
    last_gtid = r.gtid;
    expected_row = r.row + 1;
  }
  int64_t expected_rows = 0;
  for (int s = 0; s < txns_per_writer; ++s) expected_rows += (s % 5 == 0 ? 7 : 1);
  EXPECT_EQ(seen.size(), static_cast<size_t>(expected_rows * writers));
  EXPECT_EQ(rows.size(), seen.size());
}

// Writer w's transaction s of the checker: 7 rows when s % 5 == 0, else 1.
std::string NumberedInsert(int w, int s) {
  const int parts = s % 5 == 0 ? 7 : 1;
  std::string sql = "INSERT INTO numbered (writer, seq, part) VALUES ";
  for (int p = 0; p < parts; ++p) {
    sql += (p ? ", (" : "(") + std::to_string(w) + "," + std::to_string(s) + "," + std::to_string(p) + ")";
  }
  return sql;
}

class CdcTest : public testing::MariaDbTest {
 protected:
  void SetUp() override {
    MariaDbTest::SetUp();
    if (HasFatalFailure()) return;
    auto client = redis::Client::Open(testing::RedisTestOptions(0));
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = std::move(*client);
    stream_ = "{t:" + testing::UniqueTestName() + "}:cdc";
    ASSERT_TRUE(ExecAdmin("CREATE TABLE items (id INT UNSIGNED PRIMARY KEY, name VARCHAR(50) NOT NULL, "
                          "price DECIMAL(10,2) NOT NULL, qty BIGINT NULL, code CHAR(3) NOT NULL DEFAULT 'abc', "
                          "t TINYINT NOT NULL DEFAULT 0) ENGINE=InnoDB")
                    .ok());
    ASSERT_TRUE(ExecAdmin("CREATE TABLE other (id INT PRIMARY KEY) ENGINE=InnoDB").ok());
  }
  void TearDown() override {
    if (redis_) (void)redis_->Del({stream_, stream_ + ":checkpoint", stream_ + ":fence"}, Soon());
    redis_.reset();
    MariaDbTest::TearDown();
  }

  BinlogReaderOptions ReaderOptions(std::optional<GtidPosition> start) {
    BinlogReaderOptions o;
    o.connection = testing::MariaDbTestOptions();
    o.server_id = NextServerId();
    o.tables = {TableFilter{database(), "items"}};
    o.start = std::move(start);
    o.heartbeat_period = 500ms;
    o.stall_timeout = 3s;
    return o;
  }

  std::unique_ptr<BinlogReader> OpenReader(std::optional<GtidPosition> start) {
    auto reader = BinlogReader::Open(ReaderOptions(std::move(start)), Soon());
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? std::move(*reader) : nullptr;
  }

  GtidPosition CurrentPosition() {
    auto lease = pool().Acquire(Soon());
    EXPECT_TRUE(lease.ok()) << lease.status();
    auto rows = lease->Query("SELECT @@gtid_binlog_pos");
    EXPECT_TRUE(rows.ok()) << rows.status();
    return *GtidPosition::Parse(*(*rows)[0].GetString(0));
  }

  Status Exec(const std::string& sql) {
    auto lease = pool().Acquire(Soon());
    if (!lease.ok()) return lease.status();
    return lease->Execute(sql).status();
  }

  // The next transaction with changes (skips those without).
  Result<CommittedTransaction> NextWithChanges(BinlogReader& reader) {
    const Deadline deadline = Soon();
    while (true) {
      LOCKSTEP_ASSIGN_OR_RETURN(CommittedTransaction txn, reader.Next(deadline));
      if (!txn.changes.empty()) return txn;
    }
  }

  std::vector<StreamRow> ReadStream() {
    std::vector<StreamRow> out;
    auto reply = redis_->Command({"XRANGE", stream_, "-", "+"}, Soon());
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return out;
    for (const redis::Reply& entry : reply->array()) {
      std::vector<std::string> fields;
      for (const redis::Reply& f : entry.array().at(1).array()) fields.push_back(f.str());
      auto rows = DecodeRowEntries(fields);
      EXPECT_TRUE(rows.ok()) << rows.status();
      if (rows.ok()) out.insert(out.end(), rows->begin(), rows->end());
    }
    return out;
  }

  // A publisher on the test's stream (through `client`), its checkpoint initialized to
  // `start`; nullptr (and a test failure) on error.
  std::unique_ptr<StreamPublisher> OpenPublisher(redis::Client& client, const GtidPosition& start) {
    StreamPublisherOptions po;
    po.stream = stream_;
    auto publisher = StreamPublisher::Create(client, po);
    EXPECT_TRUE(publisher.ok()) << publisher.status();
    if (!publisher.ok()) return nullptr;
    Result<StreamCheckpoint> cp = (*publisher)->Initialize(start, Soon());
    EXPECT_TRUE(cp.ok()) << cp.status();
    return cp.ok() ? std::move(*publisher) : nullptr;
  }

  // The checker's table (NumberedInsert writes it).
  void CreateNumberedTable() {
    ASSERT_TRUE(ExecAdmin("CREATE TABLE numbered (writer INT NOT NULL, seq INT NOT NULL, part INT NOT NULL, "
                          "PRIMARY KEY (writer, seq, part)) ENGINE=InnoDB")
                    .ok());
  }

  RelayOptions MakeRelayOptions() {
    RelayOptions o;
    o.reader = ReaderOptions(std::nullopt);
    o.publisher.stream = stream_;
    o.retry_initial = 50ms;
    o.retry_max = 500ms;
    return o;
  }

  std::unique_ptr<redis::Client> redis_;
  std::string stream_;
};

TEST_F(CdcTest, InsertUpdateDeleteAppearWithColumnsAndValues) {
  std::unique_ptr<BinlogReader> reader = OpenReader(std::nullopt);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(Exec("INSERT INTO other VALUES (1)").ok());  // Not watched.
  ASSERT_TRUE(Exec("INSERT INTO items VALUES (4000000000, 'café', -12.50, NULL, 'xy', -3)").ok());
  ASSERT_TRUE(Exec("UPDATE items SET price = 99999999.99, qty = -7 WHERE id = 4000000000").ok());
  ASSERT_TRUE(Exec("DELETE FROM items WHERE id = 4000000000").ok());

  Result<CommittedTransaction> ins = NextWithChanges(*reader);
  ASSERT_TRUE(ins.ok()) << ins.status();
  ASSERT_EQ(ins->changes.size(), 1u);
  const RowChange& i = ins->changes[0];
  EXPECT_EQ(i.op, RowOp::kInsert);
  EXPECT_EQ(i.database(), database());
  EXPECT_EQ(i.table(), "items");
  ASSERT_EQ(i.schema->columns.size(), 6u);
  EXPECT_EQ(i.schema->primary_key, std::vector<size_t>{0});
  EXPECT_EQ(*i.Get("id"), Value::Uint(4000000000u));
  EXPECT_EQ(*i.Get("name"), Value::String("café"));
  EXPECT_EQ(*i.Get("price"), Value::Decimal("-12.50"));
  EXPECT_TRUE(i.Get("qty")->is_null());
  EXPECT_EQ(*i.Get("code"), Value::String("xy"));
  EXPECT_EQ(*i.Get("t"), Value::Int(-3));
  EXPECT_TRUE(i.before.empty());
  EXPECT_TRUE(ins->position.Covers(ins->gtid));

  Result<CommittedTransaction> upd = NextWithChanges(*reader);
  ASSERT_TRUE(upd.ok()) << upd.status();
  ASSERT_EQ(upd->changes.size(), 1u);
  const RowChange& u = upd->changes[0];
  EXPECT_EQ(u.op, RowOp::kUpdate);
  EXPECT_EQ(*u.Before("price"), Value::Decimal("-12.50"));
  EXPECT_EQ(*u.Get("price"), Value::Decimal("99999999.99"));
  EXPECT_EQ(*u.Get("qty"), Value::Int(-7));
  EXPECT_EQ(*u.Get("name"), Value::String("café"));
  EXPECT_EQ(upd->gtid.seq_no, ins->gtid.seq_no + 1);

  Result<CommittedTransaction> del = NextWithChanges(*reader);
  ASSERT_TRUE(del.ok()) << del.status();
  ASSERT_EQ(del->changes.size(), 1u);
  EXPECT_EQ(del->changes[0].op, RowOp::kDelete);
  EXPECT_TRUE(del->changes[0].after.empty());
  EXPECT_EQ(*del->changes[0].Get("qty"), Value::Int(-7));

  reader->Stop();
  EXPECT_EQ(reader->Next(Soon()).status().code(), StatusCode::kCancelled);
}

TEST_F(CdcTest, TransactionsStayGroupedAndRollbacksNeverAppear) {
  std::unique_ptr<BinlogReader> reader = OpenReader(std::nullopt);
  ASSERT_NE(reader, nullptr);
  {
    auto tx = pool().Begin({}, Soon());
    ASSERT_TRUE(tx.ok()) << tx.status();
    ASSERT_TRUE(tx->Execute("INSERT INTO items (id, name, price) VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)").ok());
    ASSERT_TRUE(tx->Execute("INSERT INTO other VALUES (7)").ok());
    ASSERT_TRUE(tx->Execute("UPDATE items SET qty = 5 WHERE id = 2").ok());
    ASSERT_TRUE(tx->Execute("DELETE FROM items WHERE id = 1").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  {
    auto tx = pool().Begin({}, Soon());
    ASSERT_TRUE(tx.ok()) << tx.status();
    ASSERT_TRUE(tx->Execute("INSERT INTO items (id, name, price) VALUES (100, 'rolled back', 1)").ok());
    ASSERT_TRUE(tx->Execute("UPDATE items SET qty = 100 WHERE id = 3").ok());
    ASSERT_TRUE(tx->Rollback().ok());
  }
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (200, 'marker', 0)").ok());

  Result<CommittedTransaction> group = NextWithChanges(*reader);
  ASSERT_TRUE(group.ok()) << group.status();
  ASSERT_EQ(group->changes.size(), 5u);  // 3 inserts, 1 update, 1 delete; `other` filtered out.
  const std::vector<RowOp> ops = {RowOp::kInsert, RowOp::kInsert, RowOp::kInsert, RowOp::kUpdate, RowOp::kDelete};
  for (size_t k = 0; k < ops.size(); ++k) EXPECT_EQ(group->changes[k].op, ops[k]) << k;
  EXPECT_EQ(*group->changes[3].Get("qty"), Value::Int(5));
  EXPECT_EQ(*group->changes[4].Get("id"), Value::Uint(1));

  Result<CommittedTransaction> marker = NextWithChanges(*reader);
  ASSERT_TRUE(marker.ok()) << marker.status();
  ASSERT_EQ(marker->changes.size(), 1u);  // Nothing of the rolled-back transaction came first.
  EXPECT_EQ(*marker->changes[0].Get("id"), Value::Uint(200));
}

TEST_F(CdcTest, RefusesThePrimarysOwnServerId) {
  BinlogReaderOptions o = ReaderOptions(std::nullopt);
  o.server_id = 1;  // The stack's primary.
  auto reader = BinlogReader::Open(o, Soon());
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kFailedPrecondition) << reader.status();
}

// A position purged from the primary's binlogs is a gap (kDataLoss), never a silent skip.
TEST_F(CdcTest, PurgedPositionIsAGap) {
  const GtidPosition before = CurrentPosition();
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (1, 'lost', 1)").ok());
  ASSERT_NO_FATAL_FAILURE(PurgeBinlogsBeforeNow());
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (2, 'kept', 1)").ok());

  auto reader = BinlogReader::Open(ReaderOptions(before), Soon());
  ASSERT_FALSE(reader.ok()) << "a purged start position must not stream";
  EXPECT_EQ(reader.status().code(), StatusCode::kDataLoss) << reader.status();
  EXPECT_EQ(reader.status().reason(), "binlog_gap");
  EXPECT_NE(reader.status().message().find("gap"), std::string_view::npos);

  // The position after the purge still streams.
  std::unique_ptr<BinlogReader> fresh = OpenReader(CurrentPosition());
  ASSERT_NE(fresh, nullptr);
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (3, 'after', 1)").ok());
  Result<CommittedTransaction> txn = NextWithChanges(*fresh);
  ASSERT_TRUE(txn.ok()) << txn.status();
  EXPECT_EQ(*txn->changes[0].Get("id"), Value::Uint(3));
}

// An idle primary is not a stalled one: its heartbeats keep the reader alive past
// stall_timeout.
TEST_F(CdcTest, IdleReaderLivesOnHeartbeats) {
  BinlogReaderOptions o = ReaderOptions(std::nullopt);
  o.heartbeat_period = 200ms;
  o.stall_timeout = 2s;
  auto reader = BinlogReader::Open(o, Soon());
  ASSERT_TRUE(reader.ok()) << reader.status();
  // Three stall timeouts without a write in the watched table.
  const Deadline idle = Deadline::After(6s);
  while (!idle.expired()) {
    Result<CommittedTransaction> txn = (*reader)->Next(idle);
    if (!txn.ok()) {
      ASSERT_EQ(txn.status().code(), StatusCode::kDeadlineExceeded) << txn.status();
    } else {
      ASSERT_TRUE(txn->changes.empty());  // Other databases' commits only move the position.
    }
  }
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (1, 'awake', 1)").ok());
  Result<CommittedTransaction> txn = NextWithChanges(**reader);
  ASSERT_TRUE(txn.ok()) << txn.status();
}

// A primary that stops answering (the proxy holds every byte) does not hang Stop(), and
// a reader left alone reports the stall as kUnavailable after stall_timeout.
TEST_F(CdcTest, StalledPrimaryDoesNotHangStop) {
  auto proxy = FaultProxy::Start({.upstream_port = testing::TestEnv::FromEnvironment().mariadb_port});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  for (bool stop_early : {true, false}) {
    BinlogReaderOptions o = ReaderOptions(std::nullopt);
    o.connection.port = (*proxy)->port();
    o.stall_timeout = 2s;
    auto reader = BinlogReader::Open(o, Soon());
    ASSERT_TRUE(reader.ok()) << reader.status();
    (*proxy)->SetFault(Fault::Stall());
    ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (" + std::to_string(stop_early ? 1 : 2) +
                     ", 'stalled', 1)")
                    .ok());
    if (stop_early) {
      const auto start = std::chrono::steady_clock::now();
      (*reader)->Stop();
      // Far below stall_timeout: Stop did not wait for the driver's read timeout.
      EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
      EXPECT_EQ((*reader)->Next(Soon()).status().code(), StatusCode::kCancelled);
    } else {
      Status s = Status::Ok();
      while (s.ok()) s = (*reader)->Next(Soon()).status();
      EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
    }
    (*proxy)->SetFault(Fault::None());
  }
}

// An append whose reply never came back (the script ran) is not repeated by the retry.
TEST_F(CdcTest, AppendWhoseReplyWasLostIsNotRepeated) {
  auto proxy = FaultProxy::Start({.upstream_port = testing::TestEnv::FromEnvironment().redis_ports.at(0)});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  redis::RedisOptions ro = testing::RedisTestOptions(0);
  ro.port = (*proxy)->port();
  auto client = redis::Client::Open(ro);
  ASSERT_TRUE(client.ok()) << client.status();
  std::unique_ptr<BinlogReader> reader = OpenReader(std::nullopt);
  ASSERT_NE(reader, nullptr);
  std::unique_ptr<StreamPublisher> publisher = OpenPublisher(**client, reader->start_position());
  ASSERT_NE(publisher, nullptr);
  // A first append loads the script into Redis (after a Redis restart EVALSHA answers
  // NOSCRIPT, and that answer would be swallowed below instead of the script running).
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (10, 'warm', 1)").ok());
  Result<CommittedTransaction> warm = NextWithChanges(*reader);
  ASSERT_TRUE(warm.ok()) << warm.status();
  ASSERT_TRUE(publisher->Publish(*warm, Soon()).ok());
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (1, 'a', 1), (2, 'b', 2)").ok());
  Result<CommittedTransaction> txn = NextWithChanges(*reader);
  ASSERT_TRUE(txn.ok()) << txn.status();

  // Requests reach Redis, replies are swallowed: the append runs, the caller cannot know.
  (*proxy)->SetFault(Direction::kServerToClient, Fault::Blackhole());
  Result<size_t> lost = publisher->Publish(*txn, Deadline::After(500ms));
  EXPECT_FALSE(lost.ok());
  (*proxy)->SetFault(Fault::None());
  EXPECT_EQ(ReadStream().size(), 3u);  // It did run.

  Result<size_t> retried = publisher->Publish(*txn, Soon());
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(*retried, 0u);  // Recognised as done.
  EXPECT_EQ(ReadStream().size(), 3u);
  EXPECT_TRUE(publisher->checkpoint().position.Covers(txn->gtid));

  // Someone else moved the checkpoint (a second publisher on the stream): appends stop.
  StreamCheckpoint other;
  other.position = *GtidPosition::Parse("0-1-1");
  ASSERT_TRUE(redis_->Set(stream_ + ":checkpoint", other.ToString(), Soon()).ok());
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (3, 'c', 3)").ok());
  Result<CommittedTransaction> next = NextWithChanges(*reader);
  ASSERT_TRUE(next.ok()) << next.status();
  Result<size_t> refused = publisher->Publish(*next, Soon());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_EQ(refused.status().reason(), "checkpoint_moved");
  EXPECT_EQ(ReadStream().size(), 3u);
}

// The relay reconnects after its MariaDB connection is cut and appends every change once.
TEST_F(CdcTest, RelayReconnectsFromItsCheckpoint) {
  auto proxy = FaultProxy::Start({.upstream_port = testing::TestEnv::FromEnvironment().mariadb_port});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  RelayOptions o = MakeRelayOptions();
  o.reader.connection.port = (*proxy)->port();
  o.reader.start = CurrentPosition();  // Else the relay starts wherever the primary is when it connects.
  std::atomic<int> retries{0};
  o.observer.on_retry = [&](const Status&) { retries.fetch_add(1); };
  auto relay = Relay::Start(*redis_, o);
  ASSERT_TRUE(relay.ok()) << relay.status();
  for (int id = 1; id <= 20; ++id) {
    ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (" + std::to_string(id) + ", 'r', 1)").ok());
    if (id == 10) (*proxy)->SetFault(Fault::Reset());  // Cuts the replication connection.
    if (id == 12) (*proxy)->SetFault(Fault::None());
  }
  ASSERT_TRUE((*relay)->AwaitPosition(CurrentPosition(), Soon())) << (*relay)->status();
  EXPECT_TRUE((*relay)->status().ok()) << (*relay)->status();
  EXPECT_GE(retries.load(), 1);
  // Commits that touch no watched table still move the checkpoint (a restart never has to
  // start further back than the last commit it saw), and append nothing.
  ASSERT_TRUE(Exec("INSERT INTO other VALUES (1)").ok());
  ASSERT_TRUE((*relay)->AwaitPosition(CurrentPosition(), Soon())) << (*relay)->status();
  auto stored = redis_->Get(stream_ + ":checkpoint", Soon());
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(StreamCheckpoint::Parse(**stored)->position, CurrentPosition());
  (*relay)->Stop();
  EXPECT_EQ((*relay)->status().code(), StatusCode::kCancelled);
  std::set<int64_t> ids;
  const std::vector<StreamRow> rows = ReadStream();
  for (const StreamRow& r : rows) EXPECT_TRUE(ids.insert(static_cast<int64_t>(r.Get("id")->u)).second);
  EXPECT_EQ(rows.size(), 20u);
  EXPECT_EQ(ids.size(), 20u);
}

// Fencing: a publisher with an older fence than the stream has seen appends nothing
// (a leader paused past its lease that wakes up after its successor's first append).
TEST_F(CdcTest, AStaleFenceIsRefused) {
  const GtidPosition start = CurrentPosition();
  std::unique_ptr<BinlogReader> reader = OpenReader(start);
  ASSERT_NE(reader, nullptr);
  for (int id = 1; id <= 3; ++id) {
    ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (" + std::to_string(id) + ", 'f', 1)").ok());
  }
  std::vector<CommittedTransaction> txns;
  for (int i = 0; i < 3; ++i) {
    auto txn = NextWithChanges(*reader);
    ASSERT_TRUE(txn.ok()) << txn.status();
    txns.push_back(std::move(*txn));
  }
  auto open = [&](int64_t fence) {
    StreamPublisherOptions po;
    po.stream = stream_;
    po.fence = fence;
    auto publisher = StreamPublisher::Create(*redis_, po);
    EXPECT_TRUE(publisher.ok()) << publisher.status();
    return std::move(*publisher);
  };
  std::unique_ptr<StreamPublisher> old_leader = open(5);
  ASSERT_TRUE(old_leader->Initialize(start, Soon()).ok());
  ASSERT_TRUE(old_leader->Publish(txns[0], Soon()).ok());
  std::unique_ptr<StreamPublisher> new_leader = open(6);
  ASSERT_TRUE(new_leader->Load(Soon()).ok());
  ASSERT_TRUE(new_leader->Publish(txns[1], Soon()).ok());
  Result<size_t> stale = old_leader->Publish(txns[2], Soon());
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition) << stale.status();
  EXPECT_EQ(stale.status().reason(), "fenced") << stale.status();
  EXPECT_FALSE(old_leader->RecordGap(CurrentPosition(), "test", Soon()).ok());
  const std::vector<StreamRow> rows = ReadStream();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].Get("id")->u, 1u);
  EXPECT_EQ(rows[1].Get("id")->u, 2u);
  // The new leader goes on.
  EXPECT_EQ(*new_leader->Publish(txns[2], Soon()), 1u);
  EXPECT_EQ(ReadStream().size(), 3u);
}

// Two candidates: one leads at a time, the stream gets every row once in commit order
// across a hand-over in the middle of a write load.
TEST_F(CdcTest, ElectedRelaysHandOverWithoutGapOrDuplicate) {
  CreateNumberedTable();
  std::vector<std::unique_ptr<lock::LockService>> services;
  std::vector<std::unique_ptr<ElectedRelay>> candidates;
  std::atomic<int> leaderships{0};
  const GtidPosition start = CurrentPosition();
  for (int i = 0; i < 2; ++i) {
    auto service = lock::LockService::Create(*redis_, {.key_prefix = stream_ + ":lock:"});
    ASSERT_TRUE(service.ok()) << service.status();
    ElectedRelayOptions o;
    o.relay = MakeRelayOptions();
    o.relay.reader.tables = {TableFilter{database(), "numbered"}};
    o.relay.reader.start = start;
    o.lock_name = "leader";
    o.lease = 500ms;
    o.observer.on_leadership = [&](bool leader, int64_t) {
      if (leader) leaderships.fetch_add(1);
    };
    auto candidate = ElectedRelay::Start(*redis_, **service, o);
    ASSERT_TRUE(candidate.ok()) << candidate.status();
    services.push_back(std::move(*service));
    candidates.push_back(std::move(*candidate));
  }
  auto leader_index = [&]() -> int {
    const Deadline deadline = Soon();
    while (!deadline.expired()) {
      const bool a = candidates[0] != nullptr && candidates[0]->leader();
      const bool b = candidates[1] != nullptr && candidates[1]->leader();
      EXPECT_FALSE(a && b) << "two leaders at once";
      if (a != b) return a ? 0 : 1;
      std::this_thread::sleep_for(5ms);  // Polling a flag another thread sets.
    }
    return -1;
  };
  const int first = leader_index();
  ASSERT_GE(first, 0) << "no leader elected";
  constexpr int kTxns = 60;
  for (int s = 0; s < kTxns; ++s) {
    ASSERT_TRUE(Exec(NumberedInsert(0, s)).ok());
    if (s == kTxns / 2) candidates[first].reset();  // Stops: releases the lease.
  }
  const int second = leader_index();
  ASSERT_EQ(second, 1 - first);
  const GtidPosition end = CurrentPosition();
  const Deadline deadline = Soon();
  while (!deadline.expired()) {
    bool covered = true;
    for (const Gtid& g : end.gtids()) covered = covered && candidates[second]->checkpoint().position.Covers(g);
    if (covered) break;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GE(candidates[second]->fence(), 2);
  EXPECT_EQ(leaderships.load(), 2);
  candidates[second].reset();
  ExpectEveryRowOnceInCommitOrder(ReadStream(), 1, kTxns);
}

// A checkpoint purged from the binlogs: kStop ends the relay with kDataLoss;
// kRecordAndContinue writes a gap entry and continues from the primary's position.
TEST_F(CdcTest, RelayReportsAGapLoudly) {
  StreamCheckpoint old;
  old.position = CurrentPosition();
  ASSERT_TRUE(redis_->Set(stream_ + ":checkpoint", old.ToString(), Soon()).ok());
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (1, 'lost', 1)").ok());
  ASSERT_NO_FATAL_FAILURE(PurgeBinlogsBeforeNow());

  RelayOptions o = MakeRelayOptions();
  auto stopped = Relay::Start(*redis_, o);
  ASSERT_TRUE(stopped.ok());
  ASSERT_FALSE((*stopped)->AwaitPosition(*GtidPosition::Parse("0-1-999999999"), Soon()));
  EXPECT_EQ((*stopped)->status().code(), StatusCode::kDataLoss) << (*stopped)->status();
  EXPECT_TRUE(ReadStream().empty());

  o.gap_policy = GapPolicy::kRecordAndContinue;
  auto relay = Relay::Start(*redis_, o);
  ASSERT_TRUE(relay.ok());
  // The gap entry moves the checkpoint to where the relay resumed (changes until then are
  // in the gap); wait for it before the next change.
  ASSERT_TRUE((*relay)->AwaitPosition(CurrentPosition(), Soon())) << (*relay)->status();
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (2, 'after', 1)").ok());
  ASSERT_TRUE((*relay)->AwaitPosition(CurrentPosition(), Soon())) << (*relay)->status();
  auto reply = redis_->Command({"XRANGE", stream_, "-", "+"}, Soon());
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->array().size(), 2u);
  std::vector<std::string> first;
  for (const redis::Reply& f : reply->array()[0].array().at(1).array()) first.push_back(f.str());
  Result<StreamGap> gap = DecodeGapEntry(first);
  ASSERT_TRUE(gap.ok()) << gap.status();
  EXPECT_EQ(gap->from, old.position);
  EXPECT_NE(gap->reason.find("gap"), std::string::npos);
  std::vector<std::string> second;
  for (const redis::Reply& f : reply->array()[1].array().at(1).array()) second.push_back(f.str());
  Result<std::vector<StreamRow>> rows = DecodeRowEntries(second);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(*rows->front().Get("id"), Value::Uint(2));
}

// Columns added and dropped between streamed rows: each row is decoded with the layout
// its own TABLE_MAP event carries (no schema history to keep or lose).
TEST_F(CdcTest, AlterTableBetweenRowsNeedsNoSchemaHistory) {
  std::unique_ptr<BinlogReader> reader = OpenReader(std::nullopt);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (1, 'before', 1)").ok());
  ASSERT_TRUE(ExecAdmin("ALTER TABLE items ADD COLUMN note VARCHAR(20) NULL AFTER name, DROP COLUMN code").ok());
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, note, price) VALUES (2, 'after', 'hi', 2)").ok());
  ASSERT_TRUE(Exec("UPDATE items SET price = 3 WHERE id = 1").ok());

  Result<CommittedTransaction> first = NextWithChanges(*reader);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first->changes[0].Get("code"), Value::String("abc"));
  EXPECT_EQ(first->changes[0].Get("note"), nullptr);
  Result<CommittedTransaction> second = NextWithChanges(*reader);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second->changes[0].Get("note"), Value::String("hi"));
  EXPECT_EQ(second->changes[0].Get("code"), nullptr);
  EXPECT_EQ(second->changes[0].schema->columns[2].name, "note");
  Result<CommittedTransaction> third = NextWithChanges(*reader);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(*third->changes[0].Get("price"), Value::Decimal("3.00"));
  EXPECT_TRUE(third->changes[0].Get("note")->is_null());
}

// TRUNCATE and ALTER of a watched table reach the consumer as DDL entries (row events
// would not show what TRUNCATE removed); DDL elsewhere does not.
TEST_F(CdcTest, DdlOnWatchedTablesIsDelivered) {
  std::unique_ptr<BinlogReader> reader = OpenReader(std::nullopt);
  ASSERT_NE(reader, nullptr);
  std::unique_ptr<StreamPublisher> publisher = OpenPublisher(*redis_, reader->start_position());
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (1, 'x', 1)").ok());
  ASSERT_TRUE(ExecAdmin("TRUNCATE TABLE items").ok());
  // Another database, named nowhere in the statement: not reported.
  ASSERT_TRUE(ExecAdmin("CREATE DATABASE IF NOT EXISTS " + database() + "_x").ok());
  ASSERT_TRUE(ExecAdmin("DROP DATABASE " + database() + "_x").ok());
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (2, 'y', 1)").ok());

  std::vector<CommittedTransaction> seen;
  while (seen.empty() || seen.back().changes.empty() || *seen.back().changes[0].Get("id") != Value::Uint(2)) {
    Result<CommittedTransaction> txn = reader->Next(Soon());
    ASSERT_TRUE(txn.ok()) << txn.status();
    seen.push_back(std::move(*txn));
  }
  std::vector<std::string> ddl;
  for (const CommittedTransaction& t : seen) {
    for (const DdlStatement& d : t.ddl) {
      EXPECT_EQ(d.database, database());
      ddl.push_back(d.statement);
    }
  }
  ASSERT_EQ(ddl.size(), 1u) << (ddl.empty() ? "" : ddl[0]);
  EXPECT_NE(ddl[0].find("TRUNCATE"), std::string::npos) << ddl[0];

  std::vector<const CommittedTransaction*> pointers;
  for (const CommittedTransaction& t : seen) pointers.push_back(&t);
  Result<size_t> appended = publisher->PublishBatch(pointers, Soon());
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(*appended, 3u);  // Row 1, the TRUNCATE, row 2.
  auto reply = redis_->Command({"XRANGE", stream_, "-", "+"}, Soon());
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->array().size(), 3u);
  std::vector<std::string> fields;
  for (const redis::Reply& f : reply->array()[1].array().at(1).array()) fields.push_back(f.str());
  Result<StreamDdl> entry = DecodeDdlEntry(fields);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->database, database());
  EXPECT_NE(entry->statement.find("TRUNCATE"), std::string::npos);
}

// Measures (prints; asserts only completeness): rows/s of one 20,000-row transaction
// through reader and publisher, and the latency from a COMMIT's return to its entry being
// in the stream through a running relay.
TEST_F(CdcTest, ReportsThroughputAndLatency) {
  constexpr int kRows = 20'000;
  std::unique_ptr<BinlogReader> reader = OpenReader(std::nullopt);
  ASSERT_NE(reader, nullptr);
  std::unique_ptr<StreamPublisher> publisher = OpenPublisher(*redis_, reader->start_position());
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(Exec("INSERT INTO items (id, name, price, qty) SELECT seq, CONCAT('item-', seq), seq / 100, seq "
                   "FROM seq_1_to_" + std::to_string(kRows)).ok());
  const auto t0 = std::chrono::steady_clock::now();
  Result<CommittedTransaction> big = NextWithChanges(*reader);
  ASSERT_TRUE(big.ok()) << big.status();
  const auto t1 = std::chrono::steady_clock::now();
  Result<size_t> appended = publisher->Publish(*big, Soon());
  ASSERT_TRUE(appended.ok()) << appended.status();
  const auto t2 = std::chrono::steady_clock::now();
  ASSERT_EQ(big->changes.size(), static_cast<size_t>(kRows));
  ASSERT_EQ(*appended, static_cast<size_t>(kRows));
  reader->Stop();
  auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf("cdc: %d-row transaction: read+decode %.0f rows/s, append %.0f rows/s, end to end %.0f rows/s\n",
              kRows, kRows / secs(t1 - t0), kRows / secs(t2 - t1), kRows / secs(t2 - t0));

  // Latency through a relay, one commit at a time.
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::chrono::steady_clock::time_point> published;
  RelayOptions o = MakeRelayOptions();
  o.reader.start = CurrentPosition();
  o.publisher.stream = stream_ + ":latency";
  o.observer.on_published = [&](const CommittedTransaction& txn, size_t) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu);
    for (const RowChange& c : txn.changes) published[c.Get("id")->u] = now;
    cv.notify_all();
  };
  auto relay = Relay::Start(*redis_, o);
  ASSERT_TRUE(relay.ok());
  std::vector<double> latencies_ms;
  for (int i = 0; i < 200; ++i) {
    const uint64_t id = 100'000 + static_cast<uint64_t>(i);
    ASSERT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (" + std::to_string(id) + ", 'l', 1)").ok());
    const auto committed = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_until(lock, std::chrono::steady_clock::now() + 30s, [&] { return published.count(id) > 0; }))
        << (*relay)->status();
    latencies_ms.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(published[id] - committed).count()));
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::printf("cdc: COMMIT returned -> entry in the stream (relay), 200 commits: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              latencies_ms[100], latencies_ms[197], latencies_ms.back());

  // Small transactions from 4 writers: the relay's catch-up rate against the commit rate.
  constexpr int kWriters = 4, kPerWriter = 500;
  const auto w0 = std::chrono::steady_clock::now();
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const int id = 200'000 + w * kPerWriter + i;
        EXPECT_TRUE(Exec("INSERT INTO items (id, name, price) VALUES (" + std::to_string(id) + ", 's', 1)").ok());
      }
    });
  }
  for (auto& t : writers) t.join();
  const auto w1 = std::chrono::steady_clock::now();
  ASSERT_TRUE((*relay)->AwaitPosition(CurrentPosition(), Soon())) << (*relay)->status();
  const auto w2 = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(published.size(), static_cast<size_t>(200 + kWriters * kPerWriter));
  }
  std::printf("cdc: %d single-row commits from %d writers: committed at %.0f/s, in the stream at %.0f/s "
              "(relay %.0f ms behind the last commit)\n",
              kWriters * kPerWriter, kWriters, kWriters * kPerWriter / secs(w1 - w0),
              kWriters * kPerWriter / secs(w2 - w0), 1000 * secs(w2 - w1));
  (*relay)->Stop();
  (void)redis_->Del({o.publisher.stream, o.publisher.stream + ":checkpoint"}, Soon());
}

// Binlog rotations and a restart of the primary under a running relay: it reconnects from
// its checkpoint and the stream still holds every committed row once, in commit order.
TEST_F(CdcTest, RelaySurvivesRotationsAndAPrimaryRestart) {
  CreateNumberedTable();
  RelayOptions o = MakeRelayOptions();
  o.reader.tables = {TableFilter{database(), "numbered"}};
  o.reader.start = CurrentPosition();
  std::atomic<int> retries{0};
  o.observer.on_retry = [&](const Status&) { retries.fetch_add(1); };
  auto relay = Relay::Start(*redis_, o);
  ASSERT_TRUE(relay.ok()) << relay.status();
  constexpr int kTxns = 40;
  for (int s = 0; s < kTxns / 2; ++s) {
    ASSERT_TRUE(Exec(NumberedInsert(0, s)).ok());
    if (s % 4 == 0) {
      ASSERT_TRUE(ExecAdmin("FLUSH BINARY LOGS").ok());
    }
  }
  ASSERT_TRUE((*relay)->AwaitPosition(CurrentPosition(), Soon())) << (*relay)->status();
  ASSERT_EQ(testing::RunStackCommand("stop-mariadb"), 0);
  ASSERT_EQ(testing::RunStackCommand("start-mariadb"), 0);
  for (int s = kTxns / 2; s < kTxns; ++s) {
    // The pool's connections died with the server: retried until a fresh one answers.
    Status st = Exec(NumberedInsert(0, s));
    for (int attempt = 0; !st.ok() && attempt < 20; ++attempt) st = Exec(NumberedInsert(0, s));
    ASSERT_TRUE(st.ok()) << st;
  }
  ASSERT_TRUE((*relay)->AwaitPosition(CurrentPosition(), Soon())) << (*relay)->status();
  EXPECT_GE(retries.load(), 1);
  (*relay)->Stop();
  ExpectEveryRowOnceInCommitOrder(ReadStream(), 1, kTxns);
}

// The checker: writers commit numbered rows (single- and multi-row transactions) while the
// relay (reader + publisher) is killed and restarted several times, once in the middle of
// a chunked append whose Redis connection is reset. Every committed row must be in the
// stream exactly once, in commit order.
TEST_F(CdcTest, RestartsResumeExactlyOnceInCommitOrder) {
  constexpr int kWriters = 4;
  constexpr int kTxnsPerWriter = 60;
  ASSERT_NO_FATAL_FAILURE(CreateNumberedTable());
  const GtidPosition start = CurrentPosition();

  // Redis through a proxy, so an append can be cut off half-way.
  auto redis_proxy = FaultProxy::Start({.upstream_port = testing::TestEnv::FromEnvironment().redis_ports.at(0)});
  ASSERT_TRUE(redis_proxy.ok()) << redis_proxy.status();

  std::atomic<int> committed_txns{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int s = 0; s < kTxnsPerWriter; ++s) {
        // Every 5th transaction has 7 rows (more than one append chunk), the others 1.
        Status st = Exec(NumberedInsert(w, s));
        EXPECT_TRUE(st.ok()) << st;
        committed_txns.fetch_add(1);
      }
    });
  }

  std::mt19937 rng(12345);
  int restarts = 0;
  bool cut_mid_append = false;
  // One "process": a fresh Redis client, publisher and reader; it handles up to max_txns
  // transactions (fewer if the binlog stays idle for 2s) and then vanishes without any
  // cleanup, as a kill -9 would leave it.
  auto run_relay = [&](int max_txns, bool cut) -> Status {
    redis::RedisOptions ro = testing::RedisTestOptions(0);
    ro.port = (*redis_proxy)->port();
    LOCKSTEP_ASSIGN_OR_RETURN(std::unique_ptr<redis::Client> client, redis::Client::Open(ro));
    StreamPublisherOptions po;
    po.stream = stream_;
    po.max_rows_per_append = 3;
    if (cut) {
      po.observer.on_append = [&](const StreamCheckpoint& stored, size_t) {
        if (stored.partial) (*redis_proxy)->SetFault(Fault::Reset());
      };
    }
    LOCKSTEP_ASSIGN_OR_RETURN(std::unique_ptr<StreamPublisher> publisher, StreamPublisher::Create(*client, po));
    LOCKSTEP_ASSIGN_OR_RETURN(StreamCheckpoint cp, publisher->Initialize(start, Soon()));
    BinlogReaderOptions o = ReaderOptions(cp.position);
    o.tables = {TableFilter{database(), "numbered"}};
    LOCKSTEP_ASSIGN_OR_RETURN(std::unique_ptr<BinlogReader> reader, BinlogReader::Open(o, Soon()));
    for (int n = 0; n < max_txns; ++n) {
      // The cutting run waits as long as it takes for the writers' first transaction.
      Result<CommittedTransaction> txn = reader->Next(cut ? Soon() : Deadline::After(2s));
      if (txn.status().code() == StatusCode::kDeadlineExceeded) return Status::Ok();
      if (!txn.ok()) return txn.status();
      if (cut && txn->changes.size() > 3) {
        // The "process" dies in the middle of appending this 7-row transaction in chunks of
        // 3: Redis connections are reset right after the first chunk got in.
        Result<size_t> r = publisher->Publish(*txn, Deadline::After(300ms));
        (*redis_proxy)->SetFault(Fault::None());
        if (r.ok()) return Status::Internal("the cut append succeeded");
        cut_mid_append = true;
        return Status::Ok();
      }
      // A random number of the transactions decoded so far go into one PublishBatch.
      std::vector<CommittedTransaction> batch;
      batch.push_back(std::move(*txn));
      const int batch_size = std::uniform_int_distribution<int>(1, 8)(rng);
      while (static_cast<int>(batch.size()) < batch_size && n + 1 < max_txns) {
        Result<CommittedTransaction> more = reader->Next(Deadline::After(0ms));
        if (!more.ok()) break;
        batch.push_back(std::move(*more));
        ++n;
      }
      std::vector<const CommittedTransaction*> pointers;
      for (const CommittedTransaction& t : batch) pointers.push_back(&t);
      LOCKSTEP_ASSIGN_OR_RETURN(size_t appended, publisher->PublishBatch(pointers, Soon()));
      (void)appended;
    }
    return Status::Ok();
  };
  while (committed_txns.load() < kWriters * kTxnsPerWriter || restarts < 4) {
    Status s = run_relay(restarts == 0 ? 1000 : std::uniform_int_distribution<int>(1, 40)(rng), restarts == 0);
    ASSERT_TRUE(s.ok()) << s;
    if (restarts == 0) {
      // The checkpoint records the half-appended transaction: GTID + rows to skip.
      auto stored = redis_->Get(stream_ + ":checkpoint", Soon());
      ASSERT_TRUE(stored.ok() && stored->has_value()) << stored.status();
      auto cp = StreamCheckpoint::Parse(**stored);
      ASSERT_TRUE(cp.ok()) << cp.status();
      EXPECT_TRUE(cp->partial.has_value()) << **stored;
      EXPECT_EQ(cp->rows_done, 3u) << **stored;
    }
    ++restarts;
  }
  for (auto& t : writers) t.join();
  const GtidPosition end = CurrentPosition();
  // Final run until the checkpoint reaches the last commit.
  {
    StreamPublisherOptions po;
    po.stream = stream_;
    po.max_rows_per_append = 3;
    auto publisher = StreamPublisher::Create(*redis_, po);
    ASSERT_TRUE(publisher.ok());
    auto cp = (*publisher)->Initialize(start, Soon());
    ASSERT_TRUE(cp.ok()) << cp.status();
    BinlogReaderOptions o = ReaderOptions(cp->position);
    o.tables = {TableFilter{database(), "numbered"}};
    auto reader = BinlogReader::Open(o, Soon());
    ASSERT_TRUE(reader.ok()) << reader.status();
    while (!((*publisher)->checkpoint().position.Covers(end.Find(0).value()))) {
      auto txn = (*reader)->Next(Soon());
      ASSERT_TRUE(txn.ok()) << txn.status();
      auto appended = (*publisher)->Publish(*txn, Soon());
      ASSERT_TRUE(appended.ok()) << appended.status();
    }
    ++restarts;
  }

  ExpectEveryRowOnceInCommitOrder(ReadStream(), kWriters, kTxnsPerWriter);
  EXPECT_GE(restarts, 3);
  EXPECT_TRUE(cut_mid_append);
}

}  // namespace
}  // namespace lockstep::cdc

namespace lockstep::cdc {
namespace {

constexpr char kChildStreamEnv[] = "LOCKSTEP_CDC_CHILD_STREAM";
constexpr char kChildDatabaseEnv[] = "LOCKSTEP_CDC_CHILD_DATABASE";
constexpr char kChildStartEnv[] = "LOCKSTEP_CDC_CHILD_START";

// The child process of RelayKilledWithSigkillResumesExactlyOnce: a relay that runs until
// it is killed.
TEST(CdcChild, DISABLED_Relay) {
  const char* stream = std::getenv(kChildStreamEnv);
  const char* db = std::getenv(kChildDatabaseEnv);
  const char* start = std::getenv(kChildStartEnv);
  ASSERT_TRUE(stream && db && start);
  auto client = redis::Client::Open(testing::RedisTestOptions(0));
  ASSERT_TRUE(client.ok()) << client.status();
  RelayOptions o;
  o.reader.connection = testing::MariaDbTestOptions();
  o.reader.server_id = NextServerId();
  o.reader.tables = {TableFilter{db, "numbered"}};
  o.reader.start = *GtidPosition::Parse(start);
  o.publisher.stream = stream;
  o.publisher.max_rows_per_append = 3;
  auto relay = Relay::Start(**client, o);
  ASSERT_TRUE(relay.ok()) << relay.status();
  // Until SIGKILL (or the relay stops by itself, which fails the parent's check).
  while ((*relay)->status().ok()) {
    (void)(*relay)->AwaitPosition(*GtidPosition::Parse("0-1-18446744073709551615"), Deadline::After(1s));
  }
  FAIL() << (*relay)->status();
}

// kill -9 of a relay process, three times while writers commit, and a last process that
// catches up: every committed row is in the stream exactly once, in commit order.
TEST_F(CdcTest, RelayKilledWithSigkillResumesExactlyOnce) {
  constexpr int kWriters = 3;
  constexpr int kTxnsPerWriter = 80;
  ASSERT_NO_FATAL_FAILURE(CreateNumberedTable());
  const GtidPosition start = CurrentPosition();
  const std::vector<std::string> env = {std::string(kChildStreamEnv) + "=" + stream_,
                                        std::string(kChildDatabaseEnv) + "=" + database(),
                                        std::string(kChildStartEnv) + "=" + start.ToString()};
  std::atomic<int> committed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int s = 0; s < kTxnsPerWriter; ++s) {
        EXPECT_TRUE(Exec(NumberedInsert(w, s)).ok());
        committed.fetch_add(1);
      }
    });
  }
  auto checkpoint = [&]() -> std::string {
    auto v = redis_->Get(stream_ + ":checkpoint", Soon());
    return v.ok() && v->has_value() ? **v : std::string();
  };
  std::string last = checkpoint();
  for (int kill = 0; kill < 3; ++kill) {
    const pid_t child = testing::SpawnSelf("CdcChild.DISABLED_Relay", env);
    ASSERT_GT(child, 0);
    // Kill once this process has appended something (the checkpoint moved), or after 10s
    // when the writers are done and there is nothing left to append.
    const Deadline moved = Deadline::After(10s);
    while (checkpoint() == last && !moved.expired()) std::this_thread::sleep_for(1ms);  // Polls the condition.
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the relay process ended by itself: " << wstatus;
    last = checkpoint();
  }
  for (auto& t : writers) t.join();
  const GtidPosition end = CurrentPosition();
  const pid_t child = testing::SpawnSelf("CdcChild.DISABLED_Relay", env);
  ASSERT_GT(child, 0);
  const Deadline caught_up = Soon();
  bool done = false;
  while (!done && !caught_up.expired()) {
    auto cp = StreamCheckpoint::Parse(checkpoint());
    done = cp.ok() && cp->position.Covers(end.Find(0).value());
    if (!done) std::this_thread::sleep_for(1ms);  // Polls the condition.
  }
  ::kill(child, SIGKILL);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  ASSERT_TRUE(done) << "the last relay process did not catch up: " << checkpoint();
  ExpectEveryRowOnceInCommitOrder(ReadStream(), kWriters, kTxnsPerWriter);
}

// kill -9 of relay processes inside one 10,000-row transaction (appended in chunks of 3
// rows, each chunk atomic with its checkpoint "position|gtid|rows done"), three times, then a
// last process finishes it: each of the 10,000 rows is in the stream exactly once, in order.
TEST_F(CdcTest, RelayKilledInsideATenThousandRowTransaction) {
  ASSERT_NO_FATAL_FAILURE(CreateNumberedTable());
  const GtidPosition start = CurrentPosition();
  const std::vector<std::string> env = {std::string(kChildStreamEnv) + "=" + stream_,
                                        std::string(kChildDatabaseEnv) + "=" + database(),
                                        std::string(kChildStartEnv) + "=" + start.ToString()};
  ASSERT_TRUE(Exec("INSERT INTO numbered (writer, seq, part) SELECT 0, 0, seq FROM seq_0_to_9999").ok());
  const GtidPosition end = CurrentPosition();
  auto checkpoint = [&]() -> std::string {
    auto v = redis_->Get(stream_ + ":checkpoint", Soon());
    return v.ok() && v->has_value() ? **v : std::string();
  };
  int kills_inside = 0;
  for (int kill = 0; kill < 3; ++kill) {
    const std::string before = checkpoint();
    const pid_t child = testing::SpawnSelf("CdcChild.DISABLED_Relay", env);
    ASSERT_GT(child, 0);
    // Kill once this process appended a chunk of the transaction.
    const Deadline moved = Soon();
    while ((checkpoint() == before || checkpoint().find('|') == std::string::npos) && !moved.expired()) {
      std::this_thread::sleep_for(1ms);  // Polls the condition.
    }
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the relay process ended by itself: " << wstatus;
    if (checkpoint().find('|') != std::string::npos) ++kills_inside;
  }
  EXPECT_EQ(kills_inside, 3) << "every kill should land inside the transaction: " << checkpoint();
  const pid_t child = testing::SpawnSelf("CdcChild.DISABLED_Relay", env);
  ASSERT_GT(child, 0);
  const Deadline caught_up = Soon();
  bool done = false;
  while (!done && !caught_up.expired()) {
    auto cp = StreamCheckpoint::Parse(checkpoint());
    done = cp.ok() && !cp->partial && cp->position.Covers(end.Find(0).value());
    if (!done) std::this_thread::sleep_for(1ms);  // Polls the condition.
  }
  ::kill(child, SIGKILL);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  ASSERT_TRUE(done) << "the last relay process did not finish the transaction: " << checkpoint();
  const std::vector<StreamRow> rows = ReadStream();
  ASSERT_EQ(rows.size(), 10'000u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].row, i);
    EXPECT_EQ(rows[i].Get("part")->i, static_cast<int64_t>(i));
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace lockstep::cdc
