#include "lockstep/lock/fenced_write.h"

#include <cctype>

namespace lockstep::lock::internal {

Status ValidateIdentifier(std::string_view name) {
  auto bad = [&] { return Status::InvalidArgument("fenced write: '", name, "' is not a plain SQL identifier"); };
  if (name.empty() || name.size() > 64) return bad();
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool ok = std::isalpha(c) || c == '_' || (i > 0 && std::isdigit(c));
    if (!ok || c > 127) return bad();
  }
  return Status::Ok();
}

Status ValidateSetClause(std::string_view set_clause) {
  if (set_clause.find_first_not_of(" \t\n") == std::string_view::npos) {
    return Status::InvalidArgument("fenced write: empty SET clause");
  }
  // Literals and comments have no business here: values are bound as `?` parameters, so
  // refusing these characters keeps user data out of the SQL text.
  for (std::string_view bad : {"'", "\"", "`", ";", "--", "/*", "#", "\\"}) {
    if (set_clause.find(bad) != std::string_view::npos) {
      return Status::InvalidArgument("fenced write: SET clause must not contain ", bad,
                                     " (bind values as ? parameters)");
    }
  }
  return Status::Ok();
}

Result<std::string> FencedUpdateSql(const FencedTable& table, std::string_view set_clause) {
  LOCKSTEP_RETURN_IF_ERROR(ValidateIdentifier(table.table));
  LOCKSTEP_RETURN_IF_ERROR(ValidateIdentifier(table.id_column));
  LOCKSTEP_RETURN_IF_ERROR(ValidateIdentifier(table.fence_column));
  LOCKSTEP_RETURN_IF_ERROR(ValidateSetClause(set_clause));
  std::string sql;
  sql.append("UPDATE `").append(table.table).append("` SET ").append(set_clause);
  sql.append(", `").append(table.fence_column).append("` = ? WHERE `").append(table.id_column);
  sql.append("` = ? AND `").append(table.fence_column).append("` <= ?");
  return sql;
}

Status ResolveUnchanged(sql::Transaction& tx, const FencedTable& table, int64_t id, int64_t fence) {
  // A LOCKING read: it returns the latest committed fence (waiting for an uncommitted
  // writer), never this transaction's snapshot. A plain SELECT under REPEATABLE READ would
  // return the snapshot taken at the transaction's first read, which may predate the newer
  // holder's write, and a stale write would be reported OK (issue 18).
  std::string sql;
  sql.append("SELECT `").append(table.fence_column).append("` FROM `").append(table.table);
  sql.append("` WHERE `").append(table.id_column).append("` = ? FOR UPDATE");
  LOCKSTEP_ASSIGN_OR_RETURN(const sql::Rows rows, tx.Query(sql, id));
  if (rows.empty()) return Status::NotFound("fenced write: no row ", id, " in ", table.table);
  LOCKSTEP_ASSIGN_OR_RETURN(const int64_t current, rows[0].GetInt64(0));
  if (current <= fence) return Status::Ok();  // Matched; the write changed nothing.
  if (table.observer != nullptr && table.observer->on_fenced_rejected) table.observer->on_fenced_rejected(table.table);
  return Status::FailedPrecondition("fenced write to ", table.table, " row ", id, " rejected: fence ", fence,
                                    " is older than ", current, " (stale lock holder)")
      .WithReason("fenced");
}

}  // namespace lockstep::lock::internal
