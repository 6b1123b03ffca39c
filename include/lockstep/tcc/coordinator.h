#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/sql/pool.h"
#include "lockstep/tcc/branch.h"
#include "lockstep/tcc/global_state.h"
#include "lockstep/tcc/options.h"
#include "lockstep/tcc/participant.h"

namespace lockstep::tcc {

// The coordinator of TCC global transactions (DESIGN.md module `tcc`).
//
// Log: two tables in the coordinator's own database (`log_pool`): "<prefix>global" (gid,
// state, reason, message, payload, fence, recoveries, created_at, updated_at; UTC on the
// log server's clock) and "<prefix>branch" (gid, seq, branch_id, participant, payload,
// state). Every state change is one conditional UPDATE `WHERE gid = ? AND state = <from>
// AND fence <= <writer's fence>` (GlobalState's state machine), so each transition happens
// once, by one writer.
//
// Execute: logs `trying` with its branches, runs every Try in order (the first failure
// stops the Tries), logs `confirming` (all succeeded) or `cancelling`, then runs every
// branch's Confirm (or Cancel: on every branch, so untried ones record an empty rollback
// that refuses a late Try), retrying each with backoff, and logs the final state. The
// decision is durable before any Confirm or Cancel runs.
//
// Recovery: RecoverOnce, on any instance sharing the log and the Redis of `locks`, takes
// the recovery lease (lock::LockService, with a fencing token) and finishes every
// transaction unfinished for longer than recovery_after: trying -> cancel, confirming ->
// confirm, cancelling -> cancel. It first claims each row by writing its fence into it
// (`SET fence = F WHERE fence <= F`); every later log write of that transaction carries
// `fence <= F`, so a recoverer paused past its lease (or the original Execute, fence 0) is
// refused by the log once a newer one has claimed the row. Participants' phases are
// idempotent (the barrier), so a refused writer's participant calls changed nothing twice.
//
// Thread-safe: Execute, Get and RecoverOnce may run concurrently from any threads and on
// any number of instances. REQUIRES: `log_pool`, `locks` and every participant outlive the
// coordinator.
class Coordinator {
 public:
  // Validates the options and the participants (non-null, unique names) (kInvalidArgument).
  // Does not touch the database.
  static Result<std::unique_ptr<Coordinator>> Create(sql::Pool& log_pool, lock::LockService& locks,
                                                     const std::vector<Participant*>& participants,
                                                     CoordinatorOptions options);
  // Stops the background recoverer (waits for its current round).
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Creates the log tables if they do not exist. Thread-safe.
  Status CreateSchema(const Deadline& deadline);

  // Runs global transaction `gid` over `branches` (at least one; ids unique; participants
  // registered). `payload` is stored with it (GlobalRecord::payload). `deadline` bounds
  // logging and the Try phase: a Try cut by it cancels the transaction. Phase two then
  // runs under phase_two_timeout.
  // Returns the Outcome (confirmed; cancelled with its cause; or confirming/cancelling when
  // phase two is left to recovery), or: kInvalidArgument (bad input: nothing logged);
  // kAlreadyExists reason kReasonDuplicateGid (gid already logged: nothing done, read it
  // with Get); kDeadlineExceeded/kUnavailable/kAborted before anything was logged; kUnknown
  // (the `trying` row or the decision may or may not be durable: recovery settles it);
  // kAborted reason kReasonTakenOver (a recoverer claimed it: read it with Get); kAborted
  // reason kReasonCrashed (a test hook). Thread-safe.
  Result<Outcome> Execute(std::string_view gid, const std::vector<BranchSpec>& branches, std::string_view payload,
                          const Deadline& deadline);

  // The log row of `gid`; kNotFound if there is none. Thread-safe.
  Result<GlobalRecord> Get(std::string_view gid, const Deadline& deadline);

  // One recovery round (see the class comment). Waits for the recovery lease per
  // recovery_lock_options until `deadline` (busy: kDeadlineExceeded / kAborted reason
  // "lock_busy"); then settles up to recovery_batch transactions, each with its phase two
  // bounded by min(deadline, now + phase_two_timeout), and reports the age of the oldest
  // unfinished transaction to observer.on_oldest_unfinished. Returns what it did; errors
  // from Redis or the log; kAborted reason kReasonCrashed (a test hook). Thread-safe.
  Result<RecoveryStats> RecoverOnce(const Deadline& deadline);

  // Age of the oldest unfinished global transaction on the log server's clock (zero if
  // none). Thread-safe.
  Result<std::chrono::microseconds> OldestUnfinishedAge(const Deadline& deadline);

  // Starts a background thread that runs RecoverOnce every recovery_interval (each round
  // bounded by recovery_interval + phase_two_timeout; a busy lease skips the round) until
  // StopRecoverer() or destruction. kFailedPrecondition if already running. Thread-safe.
  Status StartRecoverer();
  // Stops the background recoverer and waits for it; no-op if not running. Thread-safe.
  void StopRecoverer();

  // The options given to Create. Thread-safe.
  const CoordinatorOptions& options() const { return options_; }

 private:
  struct LoggedBranch;
  Coordinator(sql::Pool& log_pool, lock::LockService& locks, std::map<std::string, Participant*> participants,
              CoordinatorOptions options);

  HookAction Hook(const StepInfo& info) const;
  void ReportState(GlobalState to) const;
  void Log(std::string_view message) const;
  Status InsertTrying(std::string_view gid, const std::vector<BranchSpec>& branches, std::string_view payload,
                      const Deadline& deadline);
  // What a conditional log write found.
  enum class LogWrite {
    kDone,          // This writer made the change.
    kStateChanged,  // The row is no longer in the expected state: someone else moved it.
    kFenced,        // The row carries a newer fence: a newer recoverer owns it.
  };
  // The conditional UPDATE from -> to carrying `fence`; `cause` (if not null) is stored as
  // the reason.
  Result<LogWrite> Transition(std::string_view gid, GlobalState from, GlobalState to, const Status* cause,
                              int64_t fence, const Deadline& deadline);
  // Recovery's claim: SET fence = F WHERE state = from AND fence <= F.
  Result<LogWrite> Claim(std::string_view gid, GlobalState from, int64_t fence, const Deadline& deadline);
  // Runs `update` (a conditional UPDATE of gid's row, in autocommit) with reruns; when it
  // changed nothing, decides from the row whether this writer had already made it.
  Result<LogWrite> ConditionalWrite(std::string_view gid, GlobalState target, int64_t fence, const Deadline& deadline,
                                    const std::function<Result<sql::ExecResult>(sql::PooledConnection&)>& update);
  // Re-reads the row after an UPDATE that changed nothing.
  Result<LogWrite> Unchanged(sql::PooledConnection& conn, std::string_view gid, GlobalState target,
                             int64_t fence, const Deadline& deadline);
  // Settles one unfinished transaction found by a recovery scan.
  Status Settle(std::string_view gid, GlobalState from, const lock::LockGuard& guard, const Deadline& deadline,
                RecoveryStats& stats);
  Result<std::vector<LoggedBranch>> LoadBranches(std::string_view gid, const Deadline& deadline);
  // Runs Confirm (state kConfirming) or Cancel on every branch, retrying each until it
  // succeeds or `deadline`; `check` (recovery: the lease) runs before each call.
  Status RunPhaseTwo(std::string_view gid, GlobalState deciding, const std::vector<LoggedBranch>& branches,
                     bool recovery, const Deadline& deadline, const std::function<Status()>& check);
  void UpdateBranchState(std::string_view gid, int seq, std::string_view state, const Deadline& deadline);
  // After a refused transition: the outcome as the log says it now.
  Result<Outcome> TakenOver(std::string_view gid, const Deadline& deadline);
  void RecovererLoop();

  sql::Pool& log_pool_;
  lock::LockService& locks_;
  const std::map<std::string, Participant*> participants_;
  const CoordinatorOptions options_;
  const std::string global_table_;
  const std::string branch_table_;

  Mutex mu_;
  CondVar cv_;
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::thread recoverer_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace lockstep::tcc
