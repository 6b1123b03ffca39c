#pragma once

#include <atomic>
#include <memory>
#include <string_view>
#include <vector>

#include "lockstep/base/circuit_breaker.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/sql/connection.h"
#include "lockstep/sql/options.h"
#include "lockstep/sql/pool.h"
#include "sql/mariadb_connection.h"
#include "sql/watchdog.h"

namespace lockstep::sql::internal {

// Thread-safe. The shared state of a Pool; leases keep it alive.
class PoolCore : public std::enable_shared_from_this<PoolCore> {
 public:
  // `breaker` may be null (no PoolOptions::breaker).
  PoolCore(ConnectionOptions connection, PoolOptions options, std::unique_ptr<CircuitBreaker> breaker)
      : connection_(std::move(connection)), options_(std::move(options)), breaker_(std::move(breaker)) {}
  ~PoolCore();

  Result<PooledConnection> Acquire(const Deadline& deadline) LOCKSTEP_EXCLUDES(mu_);
  // Takes `conn` back: idle again, or closed if broken or the pool is shut.
  void Release(Connection* conn) LOCKSTEP_EXCLUDES(mu_);
  // Closes idle connections; connections returned later are closed too.
  void Shutdown() LOCKSTEP_EXCLUDES(mu_);
  PoolStats stats() const LOCKSTEP_EXCLUDES(mu_);

  const ConnectionOptions& connection_options() const { return connection_; }
  const PoolOptions& options() const { return options_; }
  Watchdog& watchdog() { return watchdog_; }
  // To the observer's on_log, else stderr.
  void Log(std::string_view message) const;
  // Logs, once per pool, that the server cannot give REPEATABLE READ write-conflict
  // detection (no innodb_snapshot_isolation).
  void NoteSnapshotIsolationUnsupported();

 private:
  // Opens a connection for a slot already counted in open_ (through the breaker).
  Result<std::unique_ptr<Connection>> OpenConnection(const Deadline& deadline);
  void Discard(std::unique_ptr<Connection> conn, const Status& why) LOCKSTEP_EXCLUDES(mu_);
  // Puts a checked-out connection that was not used back as it was (still due for its ping).
  void ReturnUnused(std::unique_ptr<Connection> conn) LOCKSTEP_EXCLUDES(mu_);

  const ConnectionOptions connection_;
  const PoolOptions options_;
  // Null without PoolOptions::breaker. Thread-safe itself; outlives every Connection (each
  // lease keeps this core alive).
  const std::unique_ptr<CircuitBreaker> breaker_;
  Watchdog watchdog_;
  // Atomic: a once-only latch for one log line; no ordering with other state.
  std::atomic<bool> snapshot_warning_logged_{false};

  mutable Mutex mu_;
  CondVar returned_;  // Signalled when a connection is returned or a slot frees up.
  std::vector<std::unique_ptr<Connection>> idle_ LOCKSTEP_GUARDED_BY(mu_);  // Back = newest.
  int open_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  int in_use_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  uint64_t waits_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  uint64_t discarded_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  uint64_t opened_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  bool shut_ LOCKSTEP_GUARDED_BY(mu_) = false;
};

}  // namespace lockstep::sql::internal
