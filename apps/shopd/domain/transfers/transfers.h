#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/domain_metrics.h"
#include "domain/in_flight.h"
#include "domain/request_outcomes.h"
#include "domain/routed_read.h"
#include "reply/outcome.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"

namespace lockstep::sql {
class Pool;
}

namespace shopd::domain {

struct TransferRequest {
  std::string request_id;
  int64_t from = 0;
  int64_t to = 0;
  int64_t amount = 0;

  // kInvalidArgument: bad request_id, from == to, non-positive ids or amount.
  lockstep::Status Validate() const;
  // Canonical form of the validated fields; equal digests mean the same request.
  std::string Digest() const;
};

// The 200 body of a transfer, exactly as reply::Outcome::Json would print it
// ({"from":{"balance":B,"id":F},"request_id":"R","to":{"balance":B,"id":T}}), split around the
// two new balances so the database (procedure shopd_transfer_v1) can record it byte-equal to
// the reply. Value type.
struct TransferOkBody {
  explicit TransferOkBody(const TransferRequest& request);
  std::string Assemble(int64_t from_balance, int64_t to_balance) const;

  std::string head;
  std::string mid;
  std::string tail;
};

// One committed transfer as GET /v1/accounts/{id}/transfers lists it. Value type.
struct TransferRecord {
  int64_t id = 0;
  std::string request_id;
  int64_t from = 0;
  int64_t to = 0;
  int64_t amount = 0;
  std::string created_at;  // "2026-12-07T19:20:00.123456Z" (UTC, microseconds).
};

// {"transfers":[{"id":..,"request_id":"..","from":..,"to":..,"amount":..,"created_at":".."},..]}.
std::string TransferListBody(const std::vector<TransferRecord>& transfers);

// Money transfers (API.md POST /v1/transfers). One transaction per transfer: both rows
// locked in ascending id order (no lock-order deadlocks), a conditional debit, the transfer
// row and the request record (also for 404/409 outcomes) committed together. Deadlocks and
// lock wait timeouts rerun the whole unit within the deadline. A duplicate request_id
// replays the recorded outcome (same status and body); with another body it is 409
// request_id_conflict. Thread-safe.
class TransferService {
 public:
  TransferService(lockstep::sql::Pool& pool, InFlight& in_flight, DomainMetrics& metrics);

  // The outcome to send (200, 404, 409 recorded; replayed ones marked). Errors that are not
  // recorded come back as Status: kInvalidArgument (400), kFailedPrecondition
  // request_id_conflict / request_in_progress (409), kDeadlineExceeded or kUnknown (504:
  // the effect is whole or absent; a retry with the same request_id tells which),
  // kAborted/kUnavailable (503).
  lockstep::Result<reply::Outcome> Transfer(const TransferRequest& request, const lockstep::Deadline& deadline);

  // The committed transfers from or to `account`, newest (largest id) first, with an id
  // below `before` (unset: all), at most `limit` (1..1000; kInvalidArgument otherwise).
  // kNotFound if the account does not exist. Reads where `read` routes it (one read-only
  // transaction: the existence check and the list see the same snapshot). Thread-safe.
  lockstep::Result<std::vector<TransferRecord>> ListForAccount(int64_t account, std::optional<int64_t> before,
                                                               int64_t limit, const RoutedRead& read,
                                                               const lockstep::Deadline& deadline);

 private:
  lockstep::sql::Pool& pool_;
  InFlight& in_flight_;
  const RequestOutcomes outcomes_;  // Scope "transfer".
};

}  // namespace shopd::domain
