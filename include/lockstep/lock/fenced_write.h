#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/lock/options.h"
#include "lockstep/sql/transaction.h"

namespace lockstep::lock {

// The row a fenced write targets. Identifiers must match [A-Za-z_][A-Za-z0-9_]{0,63}
// (checked: never put user data here).
struct FencedTable {
  std::string_view table;
  std::string_view id_column = "id";
  // BIGINT column holding the fence of the last accepted write (start it at 0).
  std::string_view fence_column = "fence";
  // Optional: on_fenced_rejected is reported here (e.g. the lock service's observer).
  const LockObserver* observer = nullptr;
};

namespace internal {
// kInvalidArgument unless `name` is a plain SQL identifier.
Status ValidateIdentifier(std::string_view name);
// kInvalidArgument if `set_clause` is empty or contains quotes, backticks, ';' or
// comment markers (values must be bound as `?` parameters).
Status ValidateSetClause(std::string_view set_clause);
// "UPDATE `t` SET <set>, `fence` = ? WHERE `id` = ? AND `fence` <= ?", validated.
Result<std::string> FencedUpdateSql(const FencedTable& table, std::string_view set_clause);
// After an UPDATE that changed no row, decides from a locking read (SELECT ... FOR UPDATE:
// the latest committed row, never the transaction's snapshot): kNotFound (no such row),
// kFailedPrecondition reason "fenced" (a newer fence wrote), or OK (the row matched but the
// write changed nothing).
Status ResolveUnchanged(sql::Transaction& tx, const FencedTable& table, int64_t id, int64_t fence);
}  // namespace internal

// Runs `UPDATE table SET <set_clause>, fence = :fence WHERE id = :id AND fence <= :fence`
// in `tx`, binding `args` to the `?` in set_clause first. The holder's own repeated
// writes pass (fence equal); a write carrying a fence older than the row's is rejected
// with kFailedPrecondition reason "fenced" (a stale holder: its lease was lost and a newer
// grant already wrote). kNotFound if the row does not exist; kInvalidArgument for a bad
// identifier or set clause; otherwise the statement's status. The caller commits, and on
// "fenced" must not: roll back.
//
// The decision never depends on the transaction's snapshot: the UPDATE matches against
// the latest committed row, and when it changed nothing a locking read decides. Under
// REPEATABLE READ (TxOptions::snapshot_isolation, on by default, MariaDB 10.6.18+) a
// transaction whose snapshot predates the row's latest commit gets kAborted (1020; the
// server rolled it back): rerun it (RunInTransaction does); a stale holder's rerun ends
// "fenced". What the caller READ before this write is its own business: under READ
// COMMITTED (or a server without snapshot isolation) read a row you will write back with
// SELECT ... FOR UPDATE, else an older holder's late commit can slip between your read and
// your write (the fence only orders writes).
//   LOCKSTEP_RETURN_IF_ERROR(lock::FencedUpdate(tx, {.table = "orders"}, order_id,
//                                               guard.fence(), "state = ?", "shipped"));
// Not thread-safe (as the Transaction).
template <typename... Args>
Status FencedUpdate(sql::Transaction& tx, const FencedTable& table, int64_t id, int64_t fence,
                    std::string_view set_clause, const Args&... args) {
  LOCKSTEP_ASSIGN_OR_RETURN(const std::string sql, internal::FencedUpdateSql(table, set_clause));
  LOCKSTEP_ASSIGN_OR_RETURN(const sql::ExecResult r, tx.Execute(sql, args..., fence, id, fence));
  if (r.affected_rows > 0) return Status::Ok();
  return internal::ResolveUnchanged(tx, table, id, fence);
}

}  // namespace lockstep::lock
