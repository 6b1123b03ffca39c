#include "lockstep/sql/run_in_transaction.h"

#include "sql/pool_core.h"

namespace lockstep::sql {
namespace {

// Failures after which rerunning the whole unit is safe: nothing was committed. An open
// circuit breaker is not rerun: it exists to fail at once, and would refuse the rerun too.
bool Rerunnable(const Status& s) {
  if (CircuitBreaker::IsRejection(s)) return false;
  return s.code() == StatusCode::kAborted || s.code() == StatusCode::kUnavailable;
}

// Runs `attempt` and reruns it while it fails with a rerunnable status, with backoff,
// until max_attempts or the deadline; counts into `stats`.
Status RetryLoop(Pool& pool, const RunOptions& options, const Deadline& deadline, RunStats* stats,
                 const std::function<Status()>& attempt_once) {
  RunStats local;
  RunStats& st = stats != nullptr ? *stats : local;
  if (options.max_attempts < 1) return Status::InvalidArgument("RunOptions::max_attempts must be >= 1");
  Backoff backoff(options.backoff);
  Status last;
  for (int attempt = 1;; ++attempt) {
    ++st.attempts;
    const Status s = attempt_once();
    if (s.ok() || !Rerunnable(s)) return s;
    last = s;
    if (attempt >= options.max_attempts) {
      return Status(s.code(), ::lockstep::internal::StrCat("giving up after ", attempt, " attempts: ", s.message()))
          .WithDriverError(s.driver_error());
    }
    if (s.driver_error() == 1213) ++st.deadlocks;
    if (s.driver_error() == 1205) ++st.lock_wait_timeouts;
    ++st.retries;
    if (pool.options().observer.on_retry) pool.options().observer.on_retry(s, attempt);
    if (!backoff.Wait(deadline).ok()) {
      return Status::DeadlineExceeded("deadline exceeded after ", attempt,
                                      " attempts; last error: ", last.ToString());
    }
  }
}

}  // namespace

Status RunInTransaction(Pool& pool, const RunOptions& options, const Deadline& deadline,
                        const std::function<Status(Transaction&)>& body, RunStats* stats) {
  return RetryLoop(pool, options, deadline, stats, [&]() -> Status {
    Result<Transaction> tx = pool.Begin(options.tx, deadline);
    if (!tx.ok()) return tx.status();
    Status s = body(*tx);
    if (s.ok() && tx->active()) s = tx->Commit();  // Body returned OK without committing.
    // On error, roll back now (not at scope exit) so locks are released before backoff.
    if (!s.ok() && tx->active()) (void)tx->Rollback();
    return s;
  });
}

Status RunWithRetries(Pool& pool, const RunOptions& options, const Deadline& deadline,
                      const std::function<Status(PooledConnection&)>& body, RunStats* stats) {
  return RetryLoop(pool, options, deadline, stats, [&]() -> Status {
    Result<PooledConnection> conn = pool.Acquire(deadline);
    if (!conn.ok()) return conn.status();
    return body(*conn);
  });
}

}  // namespace lockstep::sql
