#include "domain/checkouts/checkout.h"

#include <nlohmann/json.hpp>

#include "domain/orders/orders.h"
#include "domain/validation.h"

namespace shopd::domain {

using lockstep::Status;

Status CheckoutRequest::Validate() const {
  LOCKSTEP_RETURN_IF_ERROR(ValidateRequestId(request_id));
  if (account_id <= 0) return Status::InvalidArgument("field 'account_id' must be a positive account id");
  if (product_id <= 0) return Status::InvalidArgument("field 'product_id' must be a positive product id");
  if (quantity < 1 || quantity > kMaxOrderQuantity) {
    return Status::InvalidArgument("field 'quantity' must be 1..", kMaxOrderQuantity);
  }
  return Status::Ok();
}

std::string CheckoutRequest::Digest() const {
  return std::to_string(account_id) + ":" + std::to_string(product_id) + "x" + std::to_string(quantity);
}

std::string_view CheckoutStatusName(CheckoutStatus status) {
  switch (status) {
    case CheckoutStatus::kTrying: return "trying";
    case CheckoutStatus::kCompleted: return "completed";
    case CheckoutStatus::kCancelled: return "cancelled";
  }
  return "trying";
}

std::string CheckoutBody(const CheckoutRecord& c) {
  nlohmann::json body = {{"id", c.id},
                         {"request_id", c.request_id},
                         {"account_id", c.account_id},
                         {"product_id", c.product_id},
                         {"quantity", c.quantity},
                         {"amount", c.amount},
                         {"order_id", nullptr},
                         {"status", CheckoutStatusName(c.status)}};
  if (c.status == CheckoutStatus::kCompleted) body["order_id"] = c.order_id;
  if (c.status == CheckoutStatus::kCancelled) body["reason"] = c.reason;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

reply::Outcome SettledOutcome(const CheckoutRecord& c) {
  if (c.status == CheckoutStatus::kCompleted) return reply::Outcome{201, CheckoutBody(c), false, {}};
  if (c.reason == kReasonInsufficientFunds) {
    return reply::Outcome::Error(Status::FailedPrecondition("account ", c.account_id, " has insufficient funds for ",
                                                            c.amount)
                                     .WithReason(std::string(kReasonInsufficientFunds)));
  }
  if (c.reason == kReasonOutOfStock) {
    return reply::Outcome::Error(
        Status::FailedPrecondition("product ", c.product_id, " has fewer than ", c.quantity, " units in stock")
            .WithReason(std::string(kReasonOutOfStock)));
  }
  return reply::Outcome::Error(
      Status::FailedPrecondition("checkout ", c.id, " was cancelled (", c.reason, "): nothing was charged or held")
          .WithReason("checkout_cancelled"));
}

}  // namespace shopd::domain
