#include "domain/transfers/transfers.h"

#include <limits>

#include <nlohmann/json.hpp>

#include "domain/validation.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"

namespace shopd::domain {

using lockstep::Status;

namespace {
constexpr std::string_view kScope = "transfer";  // The procedure shopd_transfer_v2 writes it.
}  // namespace

TransferOkBody::TransferOkBody(const TransferRequest& request)
    : head(R"({"from":{"balance":)"),
      mid(R"(,"id":)" + std::to_string(request.from) + R"(},"request_id":)" + nlohmann::json(request.request_id).dump() +
          R"(,"to":{"balance":)"),
      tail(R"(,"id":)" + std::to_string(request.to) + "}}") {}

std::string TransferOkBody::Assemble(int64_t from_balance, int64_t to_balance) const {
  return head + std::to_string(from_balance) + mid + std::to_string(to_balance) + tail;
}

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

TransferService::TransferService(lockstep::sql::Pool& pool, InFlight& in_flight, DomainMetrics& metrics)
    : pool_(pool), in_flight_(in_flight), outcomes_(pool, metrics, kScope) {}

lockstep::Result<reply::Outcome> TransferService::Transfer(const TransferRequest& request, const lockstep::Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(request.Validate());
  const std::string digest = request.Digest();
  LOCKSTEP_ASSIGN_OR_RETURN(InFlight::Ticket ticket, in_flight_.Enter(kScope, request.request_id, deadline));

  const TransferOkBody body(request);
  // The rejections the procedure may record, rendered here so the recorded body is the
  // reply byte for byte.
  const reply::Outcome from_unknown = reply::Outcome::Error(Status::NotFound("account ", request.from, " not found"));
  const reply::Outcome to_unknown = reply::Outcome::Error(Status::NotFound("account ", request.to, " not found"));
  const reply::Outcome insufficient = reply::Outcome::Error(
      Status::FailedPrecondition("account ", request.from, " has insufficient funds").WithReason("insufficient_funds"));
  const reply::Outcome overflow = reply::Outcome::Error(
      Status::FailedPrecondition("account ", request.to, " balance would overflow").WithReason("balance_overflow"));
  reply::Outcome outcome;
  lockstep::sql::RunStats stats;
  const Status status = lockstep::sql::RunWithRetries(
      pool_, {}, deadline,
      [&](lockstep::sql::PooledConnection& conn) -> Status {
        // One round trip (procedure shopd_transfer_v3, schema migrations 6 and 8): its own
        // READ COMMITTED transaction locks both rows in ascending id order — every transfer
        // takes its locks in the same global order, so two transfers cannot wait on each
        // other's rows — records the outcome (one record per request_id, whatever the
        // outcome), moves the money and appends its transfer.completed event for a 200, and
        // commits. A request_id already recorded (by this or another process, with any
        // outcome or body) fails it with kAlreadyExists once that record committed, with
        // nothing written.
        // The CALL's OK packet then names the GTID its procedure committed under (the
        // consistency token), with no extra round trip.
        LOCKSTEP_RETURN_IF_ERROR(conn.TrackCommitGtid(deadline));
        LOCKSTEP_ASSIGN_OR_RETURN(
            lockstep::sql::Rows rows,
            conn.Query("CALL shopd_transfer_v3(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", request.request_id, digest,
                       request.from, request.to, request.amount, body.head, body.mid, body.tail, from_unknown.body,
                       to_unknown.body, insufficient.body, overflow.body, deadline));
        if (rows.size() != 1) return Status::Internal("shopd_transfer_v3 returned ", rows.size(), " rows");
        const std::string token = conn.LastCommitGtid().value_or("");
        const auto& row = rows[0];
        LOCKSTEP_ASSIGN_OR_RETURN(int64_t http_status, row.GetInt64(0));
        if (http_status == 200) {
          LOCKSTEP_ASSIGN_OR_RETURN(int64_t from_balance, row.GetInt64(1));
          LOCKSTEP_ASSIGN_OR_RETURN(int64_t to_balance, row.GetInt64(2));
          outcome = reply::Outcome{200, body.Assemble(from_balance, to_balance), false, token};
          return Status::Ok();
        }
        LOCKSTEP_ASSIGN_OR_RETURN(bool from_null, row.IsNull(1));
        LOCKSTEP_ASSIGN_OR_RETURN(bool to_null, row.IsNull(2));
        if (http_status == 404) {
          outcome = from_null ? from_unknown : to_unknown;
        } else if (http_status == 409 && !from_null && !to_null) {
          const int64_t from_balance = row.GetInt64(1).value_or(0);
          outcome = from_balance < request.amount ? insufficient : overflow;
        } else {
          return Status::Internal("shopd_transfer_v3 returned status ", http_status);
        }
        outcome.consistency_token = token;
        return Status::Ok();
      },
      &stats);
  lockstep::Result<reply::Outcome> answer =
      outcomes_.Settle(status, stats, std::move(outcome), request.request_id, digest, deadline);
  outcomes_.Count(answer, 200, &DomainMetrics::transfers_ok, &DomainMetrics::transfers_rejected);
  return answer;
}

std::string TransferListBody(const std::vector<TransferRecord>& transfers) {
  nlohmann::json list = nlohmann::json::array();
  for (const TransferRecord& t : transfers) {
    list.push_back({{"id", t.id},
                    {"request_id", t.request_id},
                    {"from", t.from},
                    {"to", t.to},
                    {"amount", t.amount},
                    {"created_at", t.created_at}});
  }
  return nlohmann::json{{"transfers", std::move(list)}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

lockstep::Result<std::vector<TransferRecord>> TransferService::ListForAccount(int64_t account,
                                                                             std::optional<int64_t> before,
                                                                             int64_t limit, const RoutedRead& read,
                                                                             const lockstep::Deadline& deadline) {
  if (limit < 1 || limit > 1000) return Status::InvalidArgument("limit must be 1..1000, got ", limit);
  if (before && *before < 1) return Status::InvalidArgument("before must be a transfer id >= 1");
  const int64_t below = before.value_or(std::numeric_limits<int64_t>::max());
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::routing::ReadTransaction tx, read.Begin(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows exists, tx.Query("SELECT 1 FROM accounts WHERE id = ?", account));
  if (exists.empty()) return Status::NotFound("account ", account, " not found");
  // Each side walks its (from_id, id) / (to_id, id) index backwards (migration 7).
  LOCKSTEP_ASSIGN_OR_RETURN(
      lockstep::sql::Rows rows,
      tx.Query("SELECT id, request_id, from_id, to_id, amount, "
                 "DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s.%fZ') FROM ("
                 "(SELECT id, request_id, from_id, to_id, amount, created_at FROM transfers "
                 "WHERE from_id = ? AND id < ? ORDER BY id DESC LIMIT ?) UNION "
                 "(SELECT id, request_id, from_id, to_id, amount, created_at FROM transfers "
                 "WHERE to_id = ? AND id < ? ORDER BY id DESC LIMIT ?)) AS t ORDER BY id DESC LIMIT ?",
               account, below, limit, account, below, limit, limit));
  std::vector<TransferRecord> out;
  out.reserve(rows.size());
  for (const lockstep::sql::Row& row : rows) {
    TransferRecord t;
    LOCKSTEP_ASSIGN_OR_RETURN(t.id, row.GetInt64(0));
    LOCKSTEP_ASSIGN_OR_RETURN(t.request_id, row.GetString(1));
    LOCKSTEP_ASSIGN_OR_RETURN(t.from, row.GetInt64(2));
    LOCKSTEP_ASSIGN_OR_RETURN(t.to, row.GetInt64(3));
    LOCKSTEP_ASSIGN_OR_RETURN(t.amount, row.GetInt64(4));
    LOCKSTEP_ASSIGN_OR_RETURN(t.created_at, row.GetString(5));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace shopd::domain
