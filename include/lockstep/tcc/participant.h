#pragma once

#include <functional>
#include <memory>
#include <string>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "lockstep/sql/transaction.h"
#include "lockstep/tcc/barrier.h"
#include "lockstep/tcc/branch.h"
#include "lockstep/tcc/observer.h"

namespace lockstep::tcc {

// A phase's business callback. Runs inside the participant's database transaction `tx`
// (which already holds the phase's barrier row); every effect of the phase must go through
// `tx` — whatever it does elsewhere is not undone when the phase rolls back. Return OK to
// commit, or an error to roll back: a Try returns kFailedPrecondition (with a reason such as
// "insufficient_funds"), kNotFound, kInvalidArgument or kOutOfRange for a business refusal
// (recorded in the barrier, see barrier.h); kAborted/kUnavailable rerun the phase (so the
// callback may run several times and must have no side effects outside the database).
// Confirm and Cancel should not refuse: the coordinator retries them until they succeed.
// Must not Commit() or Rollback() `tx` itself. Called on the thread that called the phase.
using PhaseCallback = std::function<Status(sql::Transaction& tx, const BranchContext& branch)>;

struct ParticipantOptions {
  // Names the participant (BranchSpec::participant); 1..64 printable ASCII characters.
  std::string name = {};
  // The business phases. All three are required (kInvalidArgument).
  PhaseCallback on_try = nullptr;
  PhaseCallback on_confirm = nullptr;
  PhaseCallback on_cancel = nullptr;
  // The barrier table in the participant's database (a plain identifier). Default
  // "tcc_barrier".
  std::string barrier_table = std::string(kDefaultBarrierTable);
  // Transaction options and deadlock/lost-connection reruns of each phase. Default: READ
  // COMMITTED, otherwise sql::RunOptions' defaults (10 attempts). Why READ COMMITTED: the
  // barrier's read after a duplicate INSERT takes a REPEATABLE READ snapshot, and with
  // snapshot isolation every later write to a row that another branch changed since (a hot
  // merchant account) fails with 1020 and reruns the phase; READ COMMITTED has no snapshot
  // to conflict with and takes no gap locks. A callback that reads a row it then writes
  // uses a conditional UPDATE or SELECT ... FOR UPDATE under it.
  sql::RunOptions run = [] {
    sql::RunOptions r;
    r.tx.isolation = sql::IsolationLevel::kReadCommitted;
    return r;
  }();
  // Optional callbacks (empty rollbacks, hanging Tries refused). Default: none.
  TccObserver observer = {};

  // OK or kInvalidArgument naming the first bad field.
  Status Validate() const;
};

// One participant of TCC transactions, bound to its own database (`pool`): runs each
// phase of a branch in one transaction of that database together with the phase's barrier
// row (barrier.h), which makes every phase idempotent, records empty rollbacks and refuses
// hanging Tries. The coordinator calls it in-process.
//
// Thread-safe. REQUIRES: `pool` outlives the participant.
class Participant {
 public:
  // Validates the options (kInvalidArgument). Does not touch the database.
  static Result<std::unique_ptr<Participant>> Create(sql::Pool& pool, ParticipantOptions options);
  Participant(const Participant&) = delete;
  Participant& operator=(const Participant&) = delete;

  // Creates the barrier table if it does not exist (CreateBarrierTable). Thread-safe.
  Status CreateSchema(const Deadline& deadline);

  // Try: kApplied (on_try committed), kDuplicate (it had committed before). Errors: the
  // callback's refusal (also a recorded refusal replayed: same code, reason and message);
  // kFailedPrecondition reason kReasonTryAfterCancel when the branch was cancelled (before
  // any Try: anti-hanging, counted by on_hanging_try_refused; or after an earlier Try:
  // nothing done either way); kInvalidArgument for bad ids; kDeadlineExceeded, kAborted
  // (retries ran out), kUnavailable, or kUnknown (COMMIT outcome unknown: the Try may have
  // committed; a later Cancel resolves either way). Thread-safe.
  Result<BranchOutcome> Try(const BranchContext& branch, const Deadline& deadline);
  // Confirm: kApplied or kDuplicate. kFailedPrecondition reason kReasonConfirmWithoutTry /
  // kReasonConfirmAfterCancel if the branch's Try did not commit or it was cancelled (a
  // coordinator bug: nothing done). Other codes as Try; a failed Confirm may be retried.
  // Thread-safe.
  Result<BranchOutcome> Confirm(const BranchContext& branch, const Deadline& deadline);
  // Cancel: kApplied (on_cancel undid the Try), kDuplicate, kEmptyRollback (no Try had
  // committed: recorded, on_cancel not called, a later Try is refused), kNothingToUndo
  // (the Try was refused: on_cancel not called). kFailedPrecondition reason
  // kReasonCancelAfterConfirm if the branch was confirmed. Other codes as Try; a failed
  // Cancel may be retried. Thread-safe.
  Result<BranchOutcome> Cancel(const BranchContext& branch, const Deadline& deadline);

  // The participant's name and database. Thread-safe.
  const std::string& name() const { return options_.name; }
  sql::Pool& pool() const { return pool_; }

 private:
  Participant(sql::Pool& pool, ParticipantOptions options);

  sql::Pool& pool_;
  const ParticipantOptions options_;
  // Statements against options_.barrier_table, built once.
  const std::string insert_sql_;
  const std::string select_sql_;
};

}  // namespace lockstep::tcc
