// The outbox relay (lockstep::outbox over cdc::Relay) on the bench stack
// (scripts/bench.sh events). Two measurements:
//  1. Throughput: 8 writers commit --events events as fast as they can (transactions of 1
//     event, then of 10 events: Outbox::AppendBatch, new aggregates), a Relay configured by
//     ConfigureOutboxRelay running from before the first commit. Reports the commit rate
//     (events/s appended) and the relay's rate (events/s in the Redis Stream, from the first
//     commit until the stream's checkpoint covers the last one).
//     And the relay's own capacity: the same events committed with no relay running, then a
//     relay started from before them (events/s until it has caught up).
//  2. Latency: one writer appends --rate events/s (one per transaction) for --seconds; per
//     event, COMMIT returned -> the relay appended its stream entry (on_published): p50/p99.
//
//   lockstep_outbox_bench [--events 20000] [--rate 1000] [--seconds 10]
//
// Servers: LOCKSTEP_MARIADB_PORT (default 13306; user lockstep, password from
// LOCKSTEP_MARIADB_PASSWORD), LOCKSTEP_REDIS_PORT (default 16379). Database outbox_bench
// (dropped and recreated).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_env.h"
#include "lockstep/cdc/relay.h"
#include "lockstep/outbox/event_entry.h"
#include "lockstep/outbox/outbox.h"
#include "lockstep/outbox/outbox_relay.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using lockstep::Deadline;

using lockstep::bench::Die;
using lockstep::bench::Must;

lockstep::sql::ConnectionOptions Connection(const std::string& database) {
  lockstep::sql::ConnectionOptions c;
  const char* port = std::getenv("LOCKSTEP_MARIADB_PORT");
  c.port = port != nullptr && *port != '\0' ? std::atoi(port) : 13306;
  c.user = "lockstep";
  if (const char* pw = std::getenv("LOCKSTEP_MARIADB_PASSWORD")) c.password = pw;
  c.database = database;
  return c;
}

void Exec(lockstep::sql::Pool& pool, const std::string& sql) {
  auto conn = Must(pool.Acquire(Deadline::After(30s)), "acquire");
  if (auto r = conn.Execute(sql, Deadline::After(600s)); !r.ok()) Die(sql.substr(0, 60), r.status());
}

lockstep::cdc::GtidPosition Position(lockstep::sql::Pool& pool) {
  auto conn = Must(pool.Acquire(Deadline::After(30s)), "acquire");
  auto rows = Must(conn.Query("SELECT @@gtid_binlog_pos", Deadline::After(30s)), "gtid_binlog_pos");
  return Must(lockstep::cdc::GtidPosition::Parse(*rows[0].GetString(0)), "parse position");
}

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The event of aggregate `name`.
lockstep::outbox::Event Ev(std::string name) {
  lockstep::outbox::Event e;
  e.type = "bench.created";
  e.aggregate = std::move(name);
  e.data = R"({"amount":1,"note":"outbox bench"})";
  e.creates_aggregate = true;
  return e;
}

// Relay observer state: when each aggregate's entry was appended.
struct Seen {
  std::mutex mu;
  std::map<std::string, Clock::time_point> at;
  std::atomic<int64_t> events{0};
};

std::unique_ptr<lockstep::cdc::Relay> StartRelay(lockstep::redis::Client& redis, const std::string& stream,
                                                 const lockstep::cdc::GtidPosition& start, Seen& seen) {
  lockstep::cdc::RelayOptions o;
  o.reader.connection = Connection("");
  o.reader.server_id = 7500 + static_cast<uint32_t>(::getpid() % 1000);
  o.reader.start = start;
  o.reader.max_queued_transactions = 256;
  if (auto s = lockstep::outbox::ConfigureOutboxRelay(o, "outbox_bench", "outbox", stream); !s.ok()) Die("configure", s);
  o.publisher.append_timeout = 30s;
  o.observer.on_published = [&seen](const lockstep::cdc::CommittedTransaction& txn, size_t entries) {
    const auto now = Clock::now();
    seen.events.fetch_add(static_cast<int64_t>(entries));
    std::lock_guard<std::mutex> lock(seen.mu);
    for (const lockstep::cdc::RowChange& c : txn.changes) {
      if (auto e = lockstep::outbox::EventFromRow(c); e.ok()) seen.at[e->aggregate] = now;
    }
  };
  return Must(lockstep::cdc::Relay::Start(redis, o), "relay");
}

}  // namespace

int main(int argc, char** argv) {
  int events = 20'000, rate = 1'000, seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (arg == "--events") events = value;
    else if (arg == "--rate") rate = value;
    else if (arg == "--seconds") seconds = value;
    else { std::fprintf(stderr, "outbox_bench: unknown argument %s\n", arg.c_str()); return 2; }
  }
  lockstep::sql::PoolOptions po;
  po.max_connections = 16;
  auto admin = Must(lockstep::sql::Pool::Open(Connection(""), po), "pool");
  Exec(*admin, "DROP DATABASE IF EXISTS outbox_bench");
  Exec(*admin, "CREATE DATABASE outbox_bench");
  auto pool = Must(lockstep::sql::Pool::Open(Connection("outbox_bench"), po), "pool");
  const lockstep::outbox::Outbox outbox = Must(lockstep::outbox::Outbox::Create({}), "outbox");
  for (const std::string& ddl : outbox.SchemaStatements()) Exec(*pool, ddl);
  lockstep::redis::RedisOptions ro;
  ro.port = lockstep::bench::RedisPort();
  auto redis = Must(lockstep::redis::Client::Open(ro), "redis");
  const std::string stream = "outbox_bench:events";
  (void)redis->Del({stream, stream + ":checkpoint", stream + ":fence"}, Deadline::After(10s));

  std::printf("== outbox relay throughput: 8 writers, %d events per run\n", events);
  for (int per_txn : {1, 10}) {
    Seen seen;
    auto relay = StartRelay(*redis, stream, Position(*pool), seen);
    constexpr int kWriters = 8;
    const int txns_per_writer = events / per_txn / kWriters;
    const auto t0 = Clock::now();
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int t = 0; t < txns_per_writer; ++t) {
          std::vector<lockstep::outbox::Event> batch;
          for (int k = 0; k < per_txn; ++k) {
            batch.push_back(Ev("t" + std::to_string(per_txn) + ":" + std::to_string(w) + ":" + std::to_string(t) + ":" +
                               std::to_string(k)));
          }
          lockstep::Status s = lockstep::sql::RunInTransaction(
              *pool, {}, Deadline::After(30s), [&](lockstep::sql::Transaction& tx) { return outbox.AppendBatch(tx, batch); });
          if (!s.ok()) Die("append", s);
        }
      });
    }
    for (auto& t : writers) t.join();
    const auto t1 = Clock::now();
    if (!relay->AwaitPosition(Position(*pool), Deadline::After(600s))) Die("relay", relay->status());
    const auto t2 = Clock::now();
    const int total = txns_per_writer * kWriters * per_txn;
    std::printf("  %2d event(s)/transaction: committed %.0f events/s; in the stream %.0f events/s "
                "(%.2f of the commit rate; relay %.0f ms behind the last commit); %lld entries\n",
                per_txn, total / Secs(t1 - t0), total / Secs(t2 - t0), Secs(t1 - t0) / Secs(t2 - t0),
                1000 * Secs(t2 - t1), static_cast<long long>(seen.events.load()));
    relay->Stop();
  }

  {
    // The relay's own capacity: a backlog of `events` events (10 per transaction, committed
    // with no relay running), then a relay from before the first: events/s until caught up.
    const lockstep::cdc::GtidPosition before = Position(*pool);
    constexpr int kWriters = 8;
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int t = 0; t < events / 10 / kWriters; ++t) {
          std::vector<lockstep::outbox::Event> batch;
          for (int k = 0; k < 10; ++k) {
            batch.push_back(Ev("b:" + std::to_string(w) + ":" + std::to_string(t) + ":" + std::to_string(k)));
          }
          lockstep::Status s = lockstep::sql::RunInTransaction(
              *pool, {}, Deadline::After(30s), [&](lockstep::sql::Transaction& tx) { return outbox.AppendBatch(tx, batch); });
          if (!s.ok()) Die("append", s);
        }
      });
    }
    for (auto& t : writers) t.join();
    const lockstep::cdc::GtidPosition end = Position(*pool);
    Seen seen;
    const auto t0 = Clock::now();
    auto relay = StartRelay(*redis, stream, before, seen);
    if (!relay->AwaitPosition(end, Deadline::After(600s))) Die("relay", relay->status());
    const auto t1 = Clock::now();
    std::printf("  backlog of %lld events (10 per transaction), relay started after the commits: %.0f events/s\n",
                static_cast<long long>(seen.events.load()), seen.events.load() / Secs(t1 - t0));
    relay->Stop();
  }

  std::printf("== outbox end-to-end latency: %d events/s (1 per transaction) for %d s\n", rate, seconds);
  Seen seen;
  auto relay = StartRelay(*redis, stream, Position(*pool), seen);
  std::map<std::string, Clock::time_point> committed;
  const auto period = std::chrono::nanoseconds(1'000'000'000LL / std::max(1, rate));
  const auto start = Clock::now();
  auto next = start;
  for (int64_t n = 0; Clock::now() - start < std::chrono::seconds(seconds); ++n) {
    std::this_thread::sleep_until(next);  // Pacing of the open-loop writer.
    next += period;
    const std::string name = "l:" + std::to_string(n);
    lockstep::Status s = lockstep::sql::RunInTransaction(
        *pool, {}, Deadline::After(30s), [&](lockstep::sql::Transaction& tx) { return outbox.Append(tx, Ev(name)); });
    if (!s.ok()) Die("append", s);
    committed[name] = Clock::now();
  }
  if (!relay->AwaitPosition(Position(*pool), Deadline::After(600s))) Die("relay", relay->status());
  std::vector<int64_t> us;
  {
    std::lock_guard<std::mutex> lock(seen.mu);
    for (const auto& [name, at] : committed) {
      auto it = seen.at.find(name);
      if (it == seen.at.end()) Die("missing " + name, lockstep::Status::Internal("not relayed"));
      us.push_back(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(it->second - at).count()));
    }
  }
  relay->Stop();
  const double p50 = lockstep::bench::Percentile(us, 0.50), p99 = lockstep::bench::Percentile(us, 0.99),
               max = lockstep::bench::Percentile(us, 1.0);
  std::printf("  COMMIT returned -> entry in the stream: %zu events (%.0f/s achieved), p50 %.2f ms, p99 %.2f ms, "
              "max %.2f ms\n",
              us.size(), us.size() / static_cast<double>(seconds), p50, p99, max);
  (void)redis->Del({stream, stream + ":checkpoint", stream + ":fence"}, Deadline::After(10s));
  Exec(*admin, "DROP DATABASE IF EXISTS outbox_bench");
  return 0;
}
