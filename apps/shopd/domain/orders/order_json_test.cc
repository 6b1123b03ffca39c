// OrderBody must print exactly what Outcome::Json (= Response::Json) prints for the order object: batched and
// reserved answers, reserved replays (stored in Redis) and GET /v1/orders all use it, and
// clients compare replayed bodies byte for byte with the first answer.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/orders/order_json.h"
#include "reply/outcome.h"

namespace shopd::domain {
namespace {

std::string Expected(const Order& o) {
  return reply::Outcome::Json(201, {{"id", o.id},
                                    {"request_id", o.request_id},
                                    {"user_id", o.user_id},
                                    {"product_id", o.product_id},
                                    {"quantity", o.quantity},
                                    {"status", o.status}})
      .body;
}

TEST(OrderBodyTest, PrintsWhatResponseJsonPrints) {
  const std::vector<std::string> request_ids = {"o-1", "", R"(q"b\s)", "tab\t", "caf\xc3\xa9", "bad \xff",
                                                "~!@#$%^&*()_+{}|:<>?`-=[];',./ "};
  const std::vector<int64_t> ints = {0, 1, -1, 1'000'000, std::numeric_limits<int64_t>::max(),
                                     std::numeric_limits<int64_t>::min()};
  for (const std::string& request_id : request_ids) {
    for (int64_t v : ints) {
      for (const char* status : {"confirmed", "pending", "failed"}) {
        const Order o{v, request_id, v / 3, v / 7, v / 11, status};
        EXPECT_EQ(OrderBody(o), Expected(o)) << request_id << " " << v;
        EXPECT_EQ(OrderBody(o.id, o.request_id, o.user_id, o.product_id, o.quantity, o.status), Expected(o));
      }
    }
  }
}

TEST(OrderBodyTest, IsValidJsonWithTheFields) {
  const auto j = nlohmann::json::parse(OrderBody(Order{12, "o-\"1\"", 7, 3, 2, "pending"}));
  EXPECT_EQ(j.at("id"), 12);
  EXPECT_EQ(j.at("request_id"), "o-\"1\"");
  EXPECT_EQ(j.at("user_id"), 7);
  EXPECT_EQ(j.at("product_id"), 3);
  EXPECT_EQ(j.at("quantity"), 2);
  EXPECT_EQ(j.at("status"), "pending");
}

}  // namespace
}  // namespace shopd::domain
