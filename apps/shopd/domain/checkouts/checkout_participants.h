#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lockstep/base/result.h"
#include "lockstep/tcc/observer.h"
#include "lockstep/tcc/participant.h"

namespace lockstep::sql {
class Pool;
}

namespace shopd::domain {

// The two TCC participants of a checkout (lockstep::tcc; barrier table tcc_barrier in each
// participant's database). Their branch payloads are encoded here; the coordinator's log
// keeps them, so recovery on any instance runs the same phases.
inline constexpr std::string_view kPaymentsParticipant = "payments";
inline constexpr std::string_view kShopParticipant = "shop";

// Payments branch: freeze `amount` on `account` (balance -> frozen), Confirm moves it from
// the buyer's frozen to the merchant's balance, Cancel gives it back. Value type.
struct PaymentBranch {
  int64_t account = 0;
  int64_t amount = 0;
  int64_t merchant = 0;
  // "account=A amount=X merchant=M".
  std::string Encode() const;
  // kInvalidArgument unless `payload` is what Encode wrote.
  static lockstep::Result<PaymentBranch> Parse(std::string_view payload);
};

// Shop branch: hold `quantity` units of `product` (stock -> held), Confirm turns the hold
// into the confirmed order `order_id` (request_id "checkout:<checkout>", user `account`),
// Cancel puts the units back. Value type.
struct StockBranch {
  int64_t checkout = 0;
  int64_t product = 0;
  int64_t quantity = 0;
  int64_t order_id = 0;
  int64_t account = 0;
  // "checkout=C product=P quantity=Q order=O account=A".
  std::string Encode() const;
  static lockstep::Result<StockBranch> Parse(std::string_view payload);
};

// The request_id of the order a checkout creates: "checkout:<id>" (API.md request_ids of
// POST /v1/orders should not use this prefix: such an order would collide with it).
std::string CheckoutOrderRequestId(int64_t checkout_id);

// The participants, bound to their databases. Try refuses with kFailedPrecondition reason
// insufficient_funds / out_of_stock (nothing changed), or kNotFound. Every phase bumps the
// `version` of the rows it changes. Thread-safe; `pool` must outlive the participant.
lockstep::Result<std::unique_ptr<lockstep::tcc::Participant>> MakePaymentsParticipant(
    lockstep::sql::Pool& payments, lockstep::tcc::TccObserver observer);
lockstep::Result<std::unique_ptr<lockstep::tcc::Participant>> MakeShopParticipant(lockstep::sql::Pool& shop,
                                                                                   lockstep::tcc::TccObserver observer);

}  // namespace shopd::domain
