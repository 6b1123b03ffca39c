#include "domain/accounts/accounts.h"

#include "domain/events/events.h"
#include "domain/validation.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"

namespace shopd::domain {

using lockstep::Status;

lockstep::Result<Account> AccountService::Create(const std::string& owner, int64_t balance,
                                                 const lockstep::Deadline& deadline, std::string* consistency_token) {
  LOCKSTEP_RETURN_IF_ERROR(ValidateText("owner", owner, 1, kMaxOwnerChars));
  if (balance < 0) return Status::InvalidArgument("field 'balance' must not be negative");
  int64_t id = 0;
  lockstep::sql::RunOptions options;
  options.tx.track_commit_gtid = true;  // The COMMIT's OK packet names its GTID.
  const Status created = lockstep::sql::RunInTransaction(
      pool_, options, deadline, [&](lockstep::sql::Transaction& tx) -> Status {
        LOCKSTEP_ASSIGN_OR_RETURN(
            lockstep::sql::ExecResult r,
            tx.Execute("INSERT INTO accounts (owner, balance, version) VALUES (?, ?, 1)", owner, balance));
        id = static_cast<int64_t>(r.last_insert_id);
        LOCKSTEP_RETURN_IF_ERROR(AppendEvent(tx, "account.created", "account:" + std::to_string(id),
                                             {{"account_id", id}, {"owner", owner}, {"balance", balance}}, true));
        // The commit's GTID is the consistency token (no extra round trip).
        LOCKSTEP_ASSIGN_OR_RETURN(std::string gtid, tx.CommitWithGtid());
        if (consistency_token != nullptr) *consistency_token = std::move(gtid);
        return Status::Ok();
      });
  if (!created.ok()) return created;
  return Account{id, owner, balance, 1};
}

lockstep::Result<Account> AccountService::Get(int64_t id, const RoutedRead& read, const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::routing::ReadTransaction tx, read.Begin(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                            tx.Query("SELECT id, owner, balance, version FROM accounts WHERE id = ?", id));
  if (rows.empty()) return Status::NotFound("account ", id, " not found");
  Account a;
  LOCKSTEP_ASSIGN_OR_RETURN(a.id, rows[0].GetInt64(0));
  LOCKSTEP_ASSIGN_OR_RETURN(a.owner, rows[0].GetString(1));
  LOCKSTEP_ASSIGN_OR_RETURN(a.balance, rows[0].GetInt64(2));
  LOCKSTEP_ASSIGN_OR_RETURN(a.version, rows[0].GetInt64(3));
  return a;
}

}  // namespace shopd::domain
