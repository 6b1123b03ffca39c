// shopd: wiring only (STYLE.md R8). Config -> logging -> server + routes -> run until
// SIGTERM/SIGINT (SIGHUP: reload the rate limits) -> drain -> exit 0.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "config/config.h"
#include "domain/accounts/accounts.h"
#include "domain/checkouts/checkout_service.h"
#include "domain/checkouts/checkout_test_hook.h"
#include "domain/domain_metrics.h"
#include "domain/in_flight.h"
#include "domain/orders/orders.h"
#include "domain/products/product_change_feed.h"
#include "domain/products/products.h"
#include "domain/orders/reconcile.h"
#include "domain/orders/reservation_persister.h"
#include "domain/orders/reservations.h"
#include "api/checkout_routes.h"
#include "api/event_routes.h"
#include "api/rate_limit_gate.h"
#include "api/routes.h"
#include "domain/schema.h"
#include "domain/transfers/transfers.h"
#include "domain/write_tokens.h"
#include "http/ops_routes.h"
#include "http/server.h"
#include "lockstep/base/backoff.h"
#include "lockstep/cache/byte_cache.h"
#include "domain/events/events.h"
#include "domain/events/events_relay.h"
#include "lockstep/cdc/elected_relay.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/prometheus/observers.h"
#include "lockstep/prometheus/snapshots.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/url.h"
#include "lockstep/routing/replica_set.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/url.h"

namespace {

// The breakers around MariaDB and Redis: open once half the calls of the last 5 s (at least
// 10) failed for the server's sake (unreachable, lost, too slow for their deadline); then
// calls fail at once (503 unavailable, Retry-After: 1 = the open time rounded up) for 1 s,
// after which one probe call decides.
lockstep::CircuitBreakerOptions DependencyBreaker() {
  return {.window = std::chrono::seconds(5),
          .buckets = 10,
          .min_requests = 10,
          .failure_ratio = 0.5,
          .open_duration = std::chrono::seconds(1),
          .half_open_probes = 1,
          .on_transition = {}};
}

// Logs the transitions of the breaker around `server` (also counted in /metrics).
std::function<void(lockstep::BreakerState)> LogBreaker(std::string server) {
  return [server = std::move(server)](lockstep::BreakerState to) {
    if (to == lockstep::BreakerState::kOpen) {
      spdlog::warn("{} circuit breaker open: calls fail at once for {} ms", server,
                   DependencyBreaker().open_duration.count());
    } else {
      spdlog::info("{} circuit breaker {}", server, lockstep::BreakerStateName(to));
    }
  };
}

shopd::http::ServerOptions ServerOptionsFrom(const shopd::config::ShopdConfig& c,
                                             const shopd::config::ListenAddress& listen) {
  shopd::http::ServerOptions o;
  o.host = listen.host;
  o.port = listen.port;
  o.io_threads = c.io_threads;
  o.worker_threads = c.worker_threads;
  o.queue_limit = c.queue_limit;
  if (c.admission_control) {
    lockstep::resilience::AdmissionOptions a;
    a.target_delay = c.admission_target;
    a.interval = c.admission_interval;
    // The limit only shrinks while the queue stands; it starts at (and never exceeds) what
    // the pool can hold, and never goes below one request per worker.
    a.min_limit = c.worker_threads;
    a.servers = c.worker_threads;
    a.initial_limit = a.max_limit = c.worker_threads + c.queue_limit;
    o.admission = a;
  }
  o.body_limit_bytes = static_cast<size_t>(c.body_limit_bytes);
  o.header_timeout = c.header_timeout;
  o.idle_timeout = c.idle_timeout;
  o.default_request_timeout = c.default_request_timeout;
  o.max_request_timeout = c.max_request_timeout;
  o.drain_timeout = c.drain_timeout;
  return o;
}

// Opens the MariaDB pool, retrying while the server is still starting (up to `budget`).
// Its observer reports to `registry`.
// `conn` is c.mysql_connection or c.payments_connection (parsed once by LoadConfig);
// metrics under `metrics_prefix`.
lockstep::Result<std::unique_ptr<lockstep::sql::Pool>> OpenMariaDb(const shopd::config::ShopdConfig& c,
                                                                   lockstep::sql::ConnectionOptions conn,
                                                                   const std::string& metrics_prefix,
                                                                   std::chrono::seconds budget,
                                                                   prometheus::Registry& registry) {
  conn.ssl_ca = c.mysql_ssl_ca;
  conn.ssl_cert = c.mysql_ssl_cert;
  conn.ssl_key = c.mysql_ssl_key;
  lockstep::sql::PoolOptions options;
  // One connection per worker, per order-batch thread and for the reserved-mode persister:
  // none ever waits for a connection another one holds (+4 for id blocks, readiness,
  // migrations; +1 for the product cache's pending-invalidation replayer).
  options.max_connections = c.worker_threads + shopd::domain::OrderServiceOptions{}.batch_threads +
                            (c.reserved_persister != 0 ? 1 : 0) + 4 + 1 +
                            (c.checkout_merchant_account > 0 ? 1 : 0);  // Checkout recovery thread.
  options.acquire_timeout = std::chrono::seconds(2);
  options.breaker = DependencyBreaker();
  options.observer.on_breaker_state = LogBreaker("MariaDB");
  LOCKSTEP_RETURN_IF_ERROR(lockstep::prometheus::BindPoolObserver(registry, options.observer, metrics_prefix));
  const lockstep::Deadline deadline = lockstep::Deadline::After(budget);
  lockstep::Backoff backoff({.initial = std::chrono::milliseconds(100), .max = std::chrono::seconds(2)});
  for (;;) {
    auto pool = lockstep::sql::Pool::Open(conn, options);
    if (pool.ok() || pool.status().code() != lockstep::StatusCode::kUnavailable) return pool;
    spdlog::warn("MariaDB {} not reachable yet: {}", conn.ToString(), pool.status().ToString());
    if (!backoff.Wait(deadline).ok()) return pool;
  }
}

// Readiness of a MariaDB pool: `SELECT 1` answers within min(deadline, 2 s).
std::function<lockstep::Status(const lockstep::Deadline&)> PoolAnswers(lockstep::sql::Pool& pool) {
  return [&pool](const lockstep::Deadline& d) -> lockstep::Status {
    const lockstep::Deadline capped = d.CappedAt(std::chrono::seconds(2));
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool.Acquire(capped));
    return conn.Query("SELECT 1", capped).status();
  };
}

// Opens the pool of one MariaDB replica, retrying while it (or the database, which reaches
// it through replication) is not there yet, up to `budget`. Sized for every worker, the
// routing monitor's prober and one MASTER_GTID_WAIT per worker.
lockstep::Result<std::unique_ptr<lockstep::sql::Pool>> OpenReplica(const shopd::config::ShopdConfig& c,
                                                                   lockstep::sql::ConnectionOptions conn,
                                                                   std::chrono::seconds budget) {
  conn.ssl_ca = c.mysql_ssl_ca;
  conn.ssl_cert = c.mysql_ssl_cert;
  conn.ssl_key = c.mysql_ssl_key;
  lockstep::sql::PoolOptions options;
  options.max_connections = 2 * c.worker_threads + 2;
  // A replica that cannot give a connection soon is skipped for the primary.
  options.acquire_timeout = std::chrono::milliseconds(200);
  options.breaker = DependencyBreaker();
  options.observer.on_breaker_state = LogBreaker("MariaDB replica " + conn.ToString());
  const lockstep::Deadline deadline = lockstep::Deadline::After(budget);
  lockstep::Backoff backoff({.initial = std::chrono::milliseconds(100), .max = std::chrono::seconds(1)});
  for (;;) {
    auto pool = lockstep::sql::Pool::Open(conn, options);
    if (pool.ok() || pool.status().code() == lockstep::StatusCode::kInvalidArgument) return pool;
    if (!backoff.Wait(deadline).ok()) return pool;
  }
}

lockstep::cache::CacheOptions ProductCacheOptions(const shopd::config::ShopdConfig& c) {
  lockstep::cache::CacheOptions o;
  o.key_prefix = c.EffectiveRedisKeyPrefix();
  o.name = "product";
  o.l1_enabled = c.cache_l1;
  o.l2_enabled = c.cache_l2;
  o.l1_ttl = c.cache_l1_ttl;
  o.l2_ttl = c.cache_l2_ttl;
  o.negative_ttl = c.cache_negative_ttl;
  o.tombstone_ttl = c.cache_tombstone_ttl;
  o.loader_budget = c.cache_tombstone_ttl / 2;
  o.staleness_bound = c.cache_staleness_bound;
  o.heartbeat_interval = std::max(std::chrono::milliseconds(1), c.cache_staleness_bound / 5);
  o.l1_max_entries = static_cast<size_t>(c.cache_l1_max_entries);
  o.second_delete_delay = c.cache_second_delete;
  return o;
}

// Events of this instance's CDC relay (its observer runs on the relay thread).
struct CdcCounters {
  std::atomic<uint64_t> transactions{0};
  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> gaps{0};

  void Collect(std::vector<prometheus::MetricFamily>& out) const {
    auto counter = [&out](const char* name, const char* help, const std::atomic<uint64_t>& v) {
      out.push_back(lockstep::prometheus::CounterFamily(name, help, static_cast<double>(v.load())));
    };
    counter("shopd_cdc_relay_transactions_total", "Committed transactions this instance's relay put in the stream.",
            transactions);
    counter("shopd_cdc_relay_entries_total", "Stream entries (changed rows, DDL) this instance's relay appended.",
            entries);
    counter("shopd_cdc_relay_reconnects_total", "Relay reconnects after a MariaDB or Redis failure.", reconnects);
    counter("shopd_cdc_gaps_total", "Binlog gaps (checkpoint purged) this instance's relay recorded.", gaps);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto load = shopd::config::LoadConfig(args, shopd::config::ProcessEnv());
  if (!load.ok()) {
    std::fprintf(stderr, "shopd: config error: %s\n", std::string(load.status().message()).c_str());
    return 2;
  }
  if (load->help) {
    std::fputs(load->help->c_str(), stdout);
    return 0;
  }
  const shopd::config::ShopdConfig& config = load->config;
  const auto listen = shopd::config::ParseListenAddress(config.listen);  // Validated by LoadConfig.
  if (!listen.ok()) {
    std::fprintf(stderr, "shopd: config error: %s\n", std::string(listen.status().message()).c_str());
    return 2;
  }

  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::flush_on(spdlog::level::info);
  spdlog::info("config: {}", config.Redacted());

  // Block the shutdown signals before any thread starts (threads inherit the mask); the
  // main thread takes them synchronously with sigwait below.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGHUP);  // Reload, not shutdown: handled in the loop below.
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  // Every metric of /metrics: event counters in `registry` (it outlives everything that
  // reports to it), values read from stats() at scrape time in `snapshots` (below).
  prometheus::Registry registry;
  auto pool = OpenMariaDb(config, config.mysql_connection, "shopd_mariadb_", std::chrono::seconds(30), registry);
  if (!pool.ok()) {
    spdlog::critical("shopd: cannot connect to MariaDB: {}", pool.status().ToString());
    return 1;
  }
  if (lockstep::Status s = shopd::domain::MigrateSchema(**pool, lockstep::Deadline::After(std::chrono::seconds(60)));
      !s.ok()) {
    spdlog::critical("shopd: schema migration failed: {}", s.ToString());
    return 1;
  }
  spdlog::info("schema at version {}", shopd::domain::LatestSchemaVersion());
  // The accounts' database (--payments-mysql; default: the same pool). It gets the same
  // schema (only its accounts, transfers and TCC barrier tables are used).
  std::unique_ptr<lockstep::sql::Pool> payments_pool;
  if (!config.payments_mysql.empty()) {
    auto opened = OpenMariaDb(config, config.payments_connection, "shopd_payments_mariadb_", std::chrono::seconds(30),
                              registry);
    if (!opened.ok()) {
      spdlog::critical("shopd: cannot connect to the payments MariaDB: {}", opened.status().ToString());
      return 1;
    }
    payments_pool = std::move(*opened);
    if (lockstep::Status s = shopd::domain::MigrateSchema(*payments_pool,
                                                          lockstep::Deadline::After(std::chrono::seconds(60)));
        !s.ok()) {
      spdlog::critical("shopd: payments schema migration failed: {}", s.ToString());
      return 1;
    }
  }
  lockstep::sql::Pool& payments = payments_pool != nullptr ? *payments_pool : **pool;
  // The first Redis master serves everything until Redlock arrives (more masters are
  // accepted and ignored for now).
  // Parsed once by LoadConfig (which refused a bad --redis), password applied.
  lockstep::redis::RedisOptions redis_options = config.redis_connections.front();
  // Workers, plus the cache's heartbeat and replayer threads, the reserved-mode persister
  // (its blocking XREADGROUP holds one), the reserved-mode metrics refresher and its 4
  // pipeline threads.
  redis_options.pool_size = std::max(redis_options.pool_size, config.worker_threads + 8);
  redis_options.breaker = DependencyBreaker();
  redis_options.observer.on_breaker_state = LogBreaker("Redis");
  if (lockstep::Status s = lockstep::prometheus::BindClientObserver(registry, redis_options.observer, "shopd_redis_");
      !s.ok()) {
    spdlog::critical("shopd: {}", s.ToString());
    return 1;
  }
  auto redis = lockstep::redis::Client::Open(redis_options);
  if (!redis.ok()) {
    spdlog::critical("shopd: cannot open Redis client: {}", redis.status().ToString());
    return 1;
  }

  auto loaded_keys = shopd::domain::LoadReservedKeys(**pool, config.EffectiveRedisKeyPrefix(),
                                                     lockstep::Deadline::After(std::chrono::seconds(30)));
  if (!loaded_keys.ok()) {
    spdlog::critical("shopd: cannot read the reserved-mode keyspace: {}", loaded_keys.status().ToString());
    return 1;
  }
  const shopd::domain::ReservedKeys reserved_keys = *loaded_keys;
  if (load->reconcile) {
    auto report = shopd::domain::Reconcile(**pool, **redis, reserved_keys,
                                           lockstep::Deadline::After(std::chrono::minutes(10)));
    if (!report.ok()) {
      spdlog::error("reconcile failed: {}", report.status().ToString());
      return 1;
    }
    for (const std::string& line : report->repairs) spdlog::warn("reconcile: {}", line);
    spdlog::info("reconcile done: {} reservations checked, {} repairs", report->reservations_checked,
                 report->repairs.size());
    std::printf("%s\n", report->ToJson().c_str());
    return 0;
  }

  // Replica routing (README "Replicas and consistency tokens"): GETs of accounts, orders
  // and transfers read where their consistency allows. A replica that cannot be opened
  // within the budget is left out (reads go to the others or the primary) and logged.
  std::vector<std::unique_ptr<lockstep::sql::Pool>> replica_pools;
  for (const lockstep::sql::ConnectionOptions& r : config.mysql_replica_connections) {
    auto replica = OpenReplica(config, r, std::chrono::seconds(30));
    if (!replica.ok()) {
      spdlog::error("MariaDB replica {} left out: {}", r.ToString(), replica.status().ToString());
      continue;
    }
    replica_pools.push_back(std::move(*replica));
  }
  lockstep::routing::ReplicaSetOptions routing_options;
  {
    // CREATE TABLE IF NOT EXISTS is binlogged even when the table exists, and DDL in the
    // shop database flushes the product cache (CDC): create the heartbeat table only once.
    auto conn = (*pool)->Acquire(lockstep::Deadline::After(std::chrono::seconds(10)));
    auto rows = conn.ok() ? conn->Query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
                                        "DATABASE() AND table_name = ?",
                                        routing_options.heartbeat_table)
                          : lockstep::Result<lockstep::sql::Rows>(conn.status());
    if (rows.ok() && !rows->empty() && (*rows)[0].GetInt64(0).value_or(0) > 0) {
      routing_options.create_heartbeat_table = false;
    }
  }
  routing_options.observer.on_log = [](std::string_view m) { spdlog::warn("replica routing: {}", m); };
  if (lockstep::Status s = lockstep::prometheus::BindRoutingObserver(registry, routing_options.observer, "shopd_routing_");
      !s.ok()) {
    spdlog::critical("shopd: {}", s.ToString());
    return 1;
  }
  std::vector<lockstep::sql::Pool*> replica_ptrs;
  for (const auto& p : replica_pools) replica_ptrs.push_back(p.get());
  auto replica_set = lockstep::routing::ReplicaSet::Open(**pool, replica_ptrs, routing_options,
                                                         lockstep::Deadline::After(std::chrono::seconds(30)));
  if (!replica_set.ok()) {
    spdlog::critical("shopd: replica routing: {}", replica_set.status().ToString());
    return 1;
  }
  spdlog::info("replica routing: {} replica(s), default read_max_staleness_ms {}", replica_pools.size(),
               config.read_max_staleness.count());
  shopd::domain::WriteTokens write_tokens(**pool);
  (void)write_tokens.Current(lockstep::Deadline::After(std::chrono::seconds(2)));  // Primes Last().

  shopd::domain::DomainMetrics domain_metrics;
  shopd::domain::InFlight in_flight;
  shopd::domain::AccountService accounts(payments);
  shopd::domain::TransferService transfers(payments, in_flight, domain_metrics);
  std::unique_ptr<shopd::domain::ProductCache> product_cache;
  const lockstep::cache::ByteCache* cache_engine = nullptr;  // Owned by product_cache.
  if (config.cache_l1 || config.cache_l2) {
    auto engine = lockstep::cache::ByteCache::Open(**redis, ProductCacheOptions(config));
    if (!engine.ok()) {
      spdlog::critical("shopd: bad cache settings: {}", engine.status().ToString());
      return 2;
    }
    cache_engine = engine->get();
    product_cache = std::make_unique<shopd::domain::ProductCache>(std::move(engine).value());
  }
  shopd::domain::ProductService products(**pool, std::move(product_cache));
  // The cache loader reads the primary, also with replicas: products are not among the
  // reads API.md lets a replica answer, and although a stale fill is refused (versions,
  // tombstones), the load's result still answers the GET that ran it — a replica 50 ms
  // behind answered 404 to a GET right after its product's create
  // (ProductService::SetLoaderReads stays for callers that accept that).
  shopd::domain::Reservations reservations(**pool, **redis, domain_metrics,
                                           {.keys = reserved_keys,
                                            .max_pending = config.reserved_max_pending,
                                            .min_fsync = config.reserved_min_fsync});
  products.SetReservedGate([&reservations](const lockstep::Deadline& d) { return reservations.CheckDurability(d); });
  shopd::domain::OrderService orders(**pool, in_flight, domain_metrics, products, {}, &reservations);
  // Durability check at start (re-run on demand while it fails): reserved mode is refused
  // unless Redis keeps what it acknowledged.
  if (lockstep::Status s = reservations.CheckDurability(lockstep::Deadline::After(std::chrono::seconds(5))); s.ok()) {
    spdlog::info("stock_mode reserved: enabled (Redis appendonly yes, appendfsync {}, noeviction; key prefix '{}')",
                 config.reserved_min_fsync == "always" ? "always" : "always|everysec", reserved_keys.prefix);
  } else {
    spdlog::error("stock_mode reserved: REFUSED until Redis is configured for it: {}", s.ToString());
  }
  // Checkout (--checkout-merchant-account): TCC over the payments and shop databases; its
  // recovery lease lives in Redis.
  std::unique_ptr<lockstep::lock::LockService> checkout_locks;
  std::unique_ptr<shopd::domain::CheckoutService> checkouts;
  if (config.checkout_merchant_account > 0) {
    shopd::domain::CheckoutServiceOptions co;
    co.merchant_account = config.checkout_merchant_account;
    co.recovery = config.checkout_recovery;
    auto hooks = shopd::domain::CheckoutTestHook(config.checkout_test_hook, config.checkout_test_hook_time);
    auto locks = lockstep::lock::LockService::Create(**redis, {.key_prefix = config.EffectiveRedisKeyPrefix() + "lock:"});
    if (!hooks.ok() || !locks.ok()) {
      spdlog::critical("shopd: checkout: {}", (!hooks.ok() ? hooks.status() : locks.status()).ToString());
      return 2;
    }
    co.hooks = std::move(*hooks);
    checkout_locks = std::move(*locks);
    if (lockstep::Status s = lockstep::prometheus::BindTccObserver(registry, co.observer); !s.ok()) {
      spdlog::critical("shopd: {}", s.ToString());
      return 1;
    }
    auto started = shopd::domain::CheckoutService::Start(**pool, payments, *checkout_locks, orders, products,
                                                         in_flight, std::move(co),
                                                         lockstep::Deadline::After(std::chrono::seconds(60)));
    if (!started.ok()) {
      spdlog::critical("shopd: checkout: {}", started.status().ToString());
      return 1;
    }
    checkouts = std::move(*started);
    spdlog::info("checkout: merchant account {}, payments in {}, recovery within {} ms",
                 config.checkout_merchant_account, config.payments_connection.ToString(),
                 config.checkout_recovery.count());
  }
  // This process among the consumers of the Redis streams (unique among live processes).
  const std::string consumer = [] {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    return std::string(host) + ":" + std::to_string(getpid()) + ":" +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
  }();
  std::unique_ptr<shopd::domain::ReservationPersister> persister;
  if (config.reserved_persister != 0) {
    auto started = shopd::domain::ReservationPersister::Start(
        **pool, **redis, domain_metrics,
        {.keys = reserved_keys,
         .consumer = consumer,
         .batch_size = config.reserved_persist_batch,
         .claim_idle = config.reserved_claim_idle,
         .on_error = [](const lockstep::Status& s) { spdlog::error("reserved persister: {}", s.ToString()); },
         .on_stock_changed = [&products](int64_t product_id) { products.StockChanged(product_id); }});
    if (!started.ok()) {
      // Redis down at start: reservations fail too; a restart brings the persister back.
      spdlog::critical("shopd: cannot start the reserved-mode persister: {}", started.status().ToString());
      return 1;
    }
    persister = std::move(*started);
    spdlog::info("reserved persister running as consumer '{}' (batch {}, claim idle {} ms)", consumer,
                 config.reserved_persist_batch, config.reserved_claim_idle.count());
  }

  // Binlog CDC (--cdc 1): this instance is a candidate for the relay of its database's
  // `products` changes (one leader among the instances, fenced lease) and consumes the
  // stream to invalidate the product cache.
  CdcCounters cdc_counters;
  std::unique_ptr<lockstep::lock::LockService> cdc_locks;
  std::unique_ptr<lockstep::cdc::ElectedRelay> cdc_relay;
  std::unique_ptr<shopd::domain::ProductChangeFeed> change_feed;
  if (config.cdc) {
    const std::string stream = config.EffectiveRedisKeyPrefix() + "cdc";
    const std::string& database = config.mysql_connection.database;
    auto locks = lockstep::lock::LockService::Create(**redis, {.key_prefix = stream + ":lock:"});
    if (!locks.ok()) {
      spdlog::critical("shopd: cdc: {}", locks.status().ToString());
      return 1;
    }
    cdc_locks = std::move(*locks);
    lockstep::cdc::ElectedRelayOptions eo;
    eo.relay.reader.connection = config.mysql_connection;
    eo.relay.reader.server_id = static_cast<uint32_t>(config.cdc_server_id);
    eo.relay.reader.tables = {lockstep::cdc::TableFilter{database, "products"}};
    eo.relay.publisher.stream = stream;
    // A purged checkpoint: say so in the stream (the consumers flush) and go on.
    eo.relay.gap_policy = lockstep::cdc::GapPolicy::kRecordAndContinue;
    eo.relay.observer.on_published = [&cdc_counters](const lockstep::cdc::CommittedTransaction&, size_t entries) {
      cdc_counters.transactions.fetch_add(1, std::memory_order_relaxed);
      cdc_counters.entries.fetch_add(entries, std::memory_order_relaxed);
    };
    eo.relay.observer.on_retry = [&cdc_counters](const lockstep::Status& st) {
      cdc_counters.reconnects.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("cdc relay: reconnecting after: {}", st.ToString());
    };
    eo.relay.observer.on_gap = [&cdc_counters](const lockstep::Status& st) {
      cdc_counters.gaps.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("cdc relay: {}; a gap record tells the consumers to invalidate every product", st.ToString());
    };
    eo.lock_name = "leader";
    eo.lease = config.cdc_lease;
    eo.observer.on_leadership = [](bool leader, int64_t fence) {
      if (leader) {
        spdlog::info("cdc relay: leading (fence {})", fence);
      } else {
        spdlog::warn("cdc relay: stopped leading (fence {})", fence);
      }
    };
    eo.observer.on_relay_stopped = [](const lockstep::Status& st) {
      spdlog::error("cdc relay: stopped: {}", st.ToString());
    };
    auto relay = lockstep::cdc::ElectedRelay::Start(**redis, *cdc_locks, eo);
    if (!relay.ok()) {
      spdlog::critical("shopd: cdc: {}", relay.status().ToString());
      return 2;
    }
    cdc_relay = std::move(*relay);
    auto feed = shopd::domain::ProductChangeFeed::Start(
        **redis, products,
        {.stream = stream,
         .group = "product-cache",
         .consumer = consumer,
         .database = database,
         .claim_idle = config.cdc_claim_idle,
         .on_error = [](const lockstep::Status& st) { spdlog::error("cdc product cache: {}", st.ToString()); }});
    if (!feed.ok()) {
      spdlog::critical("shopd: cdc: cannot start the product-cache consumer: {}", feed.status().ToString());
      return 1;
    }
    change_feed = std::move(*feed);
    spdlog::info("cdc: candidate for the relay of {}.products -> {} (server_id {}, lease {} ms); consuming as '{}'",
                 database, stream, config.cdc_server_id, config.cdc_lease.count(), consumer);
  }

  // The outbox relay (--events-relay 1): a candidate for relaying the outbox to
  // <prefix>events (one leader among the instances).
  std::unique_ptr<shopd::domain::EventsRelay> events_relay;
  if (config.events_relay) {
    auto relay = shopd::domain::EventsRelay::Start(
        **redis, **pool, {.connection = config.mysql_connection,
                  .stream = config.EffectiveRedisKeyPrefix() + "events",
                  .server_id = static_cast<uint32_t>(config.events_server_id),
                  .lease = config.cdc_lease});
    if (!relay.ok()) {
      spdlog::critical("shopd: events relay: {}", relay.status().ToString());
      return 2;
    }
    events_relay = std::move(*relay);
    spdlog::info("events: candidate for the relay of {}.outbox -> {}events (server_id {})",
                 config.mysql_connection.database, config.EffectiveRedisKeyPrefix(), config.events_server_id);
  }
  shopd::domain::EventService events(**pool);

  lockstep::prometheus::Snapshots snapshots;
  lockstep::prometheus::AddPoolStats(snapshots, **pool, "shopd_mariadb_");
  if (payments_pool != nullptr) lockstep::prometheus::AddPoolStats(snapshots, *payments_pool, "shopd_payments_mariadb_");
  lockstep::prometheus::AddClientStats(snapshots, **redis, "shopd_redis_");
  if (cache_engine != nullptr) lockstep::prometheus::AddCacheStats(snapshots, *cache_engine, "shopd_cache_");
  snapshots.Add([&](std::vector<prometheus::MetricFamily>& out) {
    domain_metrics.Collect(out);
    products.CollectMetrics(out);
    orders.CollectMetrics(out);
    reservations.CollectMetrics(out);
    if (cdc_relay != nullptr) {
      out.push_back(lockstep::prometheus::GaugeFamily("shopd_cdc_leader",
                                                      "1 while this instance runs the CDC relay.",
                                                      cdc_relay->leader() ? 1 : 0));
      out.push_back(lockstep::prometheus::CounterFamily("shopd_cdc_terms_total", "Terms this instance led the relay.",
                                                        static_cast<double>(cdc_relay->terms())));
      cdc_counters.Collect(out);
    }
    if (change_feed != nullptr) change_feed->CollectMetrics(out);
    if (checkouts != nullptr) checkouts->CollectMetrics(out);
    if (events_relay != nullptr) events_relay->Collect(out);
  });

  auto rate_limits = shopd::api::RateLimitGate::Create(
      **redis, {.key_prefix = config.EffectiveRedisKeyPrefix() + "rl:", .min_instances = config.rate_limit_min_instances},
      registry);
  if (!rate_limits.ok()) {
    spdlog::critical("shopd: {}", rate_limits.status().ToString());
    return 2;
  }
  if (lockstep::Status s = (*rate_limits)->Apply(config.rate_limits, config.client_rate_limits); !s.ok()) {
    spdlog::critical("shopd: rate limits: {}", s.ToString());
    return 2;
  }
  std::shared_ptr<shopd::api::RateLimitGate> gate = std::move(*rate_limits);
  spdlog::info("rate limits: {}", gate->Describe());

  shopd::http::ServerOptions server_options = ServerOptionsFrom(config, *listen);
  server_options.gate = gate;
  shopd::http::Server server(std::move(server_options));
  std::vector<shopd::http::ReadinessCheck> readiness;
  readiness.push_back({"mariadb", PoolAnswers(**pool)});
  if (payments_pool != nullptr) readiness.push_back({"payments_mariadb", PoolAnswers(*payments_pool)});
  readiness.push_back({"redis", [&redis](const lockstep::Deadline& d) {
                         return (*redis)->Ping(d.CappedAt(std::chrono::seconds(2)));
                       }});
  shopd::http::RegisterOpsRoutes(server, std::move(readiness), [&registry, &snapshots] {
    return lockstep::prometheus::SerializeText({&registry, &snapshots});
  });
  const shopd::api::Services services{&accounts, &transfers,          &products,
                                      &orders,   replica_set->get(), &write_tokens,
                                      config.read_max_staleness};
  shopd::api::RegisterAccountRoutes(server.router(), services);
  shopd::api::RegisterCommerceRoutes(server.router(), services);
  if (checkouts != nullptr) shopd::api::RegisterCheckoutRoutes(server.router(), *checkouts, write_tokens);
  shopd::api::RegisterEventRoutes(server.router(), events);

  if (lockstep::Status s = server.Start(); !s.ok()) {
    spdlog::critical("shopd: cannot start: {}", s.ToString());
    return 1;
  }
  const std::string host = listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host;
  spdlog::info("shopd listening on {}:{}", host, server.port());

  int signal_number = 0;
  for (;;) {
    sigwait(&shutdown_signals, &signal_number);
    if (signal_number != SIGHUP) break;
    // Re-read flags, environment and the config file as at startup; only the rate limits
    // take effect (everything else needs a restart). A bad config keeps the old limits.
    auto reloaded = shopd::config::LoadConfig(args, shopd::config::ProcessEnv());
    lockstep::Status applied = reloaded.ok() ? gate->Apply(reloaded->config.rate_limits,
                                                           reloaded->config.client_rate_limits)
                                             : reloaded.status();
    if (applied.ok()) {
      spdlog::info("SIGHUP: rate limits now: {}", gate->Describe());
    } else {
      spdlog::error("SIGHUP: config not reloaded, the old rate limits stay ({}): {}", gate->Describe(),
                    applied.message());
    }
  }
  spdlog::info("received signal {}, draining (up to {} ms)", signal_number, config.drain_timeout.count());
  server.Drain();
  persister.reset();  // Unacked entries stay pending for a restart or another instance.
  change_feed.reset();
  cdc_relay.reset();  // Releases the lease: a standby takes over at once.
  checkouts.reset();  // Stops its recovery thread; unfinished checkouts stay for any instance.
  events_relay.reset();  // Releases its lease too.
  spdlog::info("shopd stopped");
  return 0;
}
