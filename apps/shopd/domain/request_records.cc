#include "domain/request_records.h"

#include "lockstep/sql/pool.h"
#include "lockstep/sql/transaction.h"

namespace shopd::domain {

using lockstep::Status;

Status RequestIdConflict() {
  return Status::FailedPrecondition("request_id was already used with a different request body")
      .WithReason("request_id_conflict");
}

Status RequestRecords::Insert(lockstep::sql::Transaction& tx, std::string_view scope, std::string_view request_id,
                              std::string_view digest, const reply::Outcome& outcome) {
  return tx.Execute("INSERT INTO request_records (scope, request_id, request_digest, http_status, response, created_at) "
                    "VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6))",
                    scope, request_id, digest, outcome.http_status, outcome.body)
      .status();
}

lockstep::Result<reply::Outcome> RequestRecords::Replay(lockstep::sql::Pool& pool, std::string_view scope,
                                                 std::string_view request_id, std::string_view digest,
                                                 const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                            conn.Query("SELECT request_digest, http_status, response, @@gtid_binlog_pos "
                                       "FROM request_records WHERE scope = ? AND request_id = ?",
                                       scope, request_id, deadline));
  if (rows.empty()) return Status::NotFound("no record of request_id");
  LOCKSTEP_ASSIGN_OR_RETURN(std::string recorded_digest, rows[0].GetString(0));
  if (recorded_digest != digest) return RequestIdConflict();
  reply::Outcome out;
  LOCKSTEP_ASSIGN_OR_RETURN(int64_t status, rows[0].GetInt64(1));
  LOCKSTEP_ASSIGN_OR_RETURN(out.body, rows[0].GetString(2));
  out.http_status = static_cast<int>(status);
  out.replayed = true;
  // The record is visible, so its commit is in the binlog: the primary's position read in
  // the same statement covers it (a token at least as new as the recorded write).
  if (auto position = rows[0].GetString(3); position.ok()) out.consistency_token = *position;
  return out;
}

}  // namespace shopd::domain
