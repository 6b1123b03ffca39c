#include "lockstep/sql/transaction.h"

#include <cctype>

#include "sql/mariadb_connection.h"
#include "sql/pool_core.h"
#include "sql/tx_state.h"

namespace lockstep::sql {
namespace internal {

Deadline TxState::CleanupDeadline() const {
  const auto budget = lease.valid() ? lease.core_->options().cleanup_timeout : std::chrono::milliseconds(1000);
  return Deadline::After(budget).when() > deadline.when() ? Deadline::After(budget) : deadline;
}

Status TxState::Track(Status s) {
  if (!s.ok() && poison.ok() && PoisonsTransaction(s)) poison = s;
  return s;
}

Status TxState::Text(std::string_view sql) {
  if (!lease.valid()) return Status::FailedPrecondition("transaction already ended");
  if (!poison.ok()) return Status(poison.code(), ::lockstep::internal::StrCat("transaction is unusable after: ", poison.message()));
  return Track(conn()->ExecText(sql, deadline));
}

Status TxState::RollbackAndEnd() {
  if (!lease.valid()) return Status::FailedPrecondition("transaction already ended");
  PooledConnection l = std::move(lease);  // Ends the transaction whatever happens below.
  Connection* c = l.conn_;
  if (c->broken()) return Status::Unavailable("connection lost; the server rolls back: ", c->broken_reason().message());
  Status s = c->ExecText("ROLLBACK", CleanupDeadline());
  if (!s.ok()) {
    // Unknown state: never reuse. Closing the connection makes the server roll back.
    c->MarkBroken(s);
    return Status::Unavailable("ROLLBACK failed; connection discarded: ", s.message());
  }
  return Status::Ok();
}

}  // namespace internal

namespace {

bool ValidIdentifier(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// After a successful COMMIT on `conn`: the GTID it was binlogged under, from COMMIT's OK
// packet when the connection tracks last_gtid (a COMMIT that binlogged nothing reports
// none: ""), else from one SELECT @@last_gtid (the session's last GTID: this commit's, or
// an earlier one of the session if this one wrote nothing, which is still a valid token).
Status ReadCommitGtid(internal::Connection& conn, const Deadline& deadline, std::chrono::milliseconds cleanup,
                      std::string* gtid) {
  if (conn.tracks_last_gtid()) {
    *gtid = conn.TrackedLastGtid().value_or("");
    return Status::Ok();
  }
  const Deadline d = deadline.expired() ? Deadline::After(cleanup) : deadline;
  auto rows = conn.Query("SELECT @@last_gtid", {}, d);
  if (!rows.ok()) {
    return Status(rows.status().code(), ::lockstep::internal::StrCat("committed, but reading @@last_gtid failed: ",
                                                                     rows.status().message()));
  }
  gtid->clear();
  if (!rows->empty()) {
    auto text = (*rows)[0].GetString(0);
    if (text.ok()) *gtid = *text;  // NULL: nothing binlogged on this session yet.
  }
  return Status::Ok();
}

}  // namespace

Transaction::Transaction(std::unique_ptr<internal::TxState> state) : state_(std::move(state)) {}
Transaction::Transaction(Transaction&& other) noexcept = default;

Transaction& Transaction::operator=(Transaction&& other) noexcept {
  if (this != &other) {
    if (state_ != nullptr && state_->lease.valid()) (void)state_->RollbackAndEnd();
    state_ = std::move(other.state_);
  }
  return *this;
}

Transaction::~Transaction() {
  if (state_ == nullptr || !state_->lease.valid()) return;
  internal::PoolCore* core = state_->core();
  std::shared_ptr<internal::PoolCore> keep = state_->lease.core_;
  Status s = state_->RollbackAndEnd();
  if (!s.ok()) core->Log(::lockstep::internal::StrCat("implicit rollback of an uncommitted transaction failed: ", s.ToString()));
}

bool Transaction::active() const { return state_ != nullptr && state_->lease.valid(); }
bool Transaction::committed() const { return state_ != nullptr && state_->committed; }
const Deadline& Transaction::deadline() const { return state_->deadline; }

Result<ExecResult> Transaction::ExecutePack(std::string_view sql, const internal::ParamPack& pack) {
  if (!active()) return Status::FailedPrecondition("transaction already ended");
  if (!state_->poison.ok()) {
    return Status(state_->poison.code(), ::lockstep::internal::StrCat("transaction is unusable after: ", state_->poison.message()));
  }
  auto r = state_->conn()->Execute(sql, pack.params(), pack.deadline().value_or(state_->deadline));
  if (!r.ok()) (void)state_->Track(r.status());
  return r;
}

Result<Rows> Transaction::QueryPack(std::string_view sql, const internal::ParamPack& pack) {
  if (!active()) return Status::FailedPrecondition("transaction already ended");
  if (!state_->poison.ok()) {
    return Status(state_->poison.code(), ::lockstep::internal::StrCat("transaction is unusable after: ", state_->poison.message()));
  }
  auto r = state_->conn()->Query(sql, pack.params(), pack.deadline().value_or(state_->deadline));
  if (!r.ok()) (void)state_->Track(r.status());
  return r;
}

Status Transaction::Commit() { return CommitAndReadGtid(nullptr); }

Status Transaction::CommitAndReadGtid(std::string* gtid) {
  if (!active()) return Status::FailedPrecondition("transaction already ended");
  if (!state_->poison.ok()) {
    Status poison = state_->poison;
    (void)state_->RollbackAndEnd();
    return Status(poison.code(), ::lockstep::internal::StrCat("transaction rolled back after: ", poison.message()))
        .WithDriverError(poison.driver_error());
  }
  if (state_->deadline.expired()) {
    (void)state_->RollbackAndEnd();
    return Status::DeadlineExceeded("deadline exceeded before COMMIT; rolled back");
  }
  // Move the connection out first: whatever happens, this transaction is over.
  PooledConnection lease = std::move(state_->lease);
  internal::Connection* conn = lease.conn_;
  Status s = conn->ExecText("COMMIT", state_->deadline, internal::CallPhase::kCommit);
  if (s.ok()) {
    state_->committed = true;
    if (gtid != nullptr) return ReadCommitGtid(*conn, state_->deadline, lease.core_->options().cleanup_timeout, gtid);
    return s;
  }
  if (s.code() == StatusCode::kUnknown) {
    conn->MarkBroken(s);  // Outcome unknown: the connection is discarded.
    return s;
  }
  // The server answered with an error (e.g. a deadlock at COMMIT): the transaction was not
  // committed. Roll back to be sure; if even that fails, discard.
  internal::TxState cleanup;
  cleanup.lease = std::move(lease);
  cleanup.deadline = state_->deadline;
  (void)cleanup.RollbackAndEnd();
  return s;
}

Result<std::string> Transaction::CommitWithGtid() {
  std::string gtid;
  LOCKSTEP_RETURN_IF_ERROR(CommitAndReadGtid(&gtid));
  return gtid;
}

Status Transaction::Rollback() {
  if (!active()) return Status::FailedPrecondition("transaction already ended");
  return state_->RollbackAndEnd();
}

Result<Savepoint> Transaction::NewSavepoint(std::string_view name) {
  if (!ValidIdentifier(name)) {
    return Status::InvalidArgument("invalid savepoint name (want [A-Za-z_][A-Za-z0-9_]*, at most 64 chars)");
  }
  LOCKSTEP_RETURN_IF_ERROR(state_->Text(::lockstep::internal::StrCat("SAVEPOINT ", name)));
  return Savepoint(state_.get(), std::string(name));
}

Savepoint::Savepoint(Savepoint&& other) noexcept
    : tx_(std::exchange(other.tx_, nullptr)), name_(std::move(other.name_)) {}

Savepoint::~Savepoint() {
  if (tx_ == nullptr || !tx_->lease.valid() || !tx_->poison.ok()) return;
  Status s = Rollback();
  if (!s.ok() && tx_ == nullptr) {
    // Rollback() already recorded the failure in the transaction (poison / broken).
  }
}

Status Savepoint::Release() {
  if (tx_ == nullptr) return Status::FailedPrecondition("savepoint already released or rolled back");
  internal::TxState* tx = std::exchange(tx_, nullptr);
  return tx->Text(::lockstep::internal::StrCat("RELEASE SAVEPOINT ", name_));
}

Status Savepoint::Rollback() {
  if (tx_ == nullptr) return Status::FailedPrecondition("savepoint already released or rolled back");
  internal::TxState* tx = std::exchange(tx_, nullptr);
  Status s = tx->Text(::lockstep::internal::StrCat("ROLLBACK TO SAVEPOINT ", name_));
  if (!s.ok() && tx->poison.ok()) {
    // A failed partial rollback leaves the transaction in an unknown state: poison it so
    // it can only roll back as a whole.
    tx->poison = s;
  }
  return s;
}

}  // namespace lockstep::sql
