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

// What a checkouts run created and what its clients were told. Value type.
struct CheckoutsRun {
  std::string request_prefix;                   // Every request_id of the run starts with it.
  int64_t merchant = 0;                         // --checkout-merchant-account of the instances.
  std::map<int64_t, int64_t> initial_balances;  // The buyers, and the merchant (balance + frozen).
  std::map<int64_t, int64_t> initial_stock;     // The run's products.
  struct Ack {
    int status = 0;         // 201 or 409 (definite answers only).
    std::string code;       // 409: the error code.
    int64_t id = 0;         // 201: the checkout id.
    int64_t amount = 0;     // 201.
    int64_t order_id = 0;   // 201.
  };
  std::map<std::string, Ack> answers;  // request_id -> the definite answer the client saw.

  // The manifest file of `checkouts --manifest` (for `verify-checkouts`).
  std::string ToJson() const;
  static Result<CheckoutsRun> FromJson(const std::string& text);
};

// Waits until no checkout of the run is `trying` (the rows, in the shop database), for up to
// `timeout_s`. Meanwhile, any checkout trying for longer than `bound_ms` after its creation
// is a violation (appended to `violations`). False if some are still trying at the end.
bool AwaitCheckoutsSettled(sql::Pool& shop, const CheckoutsRun& run, double timeout_s, int64_t bound_ms,
                           std::vector<std::string>& violations);

// API.md's checkout invariants over both databases (after settling):
//  - payments: sum(balance + frozen) of the run's accounts unchanged; every frozen 0; no
//    balance negative; the merchant received exactly the amounts of completed checkouts;
//    each buyer paid exactly its completed checkouts;
//  - shop: per product, initial stock == stock + quantities of its confirmed orders and
//    held == 0; each completed checkout has exactly one confirmed order (its order_id,
//    request_id "checkout:<id>", buyer, product, quantity), a cancelled one none, and the
//    run's products have no other orders;
//  - every checkout settled (none `trying`); every 201 the client saw is a completed
//    checkout with the same id, amount and order id; every 409 insufficient_funds /
//    out_of_stock is a cancelled checkout with that reason.
// Returns the violations; a Status if a database could not be read.
Result<std::vector<std::string>> VerifyCheckouts(sql::Pool& shop, sql::Pool& payments, const CheckoutsRun& run);

}  // namespace lockstep::bench
