#include "domain/accounts/accounts.h"

#include "domain/events/events.h"
#include "domain/validation.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"

namespace shopd::domain {

using lockstep::Status;

lockstep::Result<Account> AccountService::Create(const std::string& owner, int64_t balance,
                                                 const lockstep::Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(ValidateText("owner", owner, 1, kMaxOwnerChars));
  if (balance < 0) return Status::InvalidArgument("field 'balance' must not be negative");
  int64_t id = 0;
  LOCKSTEP_RETURN_IF_ERROR(lockstep::sql::RunInTransaction(
      pool_, {}, deadline, [&](lockstep::sql::Transaction& tx) -> Status {
        LOCKSTEP_ASSIGN_OR_RETURN(
            lockstep::sql::ExecResult r,
            tx.Execute("INSERT INTO accounts (owner, balance, version) VALUES (?, ?, 1)", owner, balance));
        id = static_cast<int64_t>(r.last_insert_id);
        return AppendEvent(tx, "account.created", "account:" + std::to_string(id),
                           {{"account_id", id}, {"owner", owner}, {"balance", balance}}, true);
      }));
  return Account{id, owner, balance, 1};
}

lockstep::Result<Account> AccountService::Get(int64_t id, const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                            conn.Query("SELECT id, owner, balance, version FROM accounts WHERE id = ?", id, deadline));
  if (rows.empty()) return Status::NotFound("account ", id, " not found");
  Account a;
  LOCKSTEP_ASSIGN_OR_RETURN(a.id, rows[0].GetInt64(0));
  LOCKSTEP_ASSIGN_OR_RETURN(a.owner, rows[0].GetString(1));
  LOCKSTEP_ASSIGN_OR_RETURN(a.balance, rows[0].GetInt64(2));
  LOCKSTEP_ASSIGN_OR_RETURN(a.version, rows[0].GetInt64(3));
  return a;
}

}  // namespace shopd::domain
