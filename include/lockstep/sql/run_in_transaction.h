#pragma once

#include <functional>

#include "lockstep/base/backoff.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/status.h"
#include "lockstep/sql/options.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/transaction.h"

namespace lockstep::sql {

struct RunOptions {
  TxOptions tx;
  // Attempts in total (first run + reruns). >= 1. Default 10. The deadline ends them sooner.
  int max_attempts = 10;
  BackoffOptions backoff;
};

// What RunInTransaction did (for tests and metrics).
struct RunStats {
  int attempts = 0;             // Times the body ran (or Begin was tried).
  int deadlocks = 0;            // Reruns after 1213.
  int lock_wait_timeouts = 0;   // Reruns after 1205.
  int retries = 0;              // All reruns (kAborted and kUnavailable).
};

// Runs `body` in a transaction and reruns the WHOLE body (in a fresh transaction, after a
// full rollback and a jittered backoff) when it fails with kAborted (deadlock 1213, lock
// wait timeout 1205, snapshot conflict 1020, deadlock at COMMIT) or with kUnavailable
// (connection lost before COMMIT; the work was rolled back), until max_attempts or the
// deadline. The body may Commit() itself; if it returns OK without committing, the runner
// commits. If it returns an error, the transaction is rolled back and nothing committed.
// A COMMIT whose outcome is unknown (kUnknown) is returned as is and never rerun; so is a
// refusal of the pool's circuit breaker (kUnavailable reason "circuit_open"), at once.
// REQUIRES: the body has no side effects outside the database (it may run several times).
// Returns OK, the body's or COMMIT's last error (annotated with the attempt count when
// retries ran out), or kDeadlineExceeded. Thread-safe (as Pool); the body runs on the
// calling thread.
Status RunInTransaction(Pool& pool, const RunOptions& options, const Deadline& deadline,
                        const std::function<Status(Transaction&)>& body,
                        RunStats* stats = nullptr);

// Runs `body` on a connection leased from `pool` in autocommit mode — e.g. one `CALL` of a
// procedure that starts, commits or rolls back its own transaction in one round trip — and
// reruns it (on a fresh lease, after a jittered backoff) exactly when RunInTransaction
// would: kAborted (deadlock, lock wait timeout) and kUnavailable (not "circuit_open"),
// until max_attempts or the deadline. Unlike RunInTransaction there is no COMMIT to classify: a kUnavailable may come
// from a statement that committed before the connection broke, so a rerun may repeat work
// that is already done. REQUIRES: every statement the body sends is either rolled back
// whole on error (the procedure's own handler) or idempotent across reruns (e.g. guarded by
// a unique key, so the repeat fails with kAlreadyExists and the caller reads what
// committed); no side effects outside the database. `options.tx` is ignored. Returns as
// RunInTransaction. Thread-safe (as Pool); the body runs on the calling thread.
Status RunWithRetries(Pool& pool, const RunOptions& options, const Deadline& deadline,
                      const std::function<Status(PooledConnection&)>& body, RunStats* stats = nullptr);

}  // namespace lockstep::sql
