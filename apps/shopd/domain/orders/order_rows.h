#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "domain/events/events.h"
#include "domain/multi_row.h"
#include "lockstep/base/status.h"
#include "lockstep/sql/transaction.h"

namespace shopd::domain {

// The statements every stock mode uses to apply orders inside its transaction. Stateless;
// thread-safe (each call uses only the given transaction).

// An `orders` row: id, request_id, user_id, product_id, quantity (status confirmed).
using OrderRow = std::tuple<int64_t, std::string_view, int64_t, int64_t, int64_t>;
// A `request_records` row of scope "order": request_id, digest, http_status, response.
using OrderRecordRow = std::tuple<std::string_view, std::string_view, int64_t, std::string_view>;

// Takes `quantity` units of `product_id` with one conditional UPDATE (bumps version).
// kInternal unless exactly one row changed (the caller holds the row lock and checked).
inline lockstep::Status TakeStock(lockstep::sql::Transaction& tx, int64_t product_id, int64_t quantity) {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::ExecResult r,
                            tx.Execute("UPDATE products SET stock = stock - ?, version = version + 1 "
                                       "WHERE id = ? AND stock >= ?",
                                       quantity, product_id, quantity));
  if (r.affected_rows != 1) return lockstep::Status::Internal("stock update changed ", r.affected_rows, " rows");
  return lockstep::Status::Ok();
}

// Multi-row INSERT of confirmed orders and their order.confirmed events (one multi-row
// append, events.h); kAlreadyExists if a request_id (or id) exists. The appends take the
// outbox gate: call this last in the transaction.
inline lockstep::Status InsertConfirmedOrders(lockstep::sql::Transaction& tx, const std::vector<OrderRow>& rows) {
  if (rows.empty()) return lockstep::Status::Ok();
  LOCKSTEP_RETURN_IF_ERROR(
      ExecuteMultiRow(tx,
                      "INSERT INTO orders (id, request_id, user_id, product_id, quantity, status, created_at) VALUES ",
                      "(?, ?, ?, ?, ?, 'confirmed', UTC_TIMESTAMP(6))", "", rows)
          .status());
  std::vector<lockstep::outbox::Event> events;
  events.reserve(rows.size());
  for (const auto& [id, request_id, user_id, product_id, quantity] : rows) {
    lockstep::outbox::Event e;
    e.type = "order.confirmed";
    e.aggregate = "order:" + std::to_string(id);
    e.data = nlohmann::json{{"order_id", id},
                            {"request_id", request_id},
                            {"user_id", user_id},
                            {"product_id", product_id},
                            {"quantity", quantity},
                            {"status", "confirmed"}}
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    e.creates_aggregate = true;
    events.push_back(std::move(e));
  }
  return ShopOutbox().AppendBatch(tx, events);
}

// Multi-row INSERT of order request records; kAlreadyExists if one is recorded already.
inline lockstep::Status InsertOrderRecords(lockstep::sql::Transaction& tx, const std::vector<OrderRecordRow>& rows) {
  if (rows.empty()) return lockstep::Status::Ok();
  return ExecuteMultiRow(tx,
                         "INSERT INTO request_records (scope, request_id, request_digest, http_status, response, "
                         "created_at) VALUES ",
                         "('order', ?, ?, ?, ?, UTC_TIMESTAMP(6))", "", rows)
      .status();
}

// Applies orders decided under the products' row locks: TakeStock per product (units > 0),
// then the records and the order rows with their events.
inline lockstep::Status ApplyOrders(lockstep::sql::Transaction& tx, const std::map<int64_t, int64_t>& units_by_product,
                                    const std::vector<OrderRow>& orders, const std::vector<OrderRecordRow>& records) {
  for (const auto& [product_id, units] : units_by_product) {
    if (units > 0) LOCKSTEP_RETURN_IF_ERROR(TakeStock(tx, product_id, units));
  }
  LOCKSTEP_RETURN_IF_ERROR(InsertOrderRecords(tx, records));
  return InsertConfirmedOrders(tx, orders);  // Last: it appends the events.
}

}  // namespace shopd::domain
