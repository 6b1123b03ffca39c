// lockstep-cdc: reads a MariaDB primary's binlog and appends the row changes of the watched
// tables to a Redis Stream, exactly once across crashes (lockstep::cdc::Relay; the stream's
// checkpoint key says where to resume). Any number of lockstep-cdc processes (and shopd
// instances with --cdc 1) may run for one stream: they elect one leader with a fenced lease
// (lockstep::cdc::ElectedRelay); the others stand by. Logs progress every --progress-ms.
// SIGTERM/SIGINT -> stop -> exit 0. A relay that stops by itself (a gap with --gap stop,
// settings that cannot feed CDC) is logged and retried after --lease-ms; 2 on bad flags.
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "lockstep/cdc/elected_relay.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/redis/url.h"
#include "lockstep/sql/url.h"

namespace {

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lockstep-cdc: MariaDB binlog row changes -> Redis Stream, exactly once"};
  std::string mysql_url = "mysql://lockstep@127.0.0.1:13306/";
  std::string redis_url = "redis://127.0.0.1:16379";
  std::string stream;
  std::string tables;
  std::string start;
  std::string gap = "stop";
  std::string log_level = "info";
  unsigned server_id = 4242;
  int progress_ms = 5000;
  int lease_ms = 3000;
  app.add_option("--mysql", mysql_url, "MariaDB primary URL (user needs REPLICATION SLAVE)");
  app.add_option("--redis", redis_url, "Redis URL");
  app.add_option("--stream", stream, "Redis Stream key (checkpoint: <stream>:checkpoint)")->required();
  app.add_option("--tables", tables, "watched tables, comma-separated db.table or db.*")->required();
  app.add_option("--server-id", server_id, "replica server_id of this reader (unique on the primary)");
  app.add_option("--start", start, "GTID position to start after when the stream has no checkpoint (default: now)");
  app.add_option("--gap", gap, "purged checkpoint: 'stop' (exit 1) or 'record' (gap entry, continue)")
      ->check(CLI::IsMember({"stop", "record"}));
  app.add_option("--progress-ms", progress_ms, "progress log interval")->check(CLI::PositiveNumber);
  app.add_option("--lease-ms", lease_ms, "leader lease: a dead leader is replaced within about this long")
      ->check(CLI::Range(100, 600'000));
  app.add_option("--log-level", log_level, "spdlog level");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::flush_on(spdlog::level::info);

  lockstep::cdc::RelayOptions options;
  auto conn = lockstep::sql::ParseMysqlUrl(mysql_url);
  if (!conn.ok()) {
    spdlog::critical("--mysql: {}", conn.status().ToString());
    return 2;
  }
  options.reader.connection = *conn;
  options.reader.server_id = server_id;
  for (const std::string& t : Split(tables)) {
    auto filter = lockstep::cdc::TableFilter::Parse(t);
    if (!filter.ok()) {
      spdlog::critical("--tables: {}", filter.status().ToString());
      return 2;
    }
    options.reader.tables.push_back(*filter);
  }
  if (!start.empty()) {
    auto pos = lockstep::cdc::GtidPosition::Parse(start);
    if (!pos.ok()) {
      spdlog::critical("--start: {}", pos.status().ToString());
      return 2;
    }
    options.reader.start = *pos;
  }
  options.publisher.stream = stream;
  options.reader.heartbeat_period = std::chrono::milliseconds(1000);
  options.gap_policy = gap == "record" ? lockstep::cdc::GapPolicy::kRecordAndContinue : lockstep::cdc::GapPolicy::kStop;
  // Counters for the progress line; written by the relay thread only.
  std::atomic<uint64_t> transactions{0}, entries{0}, retries{0}, gaps{0};
  options.observer.on_published = [&](const lockstep::cdc::CommittedTransaction&, size_t n) {
    transactions.fetch_add(1, std::memory_order_relaxed);
    entries.fetch_add(n, std::memory_order_relaxed);
  };
  options.observer.on_retry = [&](const lockstep::Status& s) {
    retries.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("cdc: reconnecting after: {}", s.ToString());
  };
  options.observer.on_gap = [&](const lockstep::Status& s) {
    gaps.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("cdc: {}", s.ToString());
  };

  auto redis_options = lockstep::redis::ParseRedisUrl(redis_url);
  if (!redis_options.ok()) {
    spdlog::critical("--redis: {}", redis_options.status().ToString());
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // Before any thread starts.

  auto redis = lockstep::redis::Client::Open(*redis_options);
  if (!redis.ok()) {
    spdlog::critical("redis: {}", redis.status().ToString());
    return 2;
  }
  auto locks = lockstep::lock::LockService::Create(**redis, {.key_prefix = stream + ":"});
  if (!locks.ok()) {
    spdlog::critical("cdc: {}", locks.status().ToString());
    return 2;
  }
  lockstep::cdc::ElectedRelayOptions elected;
  elected.relay = options;
  elected.lock_name = "leader";
  elected.lease = std::chrono::milliseconds(lease_ms);
  elected.terminal_retry = std::chrono::milliseconds(std::max(lease_ms, 1000));
  elected.observer.on_leadership = [](bool leader, int64_t fence) {
    if (leader) {
      spdlog::info("cdc: leading (fence {})", fence);
    } else {
      spdlog::warn("cdc: no longer leading (fence {}); standing by", fence);
    }
  };
  elected.observer.on_relay_stopped = [](const lockstep::Status& s) {
    spdlog::error("cdc: relay stopped: {}", s.ToString());
  };
  auto relay = lockstep::cdc::ElectedRelay::Start(**redis, **locks, elected);
  if (!relay.ok()) {
    spdlog::critical("cdc: {}", relay.status().ToString());
    return 2;
  }
  spdlog::info("cdc: {} -> {} (tables {}, server_id {})", conn->ToString(), stream, tables, server_id);
  const timespec interval{progress_ms / 1000, (progress_ms % 1000) * 1'000'000L};
  while (true) {
    const int sig = sigtimedwait(&signals, nullptr, &interval);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("cdc: signal {}, stopping", sig);
      break;
    }
    if ((*relay)->leader()) {
      spdlog::info("cdc: leader (fence {}): {} transactions, {} entries appended, checkpoint '{}', {} reconnects, {} gaps",
                   (*relay)->fence(), transactions.load(), entries.load(), (*relay)->checkpoint().ToString(),
                   retries.load(), gaps.load());
    } else {
      spdlog::info("cdc: standing by ({} terms led so far)", (*relay)->terms());
    }
  }
  (*relay)->Stop();
  return 0;
}
