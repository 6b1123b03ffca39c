#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "lockstep/base/circuit_breaker.h"
#include "lockstep/base/status.h"

namespace lockstep::sql {

// Where and how to connect to one MariaDB/MySQL server. Value type, thread-compatible.
struct ConnectionOptions {
  std::string host = "127.0.0.1";  // Ignored when unix_socket is set.
  int port = 3306;                 // 1..65535.
  std::string user;
  std::string password;            // Never printed by ToString().
  std::string database;            // Empty = no default database.
  std::string unix_socket;         // Empty = TCP.
  // Bound on connecting (TCP connect + handshake). The remaining deadline of the call that
  // opens the connection caps it too (rounded up to whole seconds: the driver's granularity).
  std::chrono::milliseconds connect_timeout{5'000};
  // Coarse driver-level backstops (whole seconds) for one network read/write; the per-call
  // Deadline is enforced precisely by the pool's watchdog. > 0. Default 30s.
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{30};
  std::string charset = "utf8mb4";
  // TLS: enabled when any of ssl_ca/ssl_cert/ssl_key is set.
  std::string ssl_ca;
  std::string ssl_cert;
  std::string ssl_key;
  bool verify_server_cert = true;  // Only used with TLS.

  // "mysql://user@host:port/db" style summary; the password is shown as "***" if set.
  std::string ToString() const;
  // kInvalidArgument on an empty user, a bad port or non-positive timeouts.
  Status Validate() const;
};

// Observer of a pool (PoolOptions::observer), e.g. for metrics (lockstep::prometheus binds
// one to a registry). Every callback is optional (empty = not called), runs without any of
// the pool's locks held, possibly on several threads at once (the calling thread or the
// pool's watchdog), must be cheap and thread-safe, and must not call back into the pool.
struct PoolObserver {
  // Time a successful or failed Acquire spent waiting for a connection to be returned.
  std::function<void(std::chrono::steady_clock::duration)> on_acquire_wait;
  // A connection was closed instead of being returned (broken, killed, deadline fired...).
  std::function<void(const Status& why)> on_discard;
  // RunInTransaction is about to rerun a unit of work after `why` (kAborted / kUnavailable).
  std::function<void(const Status& why, int attempt)> on_retry;
  // Rare events worth a log line (failed implicit rollback, ...). Default: stderr.
  std::function<void(std::string_view message)> on_log;
  // The pool's circuit breaker (PoolOptions::breaker) changed state to `to`; once per
  // transition, in no guaranteed order across threads (read the state from stats()).
  std::function<void(BreakerState to)> on_breaker_state;
};

struct PoolOptions {
  // Upper bound on open connections (idle + in use). > 0. Default 16.
  int max_connections = 16;
  // Longest an Acquire waits for a free connection when the pool is at max_connections,
  // before kUnavailable; the caller's deadline cuts it shorter (then kDeadlineExceeded).
  // 0ms = fail at once if none is idle. Default 200ms.
  std::chrono::milliseconds acquire_timeout{200};
  // A connection idle longer than this is pinged on checkout; a failed ping discards it
  // and checkout moves on. Default 1s. 0 = ping on every checkout.
  std::chrono::milliseconds ping_after_idle{1'000};
  // Prepared statements cached per connection (LRU, keyed by SQL text). > 0. Default 64.
  int statement_cache_size = 64;
  // Budget for a ROLLBACK that runs after the caller's deadline passed (destructor,
  // RunInTransaction cleanup). If it cannot finish, the connection is discarded. Default 1s.
  std::chrono::milliseconds cleanup_timeout{1'000};
  // Deadline used by PooledConnection::Execute/Query when the call passes none. Default 30s.
  std::chrono::milliseconds default_statement_timeout{30'000};
  // Optional callbacks (metrics, logging), see PoolObserver. Default: none (logs to stderr).
  PoolObserver observer;
  // A circuit breaker around the server; nullopt (default) = none. When set, every network
  // call of the pool asks it first: connecting, the health-check ping and every statement
  // (BEGIN, SET, COMMIT and ROLLBACK too). While it is open, Acquire/Begin fail at once,
  // before waiting for a pooled connection, and statements fail before they are sent:
  // kUnavailable with reason "circuit_open" (RunInTransaction/RunWithRetries do not rerun
  // it). A refused ROLLBACK discards the connection (closing it rolls back). Counted as
  // failures: the server unreachable or lost (kUnavailable; connect errors, 2006/2013,
  // KILL, shutdown, read-only), a call cut by its deadline or max_statement_time
  // (kDeadlineExceeded; whatever the statement waited for, a row lock too), a COMMIT with
  // an unknown outcome (kUnknown). Everything else is a success: answers such as deadlock
  // (1213), lock wait timeout (1205), duplicate key, bad SQL, access denied. Calls that
  // never reach the network (deadline already passed, pool exhausted) count neither way.
  // Transitions go to observer.on_breaker_state (after breaker->on_transition, if set).
  std::optional<CircuitBreakerOptions> breaker;

  // kInvalidArgument if a field is out of range (the breaker's too).
  Status Validate() const;
};

enum class IsolationLevel { kReadCommitted, kRepeatableRead, kSerializable };

struct TxOptions {
  IsolationLevel isolation = IsolationLevel::kRepeatableRead;  // InnoDB's default.
  bool read_only = false;  // START TRANSACTION READ ONLY.
  // Sets the session's max_statement_time to the deadline's remaining time at BEGIN
  // (rounded up to whole seconds, so the SET is skipped while it is unchanged), so the
  // server itself aborts statements that would outlive the deadline (error 1969). The
  // client-side watchdog enforces the exact deadline.
  bool server_statement_limit = true;
  // Write-conflict detection under REPEATABLE READ (MariaDB's innodb_snapshot_isolation,
  // 10.6.18+ / 10.11.8+): a statement that would lock or write a row whose latest committed
  // version is newer than this transaction's snapshot fails with 1020 (kAborted; the server
  // has rolled the whole transaction back; RunInTransaction reruns the unit) instead of
  // silently acting on it. So a read-modify-write whose read was a plain SELECT cannot
  // lose an update committed after that read (the lost update InnoDB's REPEATABLE READ
  // otherwise allows). No effect under READ COMMITTED (every statement reads the latest
  // commit: read rows you will write with SELECT ... FOR UPDATE there) or SERIALIZABLE
  // (plain reads take shared locks). Servers without the variable (MySQL, older MariaDB):
  // skipped, and the pool logs once through observer.on_log. Default true.
  bool snapshot_isolation = true;
  // Has the server report the GTID of this transaction's commit in COMMIT's OK packet
  // (session tracking of last_gtid, enabled once per connection together with the session
  // variables BEGIN sets anyway), so Transaction::CommitWithGtid() costs no extra round
  // trip. Without it CommitWithGtid() asks `SELECT @@last_gtid` after COMMIT. Default false.
  bool track_commit_gtid = false;
};

}  // namespace lockstep::sql
