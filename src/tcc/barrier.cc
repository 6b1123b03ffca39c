#include "lockstep/tcc/barrier.h"

#include "lockstep/lock/fenced_write.h"
#include "lockstep/sql/run_in_transaction.h"
#include "tcc/barrier_sql.h"

namespace lockstep::tcc {
namespace internal {

std::string BarrierDdl(std::string_view table) {
  return "CREATE TABLE IF NOT EXISTS `" + std::string(table) +
         "` ("
         "gid VARBINARY(128) NOT NULL, "
         "branch_id VARBINARY(64) NOT NULL, "
         "op VARCHAR(8) NOT NULL, "
         "state VARCHAR(8) NOT NULL, "
         "code INT NOT NULL DEFAULT 0, "
         "reason VARCHAR(64) NOT NULL DEFAULT '', "
         "message VARCHAR(255) NOT NULL DEFAULT '', "
         "created_at DATETIME(6) NOT NULL, "
         "PRIMARY KEY (gid, branch_id, op)"
         ") ENGINE=InnoDB";
}

std::string BarrierInsertSql(std::string_view table) {
  return "INSERT IGNORE INTO `" + std::string(table) +
         "` (gid, branch_id, op, state, code, reason, message, created_at) "
         "VALUES (?, ?, ?, ?, ?, LEFT(?, 64), LEFT(?, 255), UTC_TIMESTAMP(6))";
}

std::string BarrierSelectSql(std::string_view table) {
  return "SELECT state, code, reason, message FROM `" + std::string(table) +
         "` WHERE gid = ? AND branch_id = ? AND op = ?";
}

}  // namespace internal

Status CreateBarrierTable(sql::Pool& pool, std::string_view table, const Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(lock::internal::ValidateIdentifier(table));
  const std::string ddl = internal::BarrierDdl(table);
  return sql::RunWithRetries(pool, {}, deadline, [&](sql::PooledConnection& conn) -> Status {
    return conn.Execute(ddl).status();
  });
}

}  // namespace lockstep::tcc
