#include "lockstep/tcc/participant.h"

#include <functional>
#include <optional>
#include <utility>

#include "lockstep/tcc/global_state.h"
#include "tcc/barrier_sql.h"

namespace lockstep::tcc {
namespace {

struct BarrierRow {
  std::string state;
  int code = 0;
  std::string reason;
  std::string message;
};

// A Try's error that is a business verdict (recorded, final) rather than a transient
// failure (the Try may be repeated and a later Cancel resolves it).
bool IsRefusal(const Status& s) {
  switch (s.code()) {
    case StatusCode::kFailedPrecondition:
    case StatusCode::kNotFound:
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

// kFailedPrecondition with `reason`: the barrier refuses `phase` of the branch.
Status Refused(Phase phase, const BranchContext& b, std::string_view participant, std::string_view why,
               std::string_view reason) {
  return Status::FailedPrecondition("tcc: ", PhaseName(phase), " of ", b.gid, "/", b.branch_id, " at '",
                                    participant, "' refused: ", why)
      .WithReason(std::string(reason));
}

Status RecordedRefusal(const BarrierRow& row) {
  Status s(static_cast<StatusCode>(row.code == 0 ? static_cast<int>(StatusCode::kFailedPrecondition) : row.code),
           row.message);
  return row.reason.empty() ? s : std::move(s).WithReason(row.reason);
}

}  // namespace

Result<std::unique_ptr<Participant>> Participant::Create(sql::Pool& pool, ParticipantOptions options) {
  LOCKSTEP_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<Participant>(new Participant(pool, std::move(options)));
}

Participant::Participant(sql::Pool& pool, ParticipantOptions options)
    : pool_(pool),
      options_(std::move(options)),
      insert_sql_(internal::BarrierInsertSql(options_.barrier_table)),
      select_sql_(internal::BarrierSelectSql(options_.barrier_table)) {}

Status Participant::CreateSchema(const Deadline& deadline) {
  return CreateBarrierTable(pool_, options_.barrier_table, deadline);
}

namespace {

// Helpers bound to one participant's statements.
struct BarrierOps {
  const std::string& insert_sql;
  const std::string& select_sql;
  const BranchContext& b;

  // INSERT IGNORE of (op, state); true if the row was inserted, false if it existed.
  Result<bool> Insert(sql::Transaction& tx, Phase op, std::string_view state, const Status& why = {}) const {
    LOCKSTEP_ASSIGN_OR_RETURN(
        const sql::ExecResult r,
        // std::string copies: an OK status's empty string_views would bind as NULL.
        tx.Execute(insert_sql, b.gid, b.branch_id, PhaseName(op), state, static_cast<int>(why.code()),
                   std::string(why.reason()), std::string(why.message())));
    return r.affected_rows > 0;
  }
  // The row of `op`, if any (a consistent read, never a locking one).
  Result<std::optional<BarrierRow>> Read(sql::Transaction& tx, Phase op) const {
    LOCKSTEP_ASSIGN_OR_RETURN(const sql::Rows rows, tx.Query(select_sql, b.gid, b.branch_id, PhaseName(op)));
    if (rows.empty()) return std::optional<BarrierRow>();
    BarrierRow row;
    LOCKSTEP_ASSIGN_OR_RETURN(row.state, rows[0].GetString(0));
    LOCKSTEP_ASSIGN_OR_RETURN(const int64_t code, rows[0].GetInt64(1));
    row.code = static_cast<int>(code);
    LOCKSTEP_ASSIGN_OR_RETURN(row.reason, rows[0].GetString(2));
    LOCKSTEP_ASSIGN_OR_RETURN(row.message, rows[0].GetString(3));
    return std::optional<BarrierRow>(std::move(row));
  }
};

// Runs one phase's `body` in a participant transaction (rerun per `run`; each run starts
// from outcome kApplied, which the body may change) and returns its outcome.
Result<BranchOutcome> RunPhase(sql::Pool& pool, const sql::RunOptions& run, const BranchContext& branch,
                               const Deadline& deadline,
                               const std::function<Status(sql::Transaction&, BranchOutcome&)>& body) {
  LOCKSTEP_RETURN_IF_ERROR(ValidateBranchIds(branch.gid, branch.branch_id));
  BranchOutcome outcome = BranchOutcome::kApplied;
  const Status s = sql::RunInTransaction(pool, run, deadline, [&](sql::Transaction& tx) -> Status {
    outcome = BranchOutcome::kApplied;
    return body(tx, outcome);
  });
  if (!s.ok()) return s;
  return outcome;
}

}  // namespace

Result<BranchOutcome> Participant::Try(const BranchContext& branch, const Deadline& deadline) {
  const BarrierOps ops{insert_sql_, select_sql_, branch};
  bool hanging = false;
  Status refusal;
  Result<BranchOutcome> result = RunPhase(pool_, options_.run, branch, deadline,
                                          [&](sql::Transaction& tx, BranchOutcome& outcome) -> Status {
    hanging = false;
    refusal = Status();
    LOCKSTEP_ASSIGN_OR_RETURN(const bool inserted, ops.Insert(tx, Phase::kTry, internal::kDone));
    if (!inserted) {
      // The INSERT waited for any uncommitted writer of the row, so this read sees the
      // committed row (READ COMMITTED reads the latest commit; under REPEATABLE READ it is
      // the transaction's first read, which takes the snapshot now).
      LOCKSTEP_ASSIGN_OR_RETURN(const std::optional<BarrierRow> row, ops.Read(tx, Phase::kTry));
      if (!row.has_value()) return Status::Aborted("tcc: barrier row vanished; rerun");
      if (row->state == internal::kDone) {
        // It ran before; tell a stale caller if the branch has been cancelled since.
        LOCKSTEP_ASSIGN_OR_RETURN(const std::optional<BarrierRow> cancelled, ops.Read(tx, Phase::kCancel));
        if (cancelled.has_value()) {
          return Refused(Phase::kTry, branch, options_.name, "the branch was cancelled", kReasonTryAfterCancel);
        }
        outcome = BranchOutcome::kDuplicate;
        return Status::Ok();
      }
      if (row->state == internal::kRefused) return RecordedRefusal(*row);
      hanging = true;
      return Refused(Phase::kTry, branch, options_.name, "the branch was cancelled first", kReasonTryAfterCancel);
    }
    Status business = options_.on_try(tx, branch);
    if (!business.ok() && IsRefusal(business)) refusal = business;
    // On error the runner rolls back the business effect together with the barrier row.
    return business;
  });
  if (hanging && options_.observer.on_hanging_try_refused) options_.observer.on_hanging_try_refused(options_.name);
  if (!refusal.ok()) {
    // Record the refusal on its own (the Try's transaction rolled back its barrier row):
    // a replay of this Try gets the same verdict, and a Cancel knows there is nothing to
    // undo. Best effort: if it is not recorded, a Cancel records an empty rollback, which
    // is just as correct (nothing of the refused Try committed).
    (void)sql::RunInTransaction(pool_, options_.run, deadline, [&](sql::Transaction& tx) -> Status {
      return ops.Insert(tx, Phase::kTry, internal::kRefused, refusal).status();
    });
    return refusal;
  }
  return result;
}

Result<BranchOutcome> Participant::Confirm(const BranchContext& branch, const Deadline& deadline) {
  const BarrierOps ops{insert_sql_, select_sql_, branch};
  return RunPhase(pool_, options_.run, branch, deadline, [&](sql::Transaction& tx, BranchOutcome& outcome) -> Status {
    LOCKSTEP_ASSIGN_OR_RETURN(const bool inserted, ops.Insert(tx, Phase::kConfirm, internal::kDone));
    if (!inserted) {
      outcome = BranchOutcome::kDuplicate;
      return Status::Ok();
    }
    LOCKSTEP_ASSIGN_OR_RETURN(const std::optional<BarrierRow> tried, ops.Read(tx, Phase::kTry));
    if (!tried.has_value() || tried->state != internal::kDone) {
      return Refused(Phase::kConfirm, branch, options_.name, "its Try did not commit", kReasonConfirmWithoutTry);
    }
    LOCKSTEP_ASSIGN_OR_RETURN(const std::optional<BarrierRow> cancelled, ops.Read(tx, Phase::kCancel));
    if (cancelled.has_value()) {
      return Refused(Phase::kConfirm, branch, options_.name, "the branch was cancelled", kReasonConfirmAfterCancel);
    }
    return options_.on_confirm(tx, branch);
  });
}

Result<BranchOutcome> Participant::Cancel(const BranchContext& branch, const Deadline& deadline) {
  const BarrierOps ops{insert_sql_, select_sql_, branch};
  Result<BranchOutcome> result =
      RunPhase(pool_, options_.run, branch, deadline, [&](sql::Transaction& tx, BranchOutcome& outcome) -> Status {
    // First the Try's row: if this inserts it, the Try never committed and never will
    // (its own INSERT now finds the marker): an empty rollback.
    LOCKSTEP_ASSIGN_OR_RETURN(const bool no_try, ops.Insert(tx, Phase::kTry, internal::kBlocked));
    std::optional<BarrierRow> tried;
    if (!no_try) {
      LOCKSTEP_ASSIGN_OR_RETURN(tried, ops.Read(tx, Phase::kTry));
      if (!tried.has_value()) return Status::Aborted("tcc: barrier row vanished; rerun");
    }
    const bool undo = tried.has_value() && tried->state == internal::kDone;
    const std::string_view state = no_try ? internal::kEmpty : undo ? internal::kDone : internal::kNothing;
    LOCKSTEP_ASSIGN_OR_RETURN(const bool inserted, ops.Insert(tx, Phase::kCancel, state));
    if (!inserted) {
      outcome = BranchOutcome::kDuplicate;
      return Status::Ok();
    }
    if (no_try) {
      outcome = BranchOutcome::kEmptyRollback;
      return Status::Ok();
    }
    if (!undo) {
      outcome = BranchOutcome::kNothingToUndo;
      return Status::Ok();
    }
    LOCKSTEP_ASSIGN_OR_RETURN(const std::optional<BarrierRow> confirmed, ops.Read(tx, Phase::kConfirm));
    if (confirmed.has_value()) {
      return Refused(Phase::kCancel, branch, options_.name, "the branch was confirmed", kReasonCancelAfterConfirm);
    }
    return options_.on_cancel(tx, branch);
  });
  if (result.ok() && *result == BranchOutcome::kEmptyRollback && options_.observer.on_empty_rollback) {
    options_.observer.on_empty_rollback(options_.name);
  }
  return result;
}

}  // namespace lockstep::tcc
