#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/rate_limit_spec.h"
#include "lockstep/base/result.h"
#include "lockstep/redis/options.h"
#include "lockstep/sql/options.h"

namespace shopd::config {

// Everything shopd is configured with. Sources, highest precedence first:
//   1. flags           --listen, --mysql, --mysql-replica URL (repeatable), --redis,
//                      --mysql-password-file, --redis-password-file, --io-threads, ...
//                      (every key below, '_' spelled '-'), --config FILE
//   2. environment     SHOPD_<KEY> (SHOPD_LISTEN, SHOPD_MYSQL, SHOPD_MYSQL_REPLICAS as a
//                      comma list, SHOPD_REDIS, SHOPD_MYSQL_PASSWORD, SHOPD_MYSQL_PASSWORD_FILE,
//                      SHOPD_IO_THREADS, ...), SHOPD_CONFIG for the file
//   3. TOML file       keys named as below (`listen = "127.0.0.1:8080"`, `io_threads = 4`,
//                      `mysql_replicas = ["mysql://..."]`); an unknown key is an error
//   4. the defaults below.
// Durations are whole milliseconds in every source, their keys end in `_ms`
// (`drain_timeout_ms`). A password given on its own (`mysql_password[_file]`) beats one
// inside the URL; a higher source's password file beats a lower source's password.
// Value type, thread-compatible.
struct ShopdConfig {
  // IP:port to listen on ("127.0.0.1:8080", "[::1]:8080"; port 0 = ephemeral).
  std::string listen = "127.0.0.1:8080";
  // MariaDB primary, as given (mysql:// only; read by lockstep::sql::ParseMysqlUrl).
  std::string mysql = "mysql://lockstep@127.0.0.1:13306/shop";
  // MariaDB replicas (GTID replicas of `mysql`; GETs of accounts, orders and transfers may
  // read them, README "Replicas and consistency tokens"), as given. Default none.
  std::vector<std::string> mysql_replicas;
  // How stale (ms behind the primary) a GET's answer may be when the request names neither
  // X-Consistency-Token nor X-Max-Staleness-Ms (API.md "Replicas and consistency tokens");
  // 0 = such GETs read the primary. >= 0. Default 50.
  std::chrono::milliseconds read_max_staleness{50};
  // Redis masters (more than one = Redlock), as given (read by lockstep::redis::ParseRedisUrl).
  // Flags/env take a comma-separated list.
  std::vector<std::string> redis = {"redis://127.0.0.1:16379"};
  // Effective passwords ("" = none): the separately given one, else the URL's (decoded;
  // for redis the first URL that has one). Never log them: use Redacted().
  std::string mysql_password;
  std::string redis_password;
  // Set by LoadConfig: the URLs above, each parsed once, with the effective password
  // applied (a separately given password replaces every URL's own). TLS settings are
  // not part of them (mysql_ssl_* below). Empty in a ShopdConfig not made by LoadConfig.
  lockstep::sql::ConnectionOptions mysql_connection;
  std::vector<lockstep::sql::ConnectionOptions> mysql_replica_connections;
  std::vector<lockstep::redis::RedisOptions> redis_connections;
  int io_threads = 2;         // > 0.
  int worker_threads = 32;    // > 0. Measured: more threads only add context switches on 2 cores (BENCHMARKS.md).
  int queue_limit = 1024;     // > 0.
  // Load shedding in front of the worker pool (lockstep::resilience::AdmissionController):
  // on/off, and its standing-queue target and interval (> 0). The deadline rule (refuse a
  // request whose deadline ends before its expected wait) needs no setting.
  bool admission_control = true;
  std::chrono::milliseconds admission_target{1'000};
  std::chrono::milliseconds admission_interval{1'000};
  // Rate limits (API.md "Rate limits and overload"): per group summed over the instances
  // sharing the Redis (`rate_limit`; flag --rate-limit GROUP=RATE[:BURST], repeatable;
  // SHOPD_RATE_LIMIT and the TOML key take a list), and per X-Client-Id
  // (`client_rate_limit`, same forms). Default none. SIGHUP re-reads them (only them).
  std::vector<RateLimitSpec> rate_limits;
  std::vector<RateLimitSpec> client_rate_limits;
  // While Redis is unreachable each instance admits rate/N of a limit, N = the live
  // instances it counted last, never fewer than this (set it to the fleet size to keep the
  // documented bound for instances started during an outage). >= 1. Default 1.
  int rate_limit_min_instances = 1;
  int64_t body_limit_bytes = 1 << 20;  // > 0.
  std::chrono::milliseconds default_request_timeout{5'000};  // > 0, <= max_request_timeout.
  std::chrono::milliseconds max_request_timeout{60'000};     // > 0.
  std::chrono::milliseconds header_timeout{10'000};          // > 0.
  std::chrono::milliseconds idle_timeout{60'000};            // > 0.
  std::chrono::milliseconds drain_timeout{10'000};           // >= 0.
  // trace | debug | info | warn | error | critical | off.
  std::string log_level = "info";
  // MariaDB TLS (PEM file paths); TLS with server certificate verification is on when any
  // is set. Default: plain TCP (loopback).
  std::string mysql_ssl_ca;
  std::string mysql_ssl_cert;
  std::string mysql_ssl_key;
  // Prefix of every Redis key shopd writes (reservations, cache, ...). Empty = the default
  // "shopd:<database of --mysql>:", so instances on one database share keys and instances
  // on different databases never collide. See EffectiveRedisKeyPrefix().
  std::string redis_key_prefix;
  // stock_mode `reserved` (Redis reservations + persister):
  // Back-pressure bound: while more reservations than this wait for the persister, new
  // ones get 503 + Retry-After. > 0.
  int64_t reserved_max_pending = 50'000;
  // Stream entries the persister writes per MariaDB transaction. > 0.
  int64_t reserved_persist_batch = 256;
  // Run a persister in this process (1) or not (0: another instance persists). 0 | 1.
  int reserved_persister = 1;
  // Unacked entries idle this long are taken over from a (presumed dead) persister. > 0.
  std::chrono::milliseconds reserved_claim_idle{10'000};
  // Weakest Redis appendfsync accepted for reserved mode: "always" | "everysec" (the
  // operator accepts losing up to ~1 s of reservations on a Redis crash).
  std::string reserved_min_fsync = "always";

  // Product cache (README "Consistent product cache"). cache_l1 / cache_l2: 1 = on, 0 = off
  // (both off = every GET reads MariaDB). TTLs must be >= cache_tombstone_ttl_ms (T); the
  // loader budget is T/2; cache_staleness_bound_ms bounds how far another instance's L1
  // may lag a PUT (heartbeat every bound/5). cache_second_delete_ms > 0 enables the
  // delayed second delete.
  bool cache_l1 = true;
  bool cache_l2 = true;
  std::chrono::milliseconds cache_l1_ttl{30'000};
  std::chrono::milliseconds cache_l2_ttl{600'000};
  std::chrono::milliseconds cache_negative_ttl{5'000};
  std::chrono::milliseconds cache_tombstone_ttl{2'000};
  std::chrono::milliseconds cache_staleness_bound{50};
  int64_t cache_l1_max_entries = 100'000;
  std::chrono::milliseconds cache_second_delete{0};

  // Binlog CDC (README "Writes that bypass shopd"): with cdc = 1 this instance is a
  // candidate to run the binlog -> stream relay of its database (one leader among the
  // instances, elected with a fenced lease of cdc_lease_ms; a dead leader is replaced within
  // about that long) and consumes the stream to invalidate the product cache (entries a dead
  // consumer left unacknowledged are taken over after cdc_claim_idle_ms). cdc_server_id is
  // the relay's replica server_id on the primary: unique among its replicas and readers
  // (the instances of one database may share it: one reads at a time).
  bool cdc = false;
  int64_t cdc_server_id = 4243;
  std::chrono::milliseconds cdc_lease{3'000};
  std::chrono::milliseconds cdc_claim_idle{1'000};
  // Checkout (API.md "Checkout", README "Checkout"). payments_mysql: the MariaDB database
  // of the accounts ("" = the --mysql database); parsed into payments_connection by
  // LoadConfig (the mysql password applies unless the URL has its own).
  // checkout_merchant_account: the account paid by completed checkouts (0 = checkouts off:
  // their endpoints answer 404). checkout_recovery_ms (R, >= 100): a checkout left
  // unfinished by a crash is settled by a live instance within about R.
  std::string payments_mysql;
  lockstep::sql::ConnectionOptions payments_connection;
  int64_t checkout_merchant_account = 0;
  std::chrono::milliseconds checkout_recovery{10'000};
  // Tests only: "<step>[:<branch>]" (a lockstep::tcc StepName: logged, tried, decided,
  // branch_settled, finished; branch shop|pay) holds the first checkout that reaches that
  // step on this instance for checkout_test_hook_ms (0 = until the process dies), e.g. to
  // kill -9 it there. Default "" (no hook).
  std::string checkout_test_hook;
  std::chrono::milliseconds checkout_test_hook_time{0};
  // The outbox relay (API.md "Events"): with events_relay = 1 this instance is a candidate
  // to relay the `outbox` table's binlog to the stream <redis_key_prefix>events (one leader
  // among the instances, fenced lease of cdc_lease_ms; lockstep::outbox::ConfigureOutboxRelay).
  // events_server_id is its replica server_id (unique among the primary's replicas and
  // readers, and different from cdc_server_id).
  bool events_relay = false;
  int64_t events_server_id = 4244;
  // redis_key_prefix, or "shopd:<database of mysql_connection>:" when it is empty
  // ("shopd:" without a database).
  std::string EffectiveRedisKeyPrefix() const;

  // One line with every setting, passwords shown as *** (for the startup log).
  std::string Redacted() const;
};

struct ListenAddress {
  std::string host;  // IP literal without brackets.
  uint16_t port = 0;
};

// "127.0.0.1:8080" / "[::1]:0" -> host + port. kInvalidArgument unless IP:port.
lockstep::Result<ListenAddress> ParseListenAddress(const std::string& listen);

// Reads an environment variable; nullopt if unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment (getenv).
EnvLookup ProcessEnv();

struct ConfigLoad {
  ShopdConfig config;
  // Set when --help was given: print it and exit 0.
  std::optional<std::string> help;
  // --reconcile: compare/repair the reserved mode's Redis state with MariaDB, then exit.
  bool reconcile = false;
};

// Loads the configuration from `args` (argv without argv[0]), `env` and the TOML file
// they name. kInvalidArgument with a one-line message naming the source ("--io-threads",
// "SHOPD_LISTEN", "shopd.toml: listen") for anything malformed, an unknown TOML key or an
// unreadable file. Thread-safe if `env` is.
lockstep::Result<ConfigLoad> LoadConfig(const std::vector<std::string>& args, const EnvLookup& env);

}  // namespace shopd::config
