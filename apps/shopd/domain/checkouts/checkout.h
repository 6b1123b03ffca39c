#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "reply/outcome.h"
#include "lockstep/base/status.h"

namespace shopd::domain {

// POST /v1/checkouts (API.md "Checkout"). Value type.
struct CheckoutRequest {
  std::string request_id;
  int64_t account_id = 0;
  int64_t product_id = 0;
  int64_t quantity = 0;

  // kInvalidArgument: bad request_id, non-positive ids, quantity outside 1..1,000,000.
  lockstep::Status Validate() const;
  // Canonical form of the validated fields; equal digests mean the same request.
  std::string Digest() const;
};

// A checkout's state as the API shows it.
enum class CheckoutStatus { kTrying, kCompleted, kCancelled };
// "trying" | "completed" | "cancelled".
std::string_view CheckoutStatusName(CheckoutStatus status);

// Why a checkout was cancelled (the `reason` of GET and of the checkouts row).
inline constexpr std::string_view kReasonInsufficientFunds = "insufficient_funds";
inline constexpr std::string_view kReasonOutOfStock = "out_of_stock";
inline constexpr std::string_view kReasonTimeout = "timeout";          // Cut by a deadline or by recovery.
inline constexpr std::string_view kReasonUnavailable = "unavailable";  // A participant failed otherwise.

// One checkout (the `checkouts` row, its status as the coordinator's log settled it). Value
// type.
struct CheckoutRecord {
  int64_t id = 0;
  std::string request_id;
  std::string digest;
  int64_t account_id = 0;
  int64_t product_id = 0;
  int64_t quantity = 0;
  int64_t amount = 0;
  int64_t merchant_id = 0;
  int64_t order_id = 0;  // Allocated before the Try; an order with it exists iff completed.
  CheckoutStatus status = CheckoutStatus::kTrying;
  std::string reason;  // Set when cancelled.
};

// The API body of a checkout: {"id","request_id","account_id","product_id","quantity",
// "amount","order_id","status"} (+ "reason" when cancelled); order_id is null unless
// completed. Deterministic (sorted keys), so a replay is byte-equal. Pure, thread-safe.
std::string CheckoutBody(const CheckoutRecord& c);

// What POST answers for a settled checkout: 201 + CheckoutBody when completed; when
// cancelled 409 with error code `insufficient_funds` / `out_of_stock` (the refusal), or
// `checkout_cancelled` (cancelled for another reason: a deadline, a crash, a participant
// down; the message names it). Deterministic. REQUIRES: c.status != kTrying. Pure.
reply::Outcome SettledOutcome(const CheckoutRecord& c);

}  // namespace shopd::domain
