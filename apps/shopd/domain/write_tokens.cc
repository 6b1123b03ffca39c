#include "domain/write_tokens.h"

#include "lockstep/sql/pool.h"

namespace shopd::domain {

lockstep::Result<std::string> WriteTokens::Current(const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, primary_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows, conn.Query("SELECT @@gtid_binlog_pos", deadline));
  std::string position;
  if (!rows.empty()) {
    auto text = rows[0].GetString(0);
    if (text.ok()) position = *text;
  }
  if (position.empty()) return lockstep::Status::Unavailable("the primary has no binlog position (binary log off?)");
  Remember(position);
  return position;
}

std::string WriteTokens::Last() const {
  lockstep::MutexLock lock(&mu_);
  return last_;
}

void WriteTokens::Remember(const std::string& token) {
  if (token.empty()) return;
  lockstep::MutexLock lock(&mu_);
  last_ = token;
}

}  // namespace shopd::domain
