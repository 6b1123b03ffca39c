#include "lockstep/tcc/coordinator.h"

#include <set>
#include <utility>

#include "lockstep/base/backoff.h"
#include "lockstep/sql/run_in_transaction.h"

namespace lockstep::tcc {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kUnfinishedStates = "('trying', 'confirming', 'cancelling')";

Status Crashed(const StepInfo& info) {
  return Status::Aborted("tcc: abandoned by a test hook after step ", StepName(info.step), " of ", info.gid)
      .WithReason(std::string(kReasonCrashed));
}

bool IsCrash(const Status& s) { return s.code() == StatusCode::kAborted && s.reason() == kReasonCrashed; }

GlobalState FinalOf(GlobalState deciding) {
  return deciding == GlobalState::kConfirming ? GlobalState::kConfirmed : GlobalState::kCancelled;
}

}  // namespace

struct Coordinator::LoggedBranch {
  int seq = 0;
  BranchSpec spec = {};
};

Result<std::unique_ptr<Coordinator>> Coordinator::Create(sql::Pool& log_pool, lock::LockService& locks,
                                                         const std::vector<Participant*>& participants,
                                                         CoordinatorOptions options) {
  LOCKSTEP_RETURN_IF_ERROR(options.Validate());
  std::map<std::string, Participant*> by_name;
  for (Participant* p : participants) {
    if (p == nullptr) return Status::InvalidArgument("tcc: null participant");
    if (!by_name.emplace(p->name(), p).second) {
      return Status::InvalidArgument("tcc: two participants named '", p->name(), "'");
    }
  }
  if (by_name.empty()) return Status::InvalidArgument("tcc: a coordinator needs participants");
  return std::unique_ptr<Coordinator>(new Coordinator(log_pool, locks, std::move(by_name), std::move(options)));
}

Coordinator::Coordinator(sql::Pool& log_pool, lock::LockService& locks,
                         std::map<std::string, Participant*> participants, CoordinatorOptions options)
    : log_pool_(log_pool),
      locks_(locks),
      participants_(std::move(participants)),
      options_(std::move(options)),
      global_table_("`" + options_.table_prefix + "global`"),
      branch_table_("`" + options_.table_prefix + "branch`") {}

Coordinator::~Coordinator() { StopRecoverer(); }

Status Coordinator::CreateSchema(const Deadline& deadline) {
  const std::string global_ddl = "CREATE TABLE IF NOT EXISTS " + global_table_ +
                                 " ("
                                 "gid VARBINARY(128) NOT NULL PRIMARY KEY, "
                                 "state VARCHAR(16) NOT NULL, "
                                 "code INT NOT NULL DEFAULT 0, "
                                 "reason VARCHAR(64) NOT NULL DEFAULT '', "
                                 "message VARCHAR(512) NOT NULL DEFAULT '', "
                                 "payload MEDIUMBLOB NOT NULL, "
                                 "fence BIGINT NOT NULL DEFAULT 0, "
                                 "recoveries INT NOT NULL DEFAULT 0, "
                                 "created_at DATETIME(6) NOT NULL, "
                                 "updated_at DATETIME(6) NOT NULL, "
                                 "KEY state_updated (state, updated_at)"
                                 ") ENGINE=InnoDB";
  const std::string branch_ddl = "CREATE TABLE IF NOT EXISTS " + branch_table_ +
                                 " ("
                                 "gid VARBINARY(128) NOT NULL, "
                                 "seq INT NOT NULL, "
                                 "branch_id VARBINARY(64) NOT NULL, "
                                 "participant VARCHAR(64) NOT NULL, "
                                 "payload MEDIUMBLOB NOT NULL, "
                                 "state VARCHAR(16) NOT NULL, "
                                 "updated_at DATETIME(6) NOT NULL, "
                                 "PRIMARY KEY (gid, seq), "
                                 "UNIQUE KEY gid_branch (gid, branch_id)"
                                 ") ENGINE=InnoDB";
  return sql::RunWithRetries(log_pool_, options_.run, deadline, [&](sql::PooledConnection& conn) -> Status {
    LOCKSTEP_RETURN_IF_ERROR(conn.Execute(global_ddl, deadline).status());
    return conn.Execute(branch_ddl, deadline).status();
  });
}

HookAction Coordinator::Hook(const StepInfo& info) const {
  if (!options_.hooks.after_step) return HookAction::kContinue;
  return options_.hooks.after_step(info);
}

void Coordinator::ReportState(GlobalState to) const {
  if (options_.observer.on_state) options_.observer.on_state(to);
}

void Coordinator::Log(std::string_view message) const {
  if (options_.observer.on_log) options_.observer.on_log(message);
}

Status Coordinator::InsertTrying(std::string_view gid, const std::vector<BranchSpec>& branches,
                                 std::string_view payload, const Deadline& deadline) {
  const std::string global_sql = "INSERT INTO " + global_table_ +
                                 " (gid, state, payload, created_at, updated_at) "
                                 "VALUES (?, 'trying', ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))";
  std::string branch_sql = "INSERT INTO " + branch_table_ +
                           " (gid, seq, branch_id, participant, payload, state, updated_at) VALUES ";
  sql::ParamList params;
  for (size_t i = 0; i < branches.size(); ++i) {
    branch_sql += i == 0 ? "" : ", ";
    branch_sql += "(?, ?, ?, ?, ?, 'pending', UTC_TIMESTAMP(6))";
    params.Add(gid, static_cast<int64_t>(i), branches[i].branch_id, branches[i].participant, branches[i].payload);
  }
  params.Add(deadline);
  return sql::RunInTransaction(log_pool_, options_.run, deadline, [&](sql::Transaction& tx) -> Status {
    LOCKSTEP_RETURN_IF_ERROR(tx.Execute(global_sql, gid, payload).status());
    return tx.ExecuteList(branch_sql, params).status();
  });
}

Result<Coordinator::LogWrite> Coordinator::Unchanged(sql::PooledConnection& conn, std::string_view gid,
                                                     GlobalState target, int64_t fence, const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(const sql::Rows rows,
                            conn.Query("SELECT state, fence FROM " + global_table_ + " WHERE gid = ?", gid, deadline));
  if (rows.empty()) return Status::NotFound("tcc: no global transaction ", gid);
  LOCKSTEP_ASSIGN_OR_RETURN(const std::string state, rows[0].GetString(0));
  LOCKSTEP_ASSIGN_OR_RETURN(const int64_t row_fence, rows[0].GetInt64(1));
  // Our own earlier attempt committed before its reply was lost (RunWithRetries reran it):
  // only this writer writes this fence for this gid.
  if (state == GlobalStateName(target) && row_fence == fence) return LogWrite::kDone;
  if (row_fence > fence) return LogWrite::kFenced;
  return LogWrite::kStateChanged;
}

Result<Coordinator::LogWrite> Coordinator::ConditionalWrite(
    std::string_view gid, GlobalState target, int64_t fence, const Deadline& deadline,
    const std::function<Result<sql::ExecResult>(sql::PooledConnection&)>& update) {
  LogWrite result = LogWrite::kDone;
  const Status s = sql::RunWithRetries(log_pool_, options_.run, deadline, [&](sql::PooledConnection& conn) -> Status {
    LOCKSTEP_ASSIGN_OR_RETURN(const sql::ExecResult r, update(conn));
    if (r.affected_rows > 0) {
      result = LogWrite::kDone;
      return Status::Ok();
    }
    LOCKSTEP_ASSIGN_OR_RETURN(result, Unchanged(conn, gid, target, fence, deadline));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

Result<Coordinator::LogWrite> Coordinator::Transition(std::string_view gid, GlobalState from, GlobalState to,
                                                      const Status* cause, int64_t fence, const Deadline& deadline) {
  LOCKSTEP_CHECK(IsAllowedTransition(from, to));
  const std::string update =
      "UPDATE " + global_table_ + " SET state = ?, fence = ?, updated_at = UTC_TIMESTAMP(6)" +
      (cause != nullptr ? ", code = ?, reason = LEFT(?, 64), message = LEFT(?, 512)" : "") +
      " WHERE gid = ? AND state = ? AND fence <= ?";
  return ConditionalWrite(gid, to, fence, deadline, [&](sql::PooledConnection& conn) {
    if (cause == nullptr) return conn.Execute(update, GlobalStateName(to), fence, gid, GlobalStateName(from), fence, deadline);
    // std::string copies: an OK status's empty string_views would bind as NULL.
    return conn.Execute(update, GlobalStateName(to), fence, static_cast<int>(cause->code()),
                        std::string(cause->reason()), std::string(cause->message()), gid, GlobalStateName(from), fence,
                        deadline);
  });
}

Result<Coordinator::LogWrite> Coordinator::Claim(std::string_view gid, GlobalState from, int64_t fence,
                                                 const Deadline& deadline) {
  const std::string update = "UPDATE " + global_table_ +
                             " SET fence = ?, recoveries = recoveries + 1, updated_at = UTC_TIMESTAMP(6)"
                             " WHERE gid = ? AND state = ? AND fence <= ?";
  return ConditionalWrite(gid, from, fence, deadline, [&](sql::PooledConnection& conn) {
    return conn.Execute(update, fence, gid, GlobalStateName(from), fence, deadline);
  });
}

Result<std::vector<Coordinator::LoggedBranch>> Coordinator::LoadBranches(std::string_view gid,
                                                                         const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, log_pool_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(
      const sql::Rows rows,
      conn.Query("SELECT seq, branch_id, participant, payload FROM " + branch_table_ + " WHERE gid = ? ORDER BY seq",
                 gid, deadline));
  std::vector<LoggedBranch> out;
  for (const sql::Row& row : rows) {
    LoggedBranch b;
    LOCKSTEP_ASSIGN_OR_RETURN(const int64_t seq, row.GetInt64(0));
    b.seq = static_cast<int>(seq);
    LOCKSTEP_ASSIGN_OR_RETURN(b.spec.branch_id, row.GetString(1));
    LOCKSTEP_ASSIGN_OR_RETURN(b.spec.participant, row.GetString(2));
    LOCKSTEP_ASSIGN_OR_RETURN(b.spec.payload, row.GetString(3));
    out.push_back(std::move(b));
  }
  return out;
}

void Coordinator::UpdateBranchState(std::string_view gid, int seq, std::string_view state, const Deadline& deadline) {
  // Informational (what each branch reached, for operators); the barrier, not this column,
  // decides what a phase does, so a failed or stale write here is harmless.
  Result<sql::PooledConnection> conn = log_pool_.Acquire(deadline);
  if (!conn.ok()) return;
  (void)conn->Execute("UPDATE " + branch_table_ + " SET state = ?, updated_at = UTC_TIMESTAMP(6) WHERE gid = ? AND seq = ?",
                      state, gid, seq, deadline);
}

Status Coordinator::RunPhaseTwo(std::string_view gid, GlobalState deciding, const std::vector<LoggedBranch>& branches,
                                bool recovery, const Deadline& deadline, const std::function<Status()>& check) {
  const bool confirm = deciding == GlobalState::kConfirming;
  for (const LoggedBranch& b : branches) {
    auto it = participants_.find(b.spec.participant);
    if (it == participants_.end()) {
      return Status::FailedPrecondition("tcc: ", gid, " names participant '", b.spec.participant,
                                        "', which this coordinator does not know");
    }
    Participant& p = *it->second;
    const BranchContext ctx{std::string(gid), b.spec.branch_id, b.spec.payload};
    Backoff backoff(options_.retry_backoff);
    BranchOutcome outcome = BranchOutcome::kApplied;
    while (true) {
      if (check) LOCKSTEP_RETURN_IF_ERROR(check());
      Result<BranchOutcome> r = confirm ? p.Confirm(ctx, deadline) : p.Cancel(ctx, deadline);
      if (r.ok()) {
        outcome = *r;
        break;
      }
      Log(internal::StrCat("tcc: ", confirm ? "Confirm" : "Cancel", " of ", gid, "/", b.spec.branch_id, " at '",
                           p.name(), "' failed (will retry): ", r.status().ToString()));
      if (!backoff.Wait(deadline).ok()) {
        return Status::DeadlineExceeded("tcc: phase two of ", gid, " unfinished at ", b.spec.branch_id, ": ",
                                        r.status().ToString());
      }
    }
    std::string_view state = confirm ? "confirmed" : "cancelled";
    if (outcome == BranchOutcome::kEmptyRollback || outcome == BranchOutcome::kNothingToUndo) {
      state = BranchOutcomeName(outcome);
    }
    UpdateBranchState(gid, b.seq, state, deadline);
    const StepInfo info{Step::kBranchSettled, gid, b.spec.branch_id, deciding, recovery};
    if (Hook(info) == HookAction::kCrash) return Crashed(info);
  }
  return Status::Ok();
}

Result<Outcome> Coordinator::TakenOver(std::string_view gid, const Deadline& deadline) {
  Result<GlobalRecord> record = Get(gid, deadline);
  if (record.ok() && IsFinal(record->state)) return Outcome{record->state, record->cause};
  return Status::Aborted("tcc: ", gid, " was taken over by recovery").WithReason(std::string(kReasonTakenOver));
}

Result<Outcome> Coordinator::Execute(std::string_view gid, const std::vector<BranchSpec>& branches,
                                     std::string_view payload, const Deadline& deadline) {
  if (branches.empty()) return Status::InvalidArgument("tcc: a global transaction needs at least one branch");
  std::set<std::string_view> ids;
  for (const BranchSpec& b : branches) {
    LOCKSTEP_RETURN_IF_ERROR(ValidateBranchIds(gid, b.branch_id));
    if (!ids.insert(b.branch_id).second) return Status::InvalidArgument("tcc: duplicate branch id ", b.branch_id);
    if (participants_.count(b.participant) == 0) {
      return Status::InvalidArgument("tcc: unknown participant '", b.participant, "'");
    }
  }

  // 1. The log first: from here on, recovery finishes the transaction whatever happens.
  Status logged = InsertTrying(gid, branches, payload, deadline);
  if (!logged.ok()) {
    if (logged.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("tcc: global transaction ", gid, " already exists")
          .WithReason(std::string(kReasonDuplicateGid));
    }
    return logged;  // kUnknown: it may be logged; recovery cancels it after recovery_after.
  }
  ReportState(GlobalState::kTrying);
  if (const StepInfo info{Step::kLogged, gid, {}, GlobalState::kTrying, false}; Hook(info) == HookAction::kCrash) {
    return Crashed(info);
  }

  // 2. Try every branch in order; the first failure (refusal, timeout, unknown) decides cancel.
  std::vector<LoggedBranch> logged_branches;
  Status cause;
  for (size_t i = 0; i < branches.size(); ++i) {
    logged_branches.push_back({static_cast<int>(i), branches[i]});
  }
  for (const LoggedBranch& b : logged_branches) {
    if (deadline.expired()) {
      cause = Status::DeadlineExceeded("tcc: deadline passed before the Try of ", gid, "/", b.spec.branch_id);
      break;
    }
    Participant& p = *participants_.at(b.spec.participant);
    Result<BranchOutcome> tried = p.Try({std::string(gid), b.spec.branch_id, b.spec.payload}, deadline);
    if (!tried.ok()) {
      cause = tried.status();
      break;
    }
    UpdateBranchState(gid, b.seq, "tried", deadline);
    const StepInfo info{Step::kTried, gid, b.spec.branch_id, GlobalState::kTrying, false};
    if (Hook(info) == HookAction::kCrash) return Crashed(info);
  }

  // 3. The decision, durable before any Confirm or Cancel runs.
  const GlobalState deciding = cause.ok() ? GlobalState::kConfirming : GlobalState::kCancelling;
  const Deadline phase_two = Deadline::After(options_.phase_two_timeout);
  Result<LogWrite> decided = Transition(gid, GlobalState::kTrying, deciding, &cause, 0, phase_two);
  if (!decided.ok()) {
    return Status::Unknown("tcc: the decision of ", gid, " may not be logged (recovery settles it): ",
                           decided.status().ToString());
  }
  if (*decided != LogWrite::kDone) return TakenOver(gid, phase_two);
  ReportState(deciding);
  if (const StepInfo info{Step::kDecided, gid, {}, deciding, false}; Hook(info) == HookAction::kCrash) {
    return Crashed(info);
  }

  // 4. Phase two on every branch, then the final state.
  const Status settled = RunPhaseTwo(gid, deciding, logged_branches, false, phase_two, nullptr);
  if (IsCrash(settled)) return settled;
  if (!settled.ok()) {
    Log(internal::StrCat("tcc: ", gid, " left ", GlobalStateName(deciding), " for recovery: ", settled.ToString()));
    return Outcome{deciding, cause};
  }
  const GlobalState final_state = FinalOf(deciding);
  Result<LogWrite> finished = Transition(gid, deciding, final_state, nullptr, 0, phase_two);
  if (!finished.ok()) return Outcome{deciding, cause};  // Recovery writes it (phase two is idempotent).
  if (*finished != LogWrite::kDone) return TakenOver(gid, phase_two);
  ReportState(final_state);
  if (const StepInfo info{Step::kFinished, gid, {}, final_state, false}; Hook(info) == HookAction::kCrash) {
    return Crashed(info);
  }
  return Outcome{final_state, cause};
}

Result<GlobalRecord> Coordinator::Get(std::string_view gid, const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, log_pool_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(const sql::Rows rows,
                            conn.Query("SELECT state, code, reason, message, payload, fence, recoveries FROM " +
                                           global_table_ + " WHERE gid = ?",
                                       gid, deadline));
  if (rows.empty()) return Status::NotFound("tcc: no global transaction ", gid);
  const sql::Row& row = rows[0];
  GlobalRecord r;
  r.gid = std::string(gid);
  LOCKSTEP_ASSIGN_OR_RETURN(const std::string state, row.GetString(0));
  const std::optional<GlobalState> parsed = ParseGlobalState(state);
  if (!parsed.has_value()) return Status::Internal("tcc: bad state '", state, "' logged for ", gid);
  r.state = *parsed;
  LOCKSTEP_ASSIGN_OR_RETURN(const int64_t code, row.GetInt64(1));
  LOCKSTEP_ASSIGN_OR_RETURN(std::string reason, row.GetString(2));
  LOCKSTEP_ASSIGN_OR_RETURN(std::string message, row.GetString(3));
  if (code != 0) {
    r.cause = Status(static_cast<StatusCode>(code), std::move(message));
    if (!reason.empty()) r.cause = std::move(r.cause).WithReason(std::move(reason));
  }
  LOCKSTEP_ASSIGN_OR_RETURN(r.payload, row.GetString(4));
  LOCKSTEP_ASSIGN_OR_RETURN(r.fence, row.GetInt64(5));
  LOCKSTEP_ASSIGN_OR_RETURN(const int64_t recoveries, row.GetInt64(6));
  r.recoveries = static_cast<int>(recoveries);
  return r;
}

Result<std::chrono::microseconds> Coordinator::OldestUnfinishedAge(const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, log_pool_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(
      const sql::Rows rows,
      conn.Query("SELECT COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), UTC_TIMESTAMP(6)), 0) FROM " +
                     global_table_ + " WHERE state IN " + std::string(kUnfinishedStates),
                 deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(const int64_t age, rows[0].GetInt64(0));
  return std::chrono::microseconds(std::max<int64_t>(age, 0));
}

Status Coordinator::Settle(std::string_view gid, GlobalState from, const lock::LockGuard& guard,
                           const Deadline& deadline, RecoveryStats& stats) {
  const int64_t fence = guard.fence();
  const Deadline phase_two = deadline.CappedAt(options_.phase_two_timeout);
  auto count = [&stats](LogWrite w) {
    if (w == LogWrite::kFenced) ++stats.fenced;
    if (w == LogWrite::kStateChanged) ++stats.skipped;
  };
  // Claim the row with our fence: from now on a writer with an older fence (a paused
  // recoverer, or the original Execute with fence 0) is refused by the log.
  LOCKSTEP_RETURN_IF_ERROR(guard.Check());
  LOCKSTEP_ASSIGN_OR_RETURN(const LogWrite claimed, Claim(gid, from, fence, phase_two));
  if (claimed != LogWrite::kDone) {
    count(claimed);
    return Status::Ok();
  }
  GlobalState deciding = from;
  if (from == GlobalState::kTrying) {
    // Abandoned (or too slow) while trying: a Try may or may not have committed on each
    // branch; cancel them all (the barrier turns the untried ones into empty rollbacks and
    // refuses their late Tries).
    LOCKSTEP_RETURN_IF_ERROR(guard.Check());
    const Status cause = Status::DeadlineExceeded("tcc: abandoned while trying; cancelled by recovery")
                             .WithReason(std::string(kReasonRecoveredTimeout));
    LOCKSTEP_ASSIGN_OR_RETURN(const LogWrite w,
                              Transition(gid, GlobalState::kTrying, GlobalState::kCancelling, &cause, fence, phase_two));
    if (w != LogWrite::kDone) {
      count(w);
      return Status::Ok();
    }
    deciding = GlobalState::kCancelling;
    ReportState(deciding);
    if (const StepInfo info{Step::kDecided, gid, {}, deciding, true}; Hook(info) == HookAction::kCrash) {
      return Crashed(info);
    }
  }
  LOCKSTEP_ASSIGN_OR_RETURN(const std::vector<LoggedBranch> branches, LoadBranches(gid, phase_two));
  const Status settled = RunPhaseTwo(gid, deciding, branches, true, phase_two, [&guard] { return guard.Check(); });
  if (!settled.ok()) {
    if (IsCrash(settled) || settled.reason() == "lock_lost") return settled;
    ++stats.unfinished;
    Log(internal::StrCat("tcc: recovery left ", gid, " ", GlobalStateName(deciding), ": ", settled.ToString()));
    return Status::Ok();
  }
  LOCKSTEP_RETURN_IF_ERROR(guard.Check());
  if (const StepInfo info{Step::kLeaseChecked, gid, {}, deciding, true}; Hook(info) == HookAction::kCrash) {
    return Crashed(info);
  }
  const GlobalState final_state = FinalOf(deciding);
  LOCKSTEP_ASSIGN_OR_RETURN(const LogWrite w, Transition(gid, deciding, final_state, nullptr, fence, phase_two));
  if (w != LogWrite::kDone) {
    count(w);
    if (w == LogWrite::kFenced) Log(internal::StrCat("tcc: recovery of ", gid, " fenced out by a newer recoverer"));
    return Status::Ok();
  }
  ReportState(final_state);
  if (options_.observer.on_recovered) options_.observer.on_recovered(from, final_state);
  (final_state == GlobalState::kConfirmed ? stats.confirmed : stats.cancelled)++;
  if (const StepInfo info{Step::kFinished, gid, {}, final_state, true}; Hook(info) == HookAction::kCrash) {
    return Crashed(info);
  }
  return Status::Ok();
}

Result<RecoveryStats> Coordinator::RecoverOnce(const Deadline& deadline) {
  RecoveryStats stats;
  LOCKSTEP_ASSIGN_OR_RETURN(lock::LockGuard guard,
                            locks_.Acquire(options_.recovery_lock, options_.recovery_lock_options, deadline));
  if (const StepInfo info{Step::kRecoveryLocked, {}, {}, GlobalState::kTrying, true};
      Hook(info) == HookAction::kCrash) {
    return Crashed(info);
  }
  if (options_.observer.on_oldest_unfinished) {
    Result<std::chrono::microseconds> age = OldestUnfinishedAge(deadline);
    if (age.ok()) options_.observer.on_oldest_unfinished(*age);
  }
  std::vector<std::pair<std::string, GlobalState>> candidates;
  {
    LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, log_pool_.Acquire(deadline));
    LOCKSTEP_ASSIGN_OR_RETURN(
        const sql::Rows rows,
        conn.Query("SELECT gid, state FROM " + global_table_ + " WHERE state IN " + std::string(kUnfinishedStates) +
                       " AND updated_at <= UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND ORDER BY updated_at LIMIT ?",
                   static_cast<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(options_.recovery_after)
                                            .count()),
                   options_.recovery_batch, deadline));
    for (const sql::Row& row : rows) {
      LOCKSTEP_ASSIGN_OR_RETURN(std::string gid, row.GetString(0));
      LOCKSTEP_ASSIGN_OR_RETURN(const std::string state, row.GetString(1));
      const std::optional<GlobalState> parsed = ParseGlobalState(state);
      if (!parsed.has_value()) continue;
      candidates.emplace_back(std::move(gid), *parsed);
    }
  }
  stats.found = static_cast<int>(candidates.size());
  for (const auto& [gid, from] : candidates) {
    if (deadline.expired()) break;
    const Status s = Settle(gid, from, guard, deadline, stats);
    if (s.ok()) continue;
    if (IsCrash(s)) return s;
    if (s.reason() == "lock_lost" || s.reason() == "not_held") {
      stats.lease_lost = true;
      break;
    }
    ++stats.unfinished;
    Log(internal::StrCat("tcc: recovery of ", gid, " failed: ", s.ToString()));
  }
  return stats;
}

Status Coordinator::StartRecoverer() {
  MutexLock lock(&mu_);
  if (recoverer_.joinable()) return Status::FailedPrecondition("tcc: the recoverer is already running");
  stop_ = false;
  recoverer_ = std::thread([this] { RecovererLoop(); });
  return Status::Ok();
}

void Coordinator::StopRecoverer() {
  std::thread thread;
  {
    MutexLock lock(&mu_);
    stop_ = true;
    thread = std::move(recoverer_);
  }
  cv_.SignalAll();
  if (thread.joinable()) thread.join();
}

void Coordinator::RecovererLoop() {
  while (true) {
    {
      MutexLock lock(&mu_);
      const Deadline next = Deadline::After(options_.recovery_interval);
      while (!stop_ && !next.expired()) cv_.WaitUntil(&mu_, next);
      if (stop_) return;
    }
    Result<RecoveryStats> r = RecoverOnce(Deadline::After(options_.recovery_interval + options_.phase_two_timeout));
    if (!r.ok() && r.status().reason() != "lock_busy") {
      Log(internal::StrCat("tcc: recovery round failed: ", r.status().ToString()));
    }
  }
}

}  // namespace lockstep::tcc
