// lockstep::outbox against the real primary and Redis of the test stack: versions without
// gaps, a listing that is safe while ids commit out of order, the binlog relay killed with
// SIGKILL mid-run, and a deduplicating consumer with a dead-letter stream.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "lockstep/cdc/relay.h"
#include "lockstep/outbox/consumer.h"
#include "lockstep/outbox/event_entry.h"
#include "lockstep/outbox/outbox.h"
#include "lockstep/outbox/outbox_relay.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/streams.h"
#include "lockstep/sql/run_in_transaction.h"
#include "support/child_process.h"
#include "support/mariadb_test.h"
#include "support/redis_test.h"
#include "support/test_env.h"

namespace lockstep::outbox {
namespace {

using namespace std::chrono_literals;

Deadline Soon() { return Deadline::After(30s); }

uint32_t NextServerId() {
  static std::atomic<uint32_t> next{2000 + static_cast<uint32_t>(::getpid() % 40'000) * 10};
  return next.fetch_add(1);
}

// Awaits `condition`, polling; false after `timeout`.
template <typename F>
bool Await(F condition, std::chrono::seconds timeout = 60s) {
  const Deadline d = Deadline::After(timeout);
  while (!condition()) {
    if (d.expired()) return false;
    std::this_thread::sleep_for(2ms);  // Polls the condition.
  }
  return true;
}

Event Ev(std::string aggregate, bool first = false, std::string data = "{}") {
  Event e;
  e.type = first ? "thing.created" : "thing.updated";
  e.aggregate = std::move(aggregate);
  e.data = std::move(data);
  e.creates_aggregate = first;
  return e;
}

class OutboxTest : public testing::MariaDbTest {
 protected:
  sql::PoolOptions DefaultPoolOptions() const override {
    sql::PoolOptions p = MariaDbTest::DefaultPoolOptions();
    p.max_connections = 16;
    return p;
  }
  void SetUp() override {
    MariaDbTest::SetUp();
    if (HasFatalFailure()) return;
    auto outbox = Outbox::Create({});
    ASSERT_TRUE(outbox.ok()) << outbox.status();
    outbox_ = std::make_unique<Outbox>(*outbox);
    for (const std::string& ddl : outbox_->SchemaStatements()) ASSERT_TRUE(ExecAdmin(ddl).ok()) << ddl;
    ASSERT_TRUE(ExecAdmin(Consumer::SchemaStatement("outbox_processed")).ok());
    auto client = redis::Client::Open(testing::RedisTestOptions(0));
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = std::move(*client);
    stream_ = "{t:" + testing::UniqueTestName() + "}:events";
  }
  void TearDown() override {
    if (redis_) {
      (void)redis_->Del({stream_, stream_ + ":checkpoint", stream_ + ":fence", stream_ + ":dead"}, Soon());
    }
    redis_.reset();
    MariaDbTest::TearDown();
  }

  Status AppendCommitted(const std::vector<Event>& events) {
    return sql::RunInTransaction(pool(), {}, Soon(),
                                 [&](sql::Transaction& tx) { return outbox_->AppendBatch(tx, events); });
  }

  // aggregate -> versions in id order, from the table.
  std::map<std::string, std::vector<int64_t>> VersionsInTable() {
    std::map<std::string, std::vector<int64_t>> out;
    auto lease = pool().Acquire(Soon());
    EXPECT_TRUE(lease.ok()) << lease.status();
    auto rows = lease->Query("SELECT aggregate, aggregate_version FROM outbox ORDER BY id");
    EXPECT_TRUE(rows.ok()) << rows.status();
    for (const sql::Row& r : *rows) out[*r.GetString(0)].push_back(*r.GetInt64(1));
    return out;
  }

  std::set<int64_t> IdsInTable() {
    std::set<int64_t> out;
    auto lease = pool().Acquire(Soon());
    auto rows = lease->Query("SELECT id FROM outbox");
    EXPECT_TRUE(rows.ok()) << rows.status();
    for (const sql::Row& r : *rows) out.insert(*r.GetInt64(0));
    return out;
  }

  std::vector<StoredEvent> ReadStream(const std::string& stream) {
    std::vector<StoredEvent> out;
    auto reply = redis_->Command({"XRANGE", stream, "-", "+"}, Soon());
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return out;
    for (const redis::Reply& entry : reply->array()) {
      std::vector<std::string> fields;
      for (const redis::Reply& f : entry.array().at(1).array()) fields.push_back(f.str());
      auto e = DecodeEventEntry(fields);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) out.push_back(std::move(*e));
    }
    return out;
  }

  cdc::GtidPosition CurrentPosition() {
    auto lease = pool().Acquire(Soon());
    auto rows = lease->Query("SELECT @@gtid_binlog_pos");
    EXPECT_TRUE(rows.ok()) << rows.status();
    return *cdc::GtidPosition::Parse(*(*rows)[0].GetString(0));
  }

  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<redis::Client> redis_;
  std::string stream_;
};

// Every aggregate's versions, in id order, are 1..n.
void ExpectVersionsWithoutGaps(const std::map<std::string, std::vector<int64_t>>& versions) {
  for (const auto& [aggregate, vs] : versions) {
    for (size_t i = 0; i < vs.size(); ++i) {
      ASSERT_EQ(vs[i], static_cast<int64_t>(i + 1)) << aggregate;
    }
  }
}

TEST_F(OutboxTest, RefusesBadEventsAndASecondFirstEvent) {
  EXPECT_EQ(AppendCommitted({Ev("")}).code(), StatusCode::kInvalidArgument);
  Event no_type = Ev("a:1");
  no_type.type = "";
  EXPECT_EQ(AppendCommitted({no_type}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(AppendCommitted({Ev("a:1", true)}).ok());
  const Status again = AppendCommitted({Ev("a:1", true)});
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again;
  EXPECT_EQ(again.reason(), "aggregate_exists");
  EXPECT_FALSE(AppendCommitted({Ev("a:1", false, "not json")}).ok());
  EXPECT_EQ(IdsInTable().size(), 1u);
  EXPECT_EQ(Outbox::Create({.table = "bad-name"}).status().code(), StatusCode::kInvalidArgument);
}

// One transaction that creates an aggregate and continues it (in one batch, and in a second
// Append of the same transaction), and a later one: versions 1, 2, 3, 4.
TEST_F(OutboxTest, CreateAndContinueInOneTransaction) {
  ASSERT_TRUE(sql::RunInTransaction(pool(), {}, Soon(), [&](sql::Transaction& tx) -> Status {
                LOCKSTEP_RETURN_IF_ERROR(outbox_->AppendBatch(tx, {Ev("c:1", true), Ev("c:1")}));
                return outbox_->Append(tx, Ev("c:1"));
              }).ok());
  ASSERT_TRUE(AppendCommitted({Ev("c:1")}).ok());
  const auto versions = VersionsInTable();
  ASSERT_EQ(versions.at("c:1"), (std::vector<int64_t>{1, 2, 3, 4}));
}

// 8 writers append to 6 aggregates at once — the first append after each one's creation
// races on creating its version counter — and to new aggregates of their own: every
// append commits (lost races rerun) and every aggregate's versions are 1..n without a gap.
TEST_F(OutboxTest, VersionsRunWithoutGapsUnderConcurrentAppends) {
  constexpr int kShared = 6;
  for (int a = 0; a < kShared; ++a) ASSERT_TRUE(AppendCommitted({Ev("shared:" + std::to_string(a), true)}).ok());
  constexpr int kWriters = 8;
  constexpr int kTxns = 40;
  std::atomic<int> committed_events{kShared};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(w);
      for (int s = 0; s < kTxns; ++s) {
        // One or two shared aggregates (ascending, as a business transaction locks rows),
        // and every 4th transaction creates an aggregate of its own and continues it.
        std::set<int> targets = {static_cast<int>(rng() % kShared), static_cast<int>(rng() % kShared)};
        std::vector<Event> events;
        for (int a : targets) events.push_back(Ev("shared:" + std::to_string(a)));
        const std::string own = "own:" + std::to_string(w) + ":" + std::to_string(s / 4);
        events.push_back(Ev(own, s % 4 == 0));
        const Status st = AppendCommitted(events);
        EXPECT_TRUE(st.ok()) << st;
        if (st.ok()) committed_events.fetch_add(static_cast<int>(events.size()));
      }
    });
  }
  for (auto& t : writers) t.join();
  const auto versions = VersionsInTable();
  ExpectVersionsWithoutGaps(versions);
  size_t total = 0;
  for (const auto& [a, vs] : versions) total += vs.size();
  EXPECT_EQ(total, static_cast<size_t>(committed_events.load()));
}

// Deterministic out-of-order commit: A appends (smaller id) and stays open, B appends and
// commits. A naive `id > after` read shows B alone (a poller would skip A for good); the
// listing waits for A's transaction and then lists A before B.
TEST_F(OutboxTest, ListingWaitsForASmallerIdThatCommitsLater) {
  auto a = pool().Begin({}, Soon());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(outbox_->Append(*a, Ev("x:a", true)).ok());
  ASSERT_TRUE(AppendCommitted({Ev("x:b", true)}).ok());
  std::set<int64_t> naive = IdsInTable();
  ASSERT_EQ(naive.size(), 1u);  // Only B is visible: its id is larger than A's.

  Result<EventPage> page = Status::Unknown("not run");
  std::thread lister([&] { page = outbox_->ListAfter(pool(), 0, 10, Soon()); });
  // Await the listing's lock wait on the gate before A commits.
  auto lease = pool().Acquire(Soon());
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(Await([&] {
    // The listing's gate statement is running (A holds the gate, so it waits). A user sees
    // its own threads in PROCESSLIST without the PROCESS privilege.
    auto rows = lease->Query(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%outbox_gate ORDER BY id FOR UPDATE%' "
        "AND ID <> CONNECTION_ID()");
    return rows.ok() && *(*rows)[0].GetInt64(0) > 0;
  }));
  ASSERT_TRUE(a->Commit().ok());
  lister.join();
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->events[0].aggregate, "x:a");
  EXPECT_EQ(page->events[1].aggregate, "x:b");
  EXPECT_LT(page->events[0].event_id, page->events[1].event_id);
  EXPECT_EQ(page->next_after, page->events[1].event_id);
  EXPECT_EQ(outbox_->ListAfter(pool(), -1, 10, Soon()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(outbox_->ListAfter(pool(), 0, 0, Soon()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(outbox_->ListAfter(pool(), 0, 1001, Soon()).status().code(), StatusCode::kInvalidArgument);
}

// Checker: 6 writers commit out of id order (each holds its transaction open a random
// 0..3 ms after appending; every 10th rolls back) while a reader pages through the listing.
// Every id listed is larger than every id listed before it, is committed (in the table at
// the end), and at the end the listing has shown every committed event exactly once.
TEST_F(OutboxTest, ListingIsMonotoneAndCompleteUnderConcurrentWriters) {
  constexpr int kWriters = 6;
  constexpr int kTxns = 60;
  std::atomic<int> writers_done{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(100 + w);
      for (int s = 0; s < kTxns; ++s) {
        const Status st = sql::RunInTransaction(pool(), {}, Soon(), [&](sql::Transaction& tx) -> Status {
          LOCKSTEP_RETURN_IF_ERROR(
              outbox_->Append(tx, Ev("w:" + std::to_string(w) + ":" + std::to_string(s), true)));
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));  // Widens the window.
          if (s % 10 == 9) return tx.Rollback();
          return tx.Commit();
        });
        EXPECT_TRUE(st.ok()) << st;
      }
      writers_done.fetch_add(1);
    });
  }
  std::vector<int64_t> listed;
  int64_t after = 0;
  bool drained_after_writers = false;
  while (!drained_after_writers) {
    const bool writers_finished = writers_done.load() == kWriters;
    Result<EventPage> page = outbox_->ListAfter(pool(), after, 7, Soon());
    ASSERT_TRUE(page.ok()) << page.status();
    for (const StoredEvent& e : page->events) {
      ASSERT_TRUE(listed.empty() || e.event_id > listed.back()) << e.event_id << " after " << listed.back();
      listed.push_back(e.event_id);
    }
    after = page->next_after;
    drained_after_writers = writers_finished && page->events.empty();
  }
  for (auto& t : writers) t.join();
  const std::set<int64_t> committed = IdsInTable();
  EXPECT_EQ(committed.size(), static_cast<size_t>(kWriters * (kTxns - kTxns / 10)));
  EXPECT_EQ(std::set<int64_t>(listed.begin(), listed.end()), committed);
  EXPECT_EQ(listed.size(), committed.size());
}

}  // namespace
}  // namespace lockstep::outbox

namespace lockstep::outbox {
namespace {

constexpr char kChildStreamEnv[] = "LOCKSTEP_OUTBOX_CHILD_STREAM";
constexpr char kChildDatabaseEnv[] = "LOCKSTEP_OUTBOX_CHILD_DATABASE";
constexpr char kChildStartEnv[] = "LOCKSTEP_OUTBOX_CHILD_START";

// The child process of RelayKilledWithSigkill...: the outbox relay until it is killed.
TEST(OutboxChild, DISABLED_Relay) {
  const char* stream = std::getenv(kChildStreamEnv);
  const char* db = std::getenv(kChildDatabaseEnv);
  const char* start = std::getenv(kChildStartEnv);
  ASSERT_TRUE(stream && db && start);
  auto client = redis::Client::Open(testing::RedisTestOptions(0));
  ASSERT_TRUE(client.ok()) << client.status();
  cdc::RelayOptions o;
  o.reader.connection = testing::MariaDbTestOptions();
  o.reader.server_id = NextServerId();
  o.reader.start = *cdc::GtidPosition::Parse(start);
  ASSERT_TRUE(ConfigureOutboxRelay(o, db, "outbox", stream).ok());
  o.publisher.max_rows_per_append = 3;  // Several appends per transaction: kills land inside.
  auto relay = cdc::Relay::Start(**client, o);
  ASSERT_TRUE(relay.ok()) << relay.status();
  while ((*relay)->status().ok()) {
    (void)(*relay)->AwaitPosition(*cdc::GtidPosition::Parse("0-1-18446744073709551615"), Deadline::After(1s));
  }
  FAIL() << (*relay)->status();
}

// The relay process is killed with SIGKILL three times while 4 writers append (1..3 events
// per transaction to 8 shared aggregates), then a last one catches up. The stream holds
// every committed event exactly once (so at least once), and per aggregate in version order
// 1, 2, 3 ... . Then duplicates are added to the stream (what an at-least-once relay may
// deliver) and a deduplicating Consumer applies every event exactly once, in version order
// per aggregate.
TEST_F(OutboxTest, RelayKilledWithSigkillLosesNothingAndTheConsumerAppliesEachOnce) {
  constexpr int kShared = 8;
  for (int a = 0; a < kShared; ++a) ASSERT_TRUE(AppendCommitted({Ev("agg:" + std::to_string(a), true)}).ok());
  const cdc::GtidPosition start = CurrentPosition();
  // The creations are before `start`: the relay's stream begins after them.
  const std::vector<std::string> env = {std::string(kChildStreamEnv) + "=" + stream_,
                                        std::string(kChildDatabaseEnv) + "=" + database(),
                                        std::string(kChildStartEnv) + "=" + start.ToString()};
  constexpr int kWriters = 4;
  constexpr int kTxns = 60;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(7 + w);
      for (int s = 0; s < kTxns; ++s) {
        std::set<int> targets;
        const int n = 1 + static_cast<int>(rng() % 3);
        for (int i = 0; i < n; ++i) targets.insert(static_cast<int>(rng() % kShared));
        std::vector<Event> events;
        for (int a : targets) {
          events.push_back(Ev("agg:" + std::to_string(a), false, R"({"w":)" + std::to_string(w) + "}"));
        }
        const Status st = AppendCommitted(events);
        EXPECT_TRUE(st.ok()) << st;
      }
    });
  }
  auto checkpoint = [&]() -> std::string {
    auto v = redis_->Get(stream_ + ":checkpoint", Soon());
    return v.ok() && v->has_value() ? **v : std::string();
  };
  std::string last = checkpoint();
  for (int kill = 0; kill < 3; ++kill) {
    const pid_t child = testing::SpawnSelf("OutboxChild.DISABLED_Relay", env);
    ASSERT_GT(child, 0);
    const Deadline moved = Deadline::After(10s);
    while (checkpoint() == last && !moved.expired()) std::this_thread::sleep_for(1ms);  // Polls the condition.
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the relay process ended by itself: " << wstatus;
    last = checkpoint();
  }
  for (auto& t : writers) t.join();
  const cdc::GtidPosition end = CurrentPosition();
  const pid_t child = testing::SpawnSelf("OutboxChild.DISABLED_Relay", env);
  ASSERT_GT(child, 0);
  const bool caught_up = Await([&] {
    auto cp = cdc::StreamCheckpoint::Parse(checkpoint());
    return cp.ok() && cp->position.Covers(end.Find(0).value());
  });
  ::kill(child, SIGKILL);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  ASSERT_TRUE(caught_up) << "the last relay process did not catch up: " << checkpoint();

  // The stream: every event committed after `start` exactly once, per aggregate in order.
  const std::vector<StoredEvent> relayed = ReadStream(stream_);
  std::map<std::string, int64_t> last_version;
  for (int a = 0; a < kShared; ++a) last_version["agg:" + std::to_string(a)] = 1;
  std::set<int64_t> ids;
  for (const StoredEvent& e : relayed) {
    EXPECT_TRUE(ids.insert(e.event_id).second) << "event " << e.event_id << " twice";
    EXPECT_EQ(e.aggregate_version, last_version[e.aggregate] + 1) << e.aggregate << " out of order";
    last_version[e.aggregate] = e.aggregate_version;
  }
  std::set<int64_t> expected = IdsInTable();
  for (int64_t i = 1; i <= kShared; ++i) expected.erase(*expected.begin());  // The creations.
  EXPECT_EQ(ids, expected);
  ExpectVersionsWithoutGaps(VersionsInTable());

  // Redeliveries: copies of every 5th entry appended again.
  for (size_t i = 0; i < relayed.size(); i += 5) {
    redis::StreamFields fields;
    const std::vector<std::string> flat = EncodeEventEntry(relayed[i]);
    for (size_t k = 0; k + 1 < flat.size(); k += 2) fields.emplace_back(flat[k], flat[k + 1]);
    ASSERT_TRUE(redis::XAdd(*redis_, stream_, fields, Soon()).ok());
  }
  ASSERT_TRUE(ExecAdmin("CREATE TABLE applied (event_id BIGINT PRIMARY KEY, aggregate VARCHAR(190) NOT NULL, "
                        "version BIGINT NOT NULL) ENGINE=InnoDB")
                  .ok());
  std::atomic<int> applied{0}, duplicates{0};
  ConsumerOptions co;
  co.stream.stream = stream_;
  co.stream.group = "checker";
  co.stream.consumer = "c1";
  co.stream.trim_interval = 0ms;
  co.observer.on_applied = [&](const StoredEvent&) { applied.fetch_add(1); };
  co.observer.on_duplicate = [&](const StoredEvent&) { duplicates.fetch_add(1); };
  auto consumer = Consumer::Start(*redis_, pool(), co, [](sql::Transaction& tx, const StoredEvent& e) -> Status {
    // Applies in version order or refuses (the entry would be retried).
    LOCKSTEP_ASSIGN_OR_RETURN(
        sql::Rows prev, tx.Query("SELECT CAST(COALESCE(MAX(version), 1) AS SIGNED) FROM applied WHERE aggregate = ?", e.aggregate));
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t v, prev[0].GetInt64(0));
    if (v + 1 != e.aggregate_version) return Status::FailedPrecondition("out of order: ", e.aggregate);
    return tx.Execute("INSERT INTO applied (event_id, aggregate, version) VALUES (?, ?, ?)", e.event_id,
                      e.aggregate, e.aggregate_version)
        .status();
  });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  const size_t copies = (relayed.size() + 4) / 5;
  ASSERT_TRUE(Await([&] { return (*consumer)->stats().entries_acked == relayed.size() + copies; }))
      << (*consumer)->stats().entries_acked;
  EXPECT_EQ(applied.load(), static_cast<int>(relayed.size()));
  EXPECT_EQ(duplicates.load(), static_cast<int>(copies));
  EXPECT_EQ((*consumer)->stats().handler_failures, 0u);
  auto lease = pool().Acquire(Soon());
  auto count = lease->Query("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM applied");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*(*count)[0].GetInt64(0), static_cast<int64_t>(relayed.size()));
}

// A handler that always fails for one event: after max_failures attempts the entry is
// copied to the dead-letter stream and acked, and the entries behind it are applied.
TEST_F(OutboxTest, APoisonEntryIsDeadLetteredAndDoesNotBlockTheGroup) {
  ASSERT_TRUE(ExecAdmin("CREATE TABLE applied (event_id BIGINT PRIMARY KEY) ENGINE=InnoDB").ok());
  for (int64_t id = 1; id <= 5; ++id) {
    StoredEvent e;
    e.event_id = id;
    e.type = "thing.created";
    e.aggregate = "p:" + std::to_string(id);
    e.aggregate_version = 1;
    redis::StreamFields fields;
    const std::vector<std::string> flat = EncodeEventEntry(e);
    for (size_t k = 0; k + 1 < flat.size(); k += 2) fields.emplace_back(flat[k], flat[k + 1]);
    ASSERT_TRUE(redis::XAdd(*redis_, stream_, fields, Soon()).ok());
  }
  ASSERT_TRUE(redis::XAdd(*redis_, stream_, {{"type", "garbage"}}, Soon()).ok());  // Undecodable.
  std::atomic<int> dead{0};
  ConsumerOptions co;
  co.stream.stream = stream_;
  co.stream.group = "g";
  co.stream.consumer = "c1";
  co.stream.trim_interval = 0ms;
  co.stream.retry_backoff = {.initial = 1ms, .max = 20ms};
  co.max_failures = 3;
  co.observer.on_dead_letter = [&](const std::string&, const Status&) { dead.fetch_add(1); };
  std::atomic<int> poison_attempts{0};
  auto consumer = Consumer::Start(*redis_, pool(), co, [&](sql::Transaction& tx, const StoredEvent& e) -> Status {
    if (e.event_id == 2) {
      poison_attempts.fetch_add(1);
      return Status::Internal("poison");
    }
    return tx.Execute("INSERT INTO applied (event_id) VALUES (?)", e.event_id).status();
  });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE(Await([&] { return (*consumer)->stats().entries_acked == 6; })) << (*consumer)->stats().entries_acked;
  EXPECT_EQ(poison_attempts.load(), 3);
  EXPECT_EQ(dead.load(), 2);
  auto lease = pool().Acquire(Soon());
  auto rows = lease->Query("SELECT event_id FROM applied ORDER BY event_id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ(*(*rows)[1].GetInt64(0), 3);
  auto dl = redis_->Command({"XRANGE", stream_ + ":dead", "-", "+"}, Soon());
  ASSERT_TRUE(dl.ok());
  ASSERT_EQ(dl->array().size(), 2u);
  std::map<std::string, std::string> first;
  const auto& f = dl->array()[0].array().at(1).array();
  for (size_t k = 0; k + 1 < f.size(); k += 2) first[f[k].str()] = f[k + 1].str();
  EXPECT_EQ(first["event_id"], "2");
  EXPECT_EQ(first["group"], "g");
  EXPECT_NE(first["error"].find("poison"), std::string::npos);
  EXPECT_FALSE(first["source_id"].empty());
}

}  // namespace
}  // namespace lockstep::outbox
