#include "domain/transfers.h"

#include <limits>

#include <nlohmann/json.hpp>

#include "domain/request_records.h"
#include "domain/validation.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"

namespace shopd::domain {

using lockstep::Status;
using lockstep::StatusCode;

namespace {
constexpr std::string_view kScope = "transfer";
}  // namespace

Status TransferRequest::Validate() const {
  LOCKSTEP_RETURN_IF_ERROR(ValidateRequestId(request_id));
  if (from <= 0) return Status::InvalidArgument("field 'from' must be a positive account id");
  if (to <= 0) return Status::InvalidArgument("field 'to' must be a positive account id");
  if (from == to) return Status::InvalidArgument("fields 'from' and 'to' must differ");
  if (amount <= 0) return Status::InvalidArgument("field 'amount' must be positive");
  return Status::Ok();
}

std::string TransferRequest::Digest() const {
  return std::to_string(from) + ">" + std::to_string(to) + ":" + std::to_string(amount);
}

lockstep::Result<Outcome> TransferService::Transfer(const TransferRequest& request, const lockstep::Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(request.Validate());
  const std::string digest = request.Digest();
  LOCKSTEP_ASSIGN_OR_RETURN(InFlight::Ticket ticket, in_flight_.Enter(kScope, request.request_id, deadline));

  const int64_t low = std::min(request.from, request.to);
  const int64_t high = std::max(request.from, request.to);
  Outcome outcome;
  lockstep::sql::RunStats stats;
  lockstep::sql::RunOptions options;
  options.tx.isolation = lockstep::sql::IsolationLevel::kReadCommitted;
  const Status status = lockstep::sql::RunInTransaction(
      pool_, options, deadline,
      [&](lockstep::sql::Transaction& tx) -> Status {
        // Locks both rows in ascending id order: every transfer takes its locks in the same
        // global order, so two transfers cannot wait on each other's rows.
        LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                                  tx.Query("SELECT id, balance FROM accounts WHERE id IN (?, ?) ORDER BY id FOR UPDATE",
                                           low, high));
        int64_t from_balance = -1, to_balance = -1;
        for (const auto& row : rows) {
          LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, row.GetInt64(0));
          LOCKSTEP_ASSIGN_OR_RETURN(int64_t balance, row.GetInt64(1));
          (id == request.from ? from_balance : to_balance) = balance;
        }
        if (from_balance < 0 || to_balance < 0) {
          const int64_t missing = from_balance < 0 ? request.from : request.to;
          outcome = Outcome::Error(Status::NotFound("account ", missing, " not found"));
        } else if (from_balance < request.amount) {
          outcome = Outcome::Error(Status::FailedPrecondition("account ", request.from, " has insufficient funds")
                                       .WithReason("insufficient_funds"));
        } else if (to_balance > std::numeric_limits<int64_t>::max() - request.amount) {
          outcome = Outcome::Error(Status::FailedPrecondition("account ", request.to, " balance would overflow")
                                       .WithReason("balance_overflow"));
        } else {
          outcome = Outcome::Json(200, {{"request_id", request.request_id},
                                        {"from", {{"id", request.from}, {"balance", from_balance - request.amount}}},
                                        {"to", {{"id", request.to}, {"balance", to_balance + request.amount}}}});
        }
        // One record per request_id, whatever the outcome: a request_id already recorded
        // (by this or another process, with any outcome or body) fails here with
        // kAlreadyExists once its transaction committed, and this one rolls back. The
        // record commits together with the effect below.
        LOCKSTEP_RETURN_IF_ERROR(RequestRecords::Insert(tx, kScope, request.request_id, digest, outcome));
        if (outcome.http_status != 200) return Status::Ok();
        // One statement moves the money; the WHERE re-checks the debit condition.
        LOCKSTEP_ASSIGN_OR_RETURN(
            lockstep::sql::ExecResult moved,
            tx.Execute("UPDATE accounts SET balance = balance + IF(id = ?, -?, ?), version = version + 1 "
                       "WHERE id IN (?, ?) AND (id <> ? OR balance >= ?)",
                       request.from, request.amount, request.amount, request.from, request.to, request.from,
                       request.amount));
        if (moved.affected_rows != 2) {
          return Status::Internal("transfer updated ", moved.affected_rows, " rows instead of 2");
        }
        return tx.Execute("INSERT INTO transfers (request_id, from_id, to_id, amount, created_at) "
                          "VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6))",
                          request.request_id, request.from, request.to, request.amount)
            .status();
      },
      &stats);
  DomainMetrics::Add(metrics_.tx_retries, stats.retries);
  DomainMetrics::Add(metrics_.deadlocks, stats.deadlocks);
  DomainMetrics::Add(metrics_.lock_wait_timeouts, stats.lock_wait_timeouts);

  if (status.code() == StatusCode::kAlreadyExists) {
    auto replay = RequestRecords::Replay(pool_, kScope, request.request_id, digest, deadline);
    if (replay.ok()) DomainMetrics::Add(metrics_.replays);
    if (!replay.ok() && replay.status().code() == StatusCode::kNotFound) {
      return Status::Internal("duplicate request_id but no record of it");
    }
    return replay;
  }
  if (!status.ok()) {
    if (status.code() == StatusCode::kUnknown) DomainMetrics::Add(metrics_.outcome_unknown);
    return status;
  }
  DomainMetrics::Add(outcome.http_status == 200 ? metrics_.transfers_ok : metrics_.transfers_rejected);
  return outcome;
}

}  // namespace shopd::domain
