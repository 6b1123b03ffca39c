#pragma once

#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/status.h"
#include "lockstep/sql/pool.h"

namespace lockstep::tcc {

inline constexpr std::string_view kDefaultBarrierTable = "tcc_barrier";

// The barrier (DTM style): one table per participant database, one row per (gid,
// branch_id, op), written by `INSERT IGNORE` in the SAME database transaction as the
// phase's business effect, so the row exists if and only if that phase committed:
//
//   op        state      written by
//   try       done       a Try that committed
//   try       refused    a Try whose business check refused it (the Try's transaction rolled
//                        back its effects AND its own barrier row; the refusal is then
//                        recorded on its own, with code, reason and message)
//   try       blocked    a Cancel that found no Try row (empty rollback marker)
//   confirm   done       a Confirm that committed
//   cancel    done       a Cancel that undid a committed Try
//   cancel    empty      a Cancel without any Try (empty rollback)
//   cancel    nothing    a Cancel of a refused Try (nothing to undo)
//
// Try: insert (try, done); a duplicate means it ran before (kDuplicate; refused with reason
// kReasonTryAfterCancel if the branch has been cancelled since), was refused before (the
// recorded refusal is returned again), or was cancelled first (refused with reason
// kReasonTryAfterCancel: anti-hanging). Confirm: insert (confirm, done); a
// duplicate is a no-op. Cancel: insert (try, blocked) first — if that inserts, the Try
// never ran and can never run now: empty rollback — then (cancel, ...); a duplicate is a
// no-op, and the business cancel runs only when the Try row says `done`.
//
// Why a refused Try is recorded rather than left absent: Seata's TCC fence rolled the
// fence row back with a failed Try, so the Cancel that followed could not tell "the Try
// never ran" from "the Try ran and failed". Here both lead to no business cancel (the
// failed Try's effects were in its rolled-back transaction), and the record makes the
// refusal final: a replayed Try returns the same refusal instead of freezing funds that
// arrived in the meantime for a transaction the coordinator is cancelling.
//
// No SELECT ... FOR UPDATE touches the table (gap-lock deadlocks between concurrent
// branches); the duplicate-key check of INSERT IGNORE waits for an uncommitted row of the
// same key, which serialises concurrent phases of one branch. Deadlocks that remain are
// rerun by sql::RunInTransaction. Rows are never deleted by the library: keep them at least
// as long as a delayed Try may still arrive.
//
// Creates the barrier table `table` (CREATE TABLE IF NOT EXISTS) in the pool's database.
// `table` must be a plain identifier (kInvalidArgument). Codes of the statement otherwise.
// Thread-safe.
Status CreateBarrierTable(sql::Pool& pool, std::string_view table, const Deadline& deadline);

}  // namespace lockstep::tcc
