#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/outbox/outbox.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/transaction.h"

namespace shopd::domain {

// The shop's transactional outbox (API.md "Events"): table `outbox` and its helpers
// (schema migration 9). Every effect appends exactly one event in its own transaction:
//   account.created     account:<id>   accounts.cc
//   transfer.completed  transfer:<id>  procedure shopd_transfer_v3 (schema.cc; SQL that
//                                      follows Outbox::Append's protocol for a first event:
//                                      a gate row's shared lock, then the event INSERT,
//                                      before its COMMIT)
//   product.created     product:<id>   products.cc (version 1)
//   product.updated     product:<id>   products.cc (versions 2, 3 ...)
//   order.confirmed     order:<id>     order_rows.h InsertConfirmedOrders: row_lock and
//                                      batched orders, reserved orders when persisted
//   checkout.completed  checkout:<id>  checkout_service.cc SettleRows (the order a
//   checkout.cancelled                 checkout confirms is part of checkout.completed)
// With --payments-mysql the accounts and transfers live in the payments database: their
// events go to that database's outbox (same schema), which GET /v1/events and the relay
// (the --mysql database's outbox) do not read.
// Immutable; thread-safe.
const lockstep::outbox::Outbox& ShopOutbox();

// ShopOutbox().Append of one event. Call it last in the transaction (see Outbox).
lockstep::Status AppendEvent(lockstep::sql::Transaction& tx, std::string type, std::string aggregate,
                             const nlohmann::json& data, bool creates_aggregate);

// GET /v1/events: committed events after `after` (Outbox::ListAfter: never one before its
// transaction committed, never a smaller id after a larger one was listed), as the JSON
// body {"events":[{event_id, type, aggregate, aggregate_version, data, committed_at}],
// "next_after":..}. committed_at is the append time inside the committing transaction
// (UTC). kInvalidArgument for after < 0 or limit outside 1..1000. Thread-safe.
class EventService {
 public:
  explicit EventService(lockstep::sql::Pool& pool) : pool_(pool) {}
  lockstep::Result<std::string> ListBody(int64_t after, int64_t limit, const lockstep::Deadline& deadline);

 private:
  lockstep::sql::Pool& pool_;
};

}  // namespace shopd::domain
