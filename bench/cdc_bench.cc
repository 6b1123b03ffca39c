// Binlog CDC against the same run's replica (scripts/bench.sh cdc starts primary + replica +
// Redis). Two measurements:
//  1. Throughput: one UPDATE of --rows rows (one transaction). From its COMMIT: how fast a
//     Relay (binlog reader + exactly-once stream publisher) has every row decoded and in the
//     Redis Stream, beside how fast the replica's SQL thread applied the same transaction
//     (MASTER_GTID_WAIT on the replica). Rows/s for both.
//  2. Latency: paced writers change --rates rows/s (10 rows per transaction, rate/100 above 1,000 rows/s) for --seconds
//     each; a StreamConsumer (as shopd's product-cache feed) invalidates a ByteCache entry
//     per changed row. Per row: COMMIT returned -> its invalidation returned (p50/p99/max),
//     and per transaction: COMMIT returned -> the replica shows it (a marker row polled on
//     the replica every ~1 ms: the replica's apply lag, measured in the same run).
//
//   lockstep_cdc_bench [--rows 1000000] [--rates 1000,10000] [--seconds 10]
//
// Servers: LOCKSTEP_MARIADB_PORT (primary, default 13306; user lockstep, password from
// LOCKSTEP_MARIADB_PASSWORD, default none), LOCKSTEP_REPLICA_PORT (default primary + 1),
// LOCKSTEP_REDIS_PORT (default 16379). Uses the database cdc_bench (dropped and recreated).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_env.h"
#include "lockstep/cache/byte_cache.h"
#include "lockstep/cdc/relay.h"
#include "lockstep/cdc/stream_entry.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/stream_consumer.h"
#include "lockstep/sql/pool.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using lockstep::Deadline;

// Rows per paced transaction: 10, or rate/100 when larger (at most 100 commits/s: a loaded
// 2-core primary with durable commits cannot take 1,000 commits/s beside the rest).
constexpr int kMinRowsPerTxn = 10;
int RowsPerTxn(int rate) { return std::max(kMinRowsPerTxn, rate / 100); }

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

using lockstep::bench::Die;
using lockstep::bench::Must;

lockstep::sql::ConnectionOptions Connection(int port, const std::string& database) {
  lockstep::sql::ConnectionOptions c;
  c.port = port;
  c.user = "lockstep";
  if (const char* pw = std::getenv("LOCKSTEP_MARIADB_PASSWORD")) c.password = pw;
  c.database = database;
  return c;
}

void Exec(lockstep::sql::Pool& pool, const std::string& sql) {
  auto conn = Must(pool.Acquire(Deadline::After(30s)), "acquire");
  if (auto r = conn.Execute(sql, Deadline::After(600s)); !r.ok()) Die(sql.substr(0, 60), r.status());
}

std::string GtidPos(lockstep::sql::Pool& pool) {
  auto conn = Must(pool.Acquire(Deadline::After(30s)), "acquire");
  auto rows = Must(conn.Query("SELECT @@gtid_binlog_pos", Deadline::After(30s)), "gtid_binlog_pos");
  return *rows[0].GetString(0);
}

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void PrintPercentiles(const char* what, std::vector<int64_t> us) {
  if (us.empty()) {
    std::printf("  %s: no samples\n", what);
    return;
  }
  const double p50 = lockstep::bench::Percentile(us, 0.50), p99 = lockstep::bench::Percentile(us, 0.99),
               max = lockstep::bench::Percentile(us, 1.0);
  std::printf("  %s: %zu samples, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", what, us.size(), p50, p99, max);
}

lockstep::cdc::RelayOptions RelayOptionsFor(int port, const std::string& stream) {
  lockstep::cdc::RelayOptions o;
  o.reader.connection = Connection(port, "");
  o.reader.server_id = 7000 + static_cast<uint32_t>(::getpid() % 1000);
  o.reader.tables = {lockstep::cdc::TableFilter{"cdc_bench", "*"}};
  o.reader.max_queued_transactions = 256;
  o.publisher.stream = stream;
  o.publisher.append_timeout = 30s;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1'000'000;
  std::vector<int> rates = {1'000, 10'000};
  int seconds = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "cdc_bench: %s needs a value\n", arg.c_str());
      return 2;
    }
    const std::string value = argv[++i];
    if (arg == "--rows") {
      rows = std::atoll(value.c_str());
    } else if (arg == "--seconds") {
      seconds = std::atoi(value.c_str());
    } else if (arg == "--rates") {
      rates.clear();
      for (size_t start = 0; start < value.size();) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        rates.push_back(std::atoi(value.substr(start, comma - start).c_str()));
        start = comma + 1;
      }
    } else {
      std::fprintf(stderr, "cdc_bench: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  if (rows < 1 || seconds < 1 || rates.empty() ||
      std::any_of(rates.begin(), rates.end(), [](int r) { return r < kMinRowsPerTxn; })) {
    std::fprintf(stderr, "cdc_bench: need --rows >= 1, --seconds >= 1, every rate >= %d\n", kMinRowsPerTxn);
    return 2;
  }
  const int primary_port = EnvInt("LOCKSTEP_MARIADB_PORT", 13306);
  const int replica_port = EnvInt("LOCKSTEP_REPLICA_PORT", primary_port + 1);
  lockstep::redis::Client* redis = lockstep::bench::SharedRedisClient();
  if (redis == nullptr) {
    std::fprintf(stderr, "cdc_bench: cannot connect to Redis on port %d\n", lockstep::bench::RedisPort());
    return 1;
  }
  lockstep::sql::PoolOptions pool_options;
  pool_options.max_connections = 40;
  pool_options.acquire_timeout = 5s;
  auto admin = Must(lockstep::sql::Pool::Open(Connection(primary_port, ""), pool_options), "primary");
  Exec(*admin, "DROP DATABASE IF EXISTS cdc_bench");
  Exec(*admin, "CREATE DATABASE cdc_bench");
  auto primary = Must(lockstep::sql::Pool::Open(Connection(primary_port, "cdc_bench"), pool_options), "primary");
  auto replica = Must(lockstep::sql::Pool::Open(Connection(replica_port, ""), pool_options), "replica");
  Exec(*primary, "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(40) NOT NULL) ENGINE=InnoDB");
  Exec(*primary, "CREATE TABLE mark (id INT PRIMARY KEY, seq BIGINT NOT NULL) ENGINE=InnoDB");
  Exec(*primary, "INSERT INTO mark VALUES (1, 0)");
  const std::string stream = "bench:cdc:" + std::to_string(::getpid());
  auto cleanup = [&] {
    (void)redis->Del({stream, stream + ":checkpoint", stream + ":fence"}, Deadline::After(60s));
  };

  // 1. Throughput: one UPDATE of `rows` rows.
  std::printf("== cdc throughput: one UPDATE of %lld rows (one transaction)\n", static_cast<long long>(rows));
  Exec(*primary, "INSERT INTO t SELECT seq, 0, 'padding-padding-padding-padding' FROM seq_1_to_" + std::to_string(rows));
  auto wait_replica = [&](const std::string& pos) {
    auto conn = Must(replica->Acquire(Deadline::After(30s)), "replica acquire");
    auto r = Must(conn.Query("SELECT MASTER_GTID_WAIT(?, 600)", pos, Deadline::After(700s)), "MASTER_GTID_WAIT");
    if (*r[0].GetInt64(0) != 0) {
      std::fprintf(stderr, "cdc_bench: the replica did not reach %s\n", pos.c_str());
      std::exit(1);
    }
  };
  wait_replica(GtidPos(*primary));  // The load is applied on the replica before measuring.
  {
    lockstep::cdc::RelayOptions o = RelayOptionsFor(primary_port, stream);
    o.reader.max_transaction_rows = static_cast<size_t>(rows) + 10;
    auto relay = Must(lockstep::cdc::Relay::Start(*redis, o), "relay");
    // The relay starts at the primary's current position: await its checkpoint first.
    const Deadline ready = Deadline::After(60s);
    while ((*relay).checkpoint().position.gtids().empty() && !ready.expired()) std::this_thread::sleep_for(1ms);
    const Clock::time_point t0 = Clock::now();
    Exec(*primary, "UPDATE t SET v = v + 1");
    const Clock::time_point committed = Clock::now();
    const std::string pos = GtidPos(*primary);
    std::thread replica_waiter;
    Clock::time_point replica_done;
    replica_waiter = std::thread([&] {
      wait_replica(pos);
      replica_done = Clock::now();
    });
    auto parsed = Must(lockstep::cdc::GtidPosition::Parse(pos), "gtid");
    if (!relay->AwaitPosition(parsed, Deadline::After(600s))) Die("relay", relay->status());
    const Clock::time_point cdc_done = Clock::now();
    replica_waiter.join();
    const double n = static_cast<double>(rows);
    std::printf("  UPDATE statement + COMMIT: %.2f s\n", Secs(committed - t0));
    std::printf("  cdc: every row decoded and in the stream %.2f s after COMMIT: %.0f rows/s\n",
                Secs(cdc_done - committed), n / Secs(cdc_done - committed));
    std::printf("  replica: applied %.2f s after COMMIT: %.0f rows/s\n", Secs(replica_done - committed),
                n / Secs(replica_done - committed));
    std::printf("  ratio cdc / replica apply rate: %.2f\n", Secs(replica_done - committed) / Secs(cdc_done - committed));
    relay->Stop();
    cleanup();
  }

  // 2. Latency at paced rates.
  for (size_t phase = 0; phase < rates.size(); ++phase) {
    const int rate = rates[phase];
    // Each phase writes values no earlier phase wrote: an UPDATE that changes nothing is
    // not in the binlog.
    const int64_t offset = static_cast<int64_t>(phase + 1) * 1'000'000'000;
    const int kRowsPerTxn = RowsPerTxn(rate);
    std::printf("== cdc latency: %d changed rows/s (%d rows per transaction), %d s\n", rate, kRowsPerTxn, seconds);
    const int64_t txns = static_cast<int64_t>(rate) / kRowsPerTxn * seconds;
    // Microseconds since `origin` when transaction k's COMMIT returned (-1 before).
    std::vector<std::atomic<int64_t>> commit_us(static_cast<size_t>(txns) + 1);
    for (auto& a : commit_us) a.store(-1);
    std::vector<std::atomic<int64_t>> replica_seen_us(static_cast<size_t>(txns) + 1);
    for (auto& a : replica_seen_us) a.store(-1);
    const Clock::time_point origin = Clock::now();
    std::mutex mu;
    std::vector<int64_t> invalidation_us;
    std::atomic<int64_t> invalidated{0};

    lockstep::cache::CacheOptions co;
    co.key_prefix = stream + ":";
    co.name = "rows";
    auto cache = Must(lockstep::cache::ByteCache::Open(*redis, co), "cache");
    auto relay = Must(lockstep::cdc::Relay::Start(*redis, RelayOptionsFor(primary_port, stream)), "relay");
    const Deadline ready = Deadline::After(60s);
    while (relay->checkpoint().position.gtids().empty() && !ready.expired()) std::this_thread::sleep_for(1ms);
    lockstep::redis::StreamConsumerOptions so;
    so.stream = stream;
    so.group = "bench";
    so.consumer = "c1";
    so.batch_size = 500;
    so.block = 100ms;
    so.trim_interval = 0ms;
    auto consumer = Must(
        lockstep::redis::StreamConsumer::Start(
            *redis, so,
            [&](std::vector<lockstep::redis::StreamEntry>& entries, std::vector<lockstep::Status>&) -> lockstep::Status {
              // As shopd's product feed: the batch's invalidations in one pipeline.
              std::vector<lockstep::cache::ByteCache::Invalidation> batch;
              std::vector<int64_t> seqs;
              for (const lockstep::redis::StreamEntry& e : entries) {
                std::vector<std::string> fields;
                for (const auto& [k, v] : e.fields) {
                  fields.push_back(k);
                  fields.push_back(v);
                }
                auto decoded = lockstep::cdc::DecodeRowEntries(fields);
                if (!decoded.ok()) continue;
                for (const lockstep::cdc::StreamRow& row : *decoded) {
                  if (row.table != "t") continue;
                  batch.push_back({row.Get("id")->ToString(), lockstep::cache::kUnknownVersion});
                  seqs.push_back(row.Get("v")->i - offset);
                }
              }
              LOCKSTEP_RETURN_IF_ERROR(cache->InvalidateMany(batch, Deadline::After(5s)));
              const int64_t now_us =
                  std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - origin).count();
              for (const int64_t seq : seqs) {
                if (seq >= 1 && seq <= txns) {
                  // A row can be invalidated before its writer thread stored the time its
                  // COMMIT returned: that sample counts as 0.
                  const int64_t committed = commit_us[static_cast<size_t>(seq)].load();
                  const int64_t us = committed < 0 ? 0 : std::max<int64_t>(0, now_us - committed);
                  std::lock_guard<std::mutex> lock(mu);
                  invalidation_us.push_back(us);
                }
                invalidated.fetch_add(1);
              }
              return lockstep::Status::Ok();
            }),
        "consumer");

    // Replica poller: the marker row's seq, every ~1 ms.
    std::atomic<bool> stop_poller{false};
    std::thread poller([&] {
      auto conn = Must(replica->Acquire(Deadline::After(30s)), "replica acquire");
      int64_t seen = 0;
      while (!stop_poller.load()) {
        auto r = conn.Query("SELECT seq FROM cdc_bench.mark WHERE id = 1", Deadline::After(5s));
        if (r.ok() && !r->empty()) {
          const int64_t s = *(*r)[0].GetInt64(0) - offset;  // This phase's k (< 1 before its first).
          const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - origin).count();
          for (int64_t k = seen + 1; k <= std::min(s, txns); ++k) replica_seen_us[static_cast<size_t>(k)].store(now_us);
          seen = std::max(seen, s);
          if (seen >= txns) break;
        }
        std::this_thread::sleep_for(1ms);
      }
    });

    // Writers: transaction k (1..txns) sets v = k on rows k*10 .. k*10+9 (wrapping over the
    // table) and the marker to k; paced at rate/10 transactions per second over 32 threads.
    const int kWriters = 32;
    const auto interval = std::chrono::nanoseconds(1'000'000'000LL * kRowsPerTxn / rate);
    const Clock::time_point start = Clock::now() + 10ms;
    std::atomic<int64_t> next_txn{1};
    std::atomic<int64_t> late{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&] {
        while (true) {
          const int64_t k = next_txn.fetch_add(1);
          if (k > txns) return;
          const Clock::time_point due = start + interval * (k - 1);
          if (Clock::now() > due + 50ms) late.fetch_add(1);
          std::this_thread::sleep_until(due);
          const int64_t first = (k * kRowsPerTxn) % rows + 1;
          auto tx = Must(primary->Begin({}, Deadline::After(30s)), "begin");
          if (auto r = tx.Execute("UPDATE t SET v = ? WHERE id BETWEEN ? AND ?", offset + k, first, first + kRowsPerTxn - 1);
              !r.ok()) {
            Die("update", r.status());
          }
          if (auto r = tx.Execute("UPDATE mark SET seq = GREATEST(seq, ?) WHERE id = 1", offset + k); !r.ok()) {
            Die("mark", r.status());
          }
          if (auto s = tx.Commit(); !s.ok()) Die("commit", s);
          commit_us[static_cast<size_t>(k)].store(
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - origin).count());
        }
      });
    }
    for (std::thread& t : writers) t.join();
    const Clock::time_point wrote = Clock::now();
    const Deadline drain = Deadline::After(120s);
    while (invalidated.load() < txns * kRowsPerTxn && !drain.expired()) std::this_thread::sleep_for(1ms);
    stop_poller = true;
    poller.join();
    consumer->Stop();
    relay->Stop();
    std::printf("  offered %.0f rows/s (%lld transactions, %lld started > 50 ms late)\n",
                static_cast<double>(txns * kRowsPerTxn) / Secs(wrote - start), static_cast<long long>(txns),
                static_cast<long long>(late.load()));
    std::vector<int64_t> replica_us;
    for (int64_t k = 1; k <= txns; ++k) {
      const int64_t seen = replica_seen_us[static_cast<size_t>(k)].load();
      if (seen < 0) continue;
      replica_us.push_back(std::max<int64_t>(0, seen - commit_us[static_cast<size_t>(k)].load()));
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      PrintPercentiles("COMMIT returned -> cache invalidated (per row)", invalidation_us);
    }
    PrintPercentiles("COMMIT returned -> replica shows it (per transaction, polled every ~1 ms)", replica_us);
    cleanup();
    (void)redis->Del({co.key_prefix + "rows:~bus"}, Deadline::After(10s));
  }
  Exec(*admin, "DROP DATABASE IF EXISTS cdc_bench");
  return 0;
}
