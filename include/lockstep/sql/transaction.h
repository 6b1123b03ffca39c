#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/sql/connection.h"
#include "lockstep/sql/row.h"
#include "lockstep/sql/statements.h"
#include "lockstep/sql/value.h"

namespace lockstep::sql {

class Savepoint;

// Not thread-safe. One database transaction on a pooled connection (STYLE.md R5). Move-only RAII: the
// destructor rolls back unless Commit() or Rollback() ran; it never commits. If that
// rollback fails or the connection's state is unknown, the connection is discarded, never
// reused. Obtain one from Pool::Begin. If the implicit rollback fails, the destructor
// logs once (PoolObserver::on_log, else stderr); it never throws.
//
// After a statement fails with kAborted, kDeadlineExceeded, kCancelled, kUnavailable or
// kUnknown the transaction is poisoned: later statements return that error again and
// Commit() rolls back and returns it (1213 already rolled the server transaction back; a
// new statement would otherwise run outside any transaction).
class Transaction : public internal::Statements<Transaction> {
 public:
  Transaction(Transaction&& other) noexcept;
  // Rolls back the transaction this one held, then takes over `other`'s.
  Transaction& operator=(Transaction&& other) noexcept;
  ~Transaction();

  // Execute / Query / ExecuteList / QueryList (internal::Statements), inside this
  // transaction. The default deadline is the one given to Begin; a Deadline argument
  // overrides it. kFailedPrecondition if the transaction already ended.

  // Commits. The connection is moved out first, so a failed COMMIT is never followed by
  // anything but a rollback or a discard. Returns OK (committed); kAborted (rolled back:
  // deadlock at commit, or the transaction was poisoned); kDeadlineExceeded (the deadline
  // passed before COMMIT was sent: rolled back); kUnknown (the connection was lost or the
  // deadline fired during COMMIT: the outcome is unknown; never retry blindly);
  // kFailedPrecondition if the transaction already ended.
  Status Commit();
  // Commit() that also returns the GTID of this commit ("0-1-42", MariaDB's @@last_gtid):
  // the position a replica must have applied to show this transaction (a consistency token
  // for lockstep::routing). When the connection tracks last_gtid (TxOptions::
  // track_commit_gtid at Begin, on this or an earlier transaction of the connection) the
  // server reports it in COMMIT's OK packet: no extra round trip, and "" if the
  // transaction binlogged nothing. Otherwise one `SELECT @@last_gtid` follows COMMIT on the
  // same connection (for a transaction that wrote nothing it returns the session's previous
  // GTID, or "": an older token, still valid). Codes as Commit(); if COMMIT succeeded but
  // that SELECT failed, its code is returned with "committed, but reading @@last_gtid
  // failed" in the message: the transaction IS committed, only its GTID is unknown.
  Result<std::string> CommitWithGtid();
  // Rolls back (within PoolOptions::cleanup_timeout if the deadline has passed). OK, or
  // kUnavailable if the rollback failed (the connection was discarded; the server rolls
  // back when it notices). kFailedPrecondition if the transaction already ended.
  Status Rollback();

  // Creates SAVEPOINT `name` and returns its guard. `name` must match [A-Za-z_][A-Za-z0-9_]*
  // (at most 64 chars), else kInvalidArgument. REQUIRES: the guard does not outlive this
  // transaction.
  Result<Savepoint> NewSavepoint(std::string_view name);

  bool active() const;     // Neither committed nor rolled back yet.
  bool committed() const;  // Commit() succeeded.
  const Deadline& deadline() const;

 private:
  friend class Pool;
  friend class Savepoint;
  friend class internal::Statements<Transaction>;
  explicit Transaction(std::unique_ptr<internal::TxState> state);
  Result<ExecResult> ExecutePack(std::string_view sql, const internal::ParamPack& pack);
  Result<Rows> QueryPack(std::string_view sql, const internal::ParamPack& pack);
  // Commit(); on success also stores the commit's GTID in `*gtid` unless it is null.
  Status CommitAndReadGtid(std::string* gtid);

  std::unique_ptr<internal::TxState> state_;  // Stable address: Savepoints point to it.
};

// Not thread-safe (same thread as its transaction). A nested unit inside a Transaction: ROLLBACK TO SAVEPOINT on destruction unless
// Release() or Rollback() ran. If the transaction already ended, the destructor does
// nothing. Move-only.
class Savepoint {
 public:
  Savepoint(Savepoint&& other) noexcept;
  Savepoint& operator=(Savepoint&&) = delete;
  ~Savepoint();

  // RELEASE SAVEPOINT: keeps the work done since it. Codes as Transaction::Execute.
  Status Release();
  // ROLLBACK TO SAVEPOINT: undoes the work since it; the transaction continues.
  Status Rollback();
  const std::string& name() const { return name_; }

 private:
  friend class Transaction;
  Savepoint(internal::TxState* tx, std::string name) : tx_(tx), name_(std::move(name)) {}

  internal::TxState* tx_;  // Not owned; null once released/rolled back/moved from.
  std::string name_;
};

}  // namespace lockstep::sql
