// The pure parts of checkouts: request validation, the API body (byte-stable for replays),
// the settled answers, and the branch payloads every phase (also after a crash) parses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "domain/checkouts/checkout.h"
#include "domain/checkouts/checkout_participants.h"

namespace shopd::domain {
namespace {

TEST(CheckoutRequestTest, ValidatesQuantityIdsAndRequestId) {
  EXPECT_TRUE((CheckoutRequest{"c-1", 1, 2, 1}.Validate().ok()));
  EXPECT_TRUE((CheckoutRequest{"c-1", 1, 2, 1'000'000}.Validate().ok()));
  EXPECT_FALSE((CheckoutRequest{"c-1", 1, 2, 0}.Validate().ok()));
  EXPECT_FALSE((CheckoutRequest{"c-1", 1, 2, 1'000'001}.Validate().ok()));
  EXPECT_FALSE((CheckoutRequest{"c-1", 0, 2, 1}.Validate().ok()));
  EXPECT_FALSE((CheckoutRequest{"c-1", 1, -2, 1}.Validate().ok()));
  EXPECT_FALSE((CheckoutRequest{"", 1, 2, 1}.Validate().ok()));
  EXPECT_FALSE((CheckoutRequest{std::string(65, 'x'), 1, 2, 1}.Validate().ok()));
  EXPECT_NE((CheckoutRequest{"c", 1, 2, 3}.Digest()), (CheckoutRequest{"c", 1, 23, 3}.Digest()));
  EXPECT_NE((CheckoutRequest{"c", 12, 2, 3}.Digest()), (CheckoutRequest{"c", 1, 22, 3}.Digest()));
}

TEST(CheckoutBodyTest, PrintsTheApiFieldsWithOrderIdOnlyWhenCompleted) {
  CheckoutRecord c{7, "c-\"1", "d", 1, 2, 3, 450, 9, 123, CheckoutStatus::kCompleted, ""};
  const nlohmann::json done = nlohmann::json::parse(CheckoutBody(c));
  EXPECT_EQ(done, (nlohmann::json{{"id", 7}, {"request_id", "c-\"1"}, {"account_id", 1}, {"product_id", 2},
                                  {"quantity", 3}, {"amount", 450}, {"order_id", 123}, {"status", "completed"}}));
  c.status = CheckoutStatus::kCancelled;
  c.reason = "out_of_stock";
  const nlohmann::json cancelled = nlohmann::json::parse(CheckoutBody(c));
  EXPECT_TRUE(cancelled["order_id"].is_null());
  EXPECT_EQ(cancelled["reason"], "out_of_stock");
  EXPECT_EQ(CheckoutBody(c), CheckoutBody(c));  // Deterministic: replays are byte-equal.
}

TEST(CheckoutBodyTest, SettledOutcomes) {
  CheckoutRecord c{7, "c-1", "d", 1, 2, 3, 450, 9, 123, CheckoutStatus::kCompleted, ""};
  EXPECT_EQ(SettledOutcome(c).http_status, 201);
  EXPECT_EQ(SettledOutcome(c).body, CheckoutBody(c));
  c.status = CheckoutStatus::kCancelled;
  for (const auto& [reason, code] : {std::pair{"insufficient_funds", "insufficient_funds"},
                                     std::pair{"out_of_stock", "out_of_stock"}, std::pair{"timeout", "checkout_cancelled"},
                                     std::pair{"unavailable", "checkout_cancelled"}}) {
    c.reason = reason;
    const reply::Outcome o = SettledOutcome(c);
    EXPECT_EQ(o.http_status, 409) << reason;
    EXPECT_EQ(nlohmann::json::parse(o.body)["error"]["code"], code) << reason;
  }
}

TEST(CheckoutPayloadTest, RoundTripsAndRefusesAnythingElse) {
  const PaymentBranch p{5, 1'000'000'000'000, 1};
  auto parsed = PaymentBranch::Parse(p.Encode());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->account, 5);
  EXPECT_EQ(parsed->amount, 1'000'000'000'000);
  EXPECT_EQ(parsed->merchant, 1);
  const StockBranch s{11, 12, 13, 14, 15};
  auto stock = StockBranch::Parse(s.Encode());
  ASSERT_TRUE(stock.ok()) << stock.status();
  EXPECT_EQ(stock->checkout, 11);
  EXPECT_EQ(stock->product, 12);
  EXPECT_EQ(stock->quantity, 13);
  EXPECT_EQ(stock->order_id, 14);
  EXPECT_EQ(stock->account, 15);
  for (const char* bad : {"", "account=5 amount=1", "account=5 amount=1 merchant=x", "account=5 amount=1 merchant=1 x=2",
                          "account=5 amount=1merchant=1", "account=5 amount=1 merchant=1 "}) {
    EXPECT_FALSE(PaymentBranch::Parse(bad).ok()) << bad;
  }
  EXPECT_EQ(CheckoutOrderRequestId(42), "checkout:42");
}

}  // namespace
}  // namespace shopd::domain
