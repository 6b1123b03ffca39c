#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/sql/connection.h"
#include "lockstep/sql/options.h"
#include "lockstep/sql/transaction.h"

namespace lockstep::sql {

// A snapshot of the pool's counters.
struct PoolStats {
  int open = 0;            // Connections open (idle + in use + being opened).
  int idle = 0;            // Waiting in the pool.
  int in_use = 0;          // Leased out.
  uint64_t waits = 0;      // Acquire calls that had to wait for a connection.
  uint64_t discarded = 0;  // Connections closed because they broke (or were discarded).
  uint64_t opened = 0;     // Connections opened since Open().
  uint64_t watchdog_fired = 0;  // Calls cut by the deadline watchdog.
  // The circuit breaker's state and counters; nullopt without PoolOptions::breaker.
  std::optional<CircuitBreakerStats> breaker;
};

// Thread-safe. A bounded pool of MariaDB connections with deadline-aware checkout, health checks after
// idleness, and a watchdog thread that enforces call deadlines on a stalled server.
// Never enables MYSQL_OPT_RECONNECT: a broken connection is discarded.
class Pool {
 public:
  // Validates the options (kInvalidArgument), initialises the driver once per process, and
  // opens one connection to check the server is reachable and the credentials work:
  // kUnavailable (cannot connect), kUnauthenticated, kInternal (e.g. unknown database).
  static Result<std::unique_ptr<Pool>> Open(const ConnectionOptions& connection,
                                            const PoolOptions& options = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Checks out a connection: an idle one (pinged first if idle longer than
  // ping_after_idle; a dead one is discarded and the next tried), or a new one if below
  // max_connections, else waits for one to be returned. Returns kUnavailable ("pool
  // exhausted") when acquire_timeout passes first, kDeadlineExceeded when `deadline`
  // passes first, kUnavailable/kUnauthenticated if a new connection cannot be opened,
  // kUnavailable reason "circuit_open" at once while the breaker (options().breaker)
  // refuses calls. Thread-safe.
  Result<PooledConnection> Acquire(const Deadline& deadline);

  // Acquire + START TRANSACTION with the options' isolation level and access mode; with
  // server_statement_limit the session's max_statement_time is set to the deadline's
  // remaining time. Codes as Acquire, plus the driver's for BEGIN. Thread-safe.
  Result<Transaction> Begin(const TxOptions& options, const Deadline& deadline);

  // The counters now (with the breaker's, if any). Thread-safe.
  PoolStats stats() const;
  // Thread-safe.
  const PoolOptions& options() const;
  const ConnectionOptions& connection_options() const;

 private:
  explicit Pool(std::shared_ptr<internal::PoolCore> core) : core_(std::move(core)) {}
  std::shared_ptr<internal::PoolCore> core_;
};

}  // namespace lockstep::sql
