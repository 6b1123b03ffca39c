#pragma once

#include <string>
#include <string_view>

namespace lockstep::tcc::internal {

// The barrier's DDL and statements for table `table` (a validated identifier).
std::string BarrierDdl(std::string_view table);
// INSERT IGNORE INTO t (gid, branch_id, op, state, code, reason, message, created_at) VALUES (?, ...).
std::string BarrierInsertSql(std::string_view table);
// SELECT state, code, reason, message FROM t WHERE gid = ? AND branch_id = ? AND op = ?
// (a plain consistent read: never FOR UPDATE, see barrier.h).
std::string BarrierSelectSql(std::string_view table);

// Barrier row states (the `state` column).
inline constexpr std::string_view kDone = "done";
inline constexpr std::string_view kRefused = "refused";
inline constexpr std::string_view kBlocked = "blocked";
inline constexpr std::string_view kEmpty = "empty";
inline constexpr std::string_view kNothing = "nothing";

}  // namespace lockstep::tcc::internal
