#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lockstep/base/result.h"

namespace lockstep::sql {
class Pool;
}

namespace lockstep::bench {

// LIKE pattern "<prefix>%" matching every string that starts with `prefix` (its own \, %
// and _ escaped). Pure, thread-safe.
std::string LikePrefix(const std::string& prefix);

// What a transfers run created and what its clients were told: enough for an independent
// re-check of the invariants after the run (`lockstep-bench verify`). Value type.
struct TransfersManifest {
  std::string request_prefix;                 // Every request_id of the run starts with it.
  std::map<int64_t, int64_t> initial_balances;  // Account id -> balance at creation.
  struct Ack {
    int64_t from = 0, to = 0, amount = 0;
    int status = 0;  // 200, 404, 409 (definite answers only).
  };
  std::map<std::string, Ack> answers;  // request_id -> the definite answer the client saw.

  std::string ToJson() const;
  static Result<TransfersManifest> FromJson(const std::string& text);
};

// The invariants of API.md for a transfers run, checked against the tables:
//  - sum of the run's balances unchanged; no balance negative;
//  - each balance == initial + credits - debits of the run's transfer rows (every row
//    applied exactly once, nothing applied without a row);
//  - every 200 the client saw has its transfer row with the same from/to/amount;
//  - no transfer row for a request the client was told was rejected (404/409).
// Returns the violations (empty = all hold); a Status if the database could not be read.
Result<std::vector<std::string>> VerifyTransfers(sql::Pool& pool, const TransfersManifest& manifest);

// What a flashsale run created and what its clients were told. Value type.
struct FlashsaleManifest {
  std::string request_prefix;  // Every request_id of the run starts with it.
  int64_t product_id = 0;      // The run's product (created by the run).
  int64_t initial_stock = 0;
  struct Ack {
    int64_t quantity = 0;
    int status = 0;        // 201, 404, 409 (definite answers only).
    int64_t order_id = 0;  // 201: the id the client was given.
  };
  std::map<std::string, Ack> answers;  // request_id -> the definite answer the client saw.

  std::string ToJson() const;
  static Result<FlashsaleManifest> FromJson(const std::string& text);
};

// The invariants of API.md for a flash sale, checked against the tables:
//  - initial stock == products.stock + sum(quantity of the product's confirmed orders);
//    stock >= 0; no request_id with two orders;
//  - every 201 the client saw is an order row with the same id, product and quantity;
//  - no order row for a request answered 404/409; with every request answered, the count of
//    201s equals the run's order rows;
//  - sold out exactly: after any 409 for quantity q, the final stock is below q (so 0 when
//    every order is for 1 unit and one was refused).
Result<std::vector<std::string>> VerifyFlashsale(sql::Pool& pool, const FlashsaleManifest& manifest);

}  // namespace lockstep::bench
