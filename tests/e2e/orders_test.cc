// End-to-end: products and orders on real shopd processes (API.md /v1/products,
// /v1/orders): happy paths, bad input that changes nothing, idempotency per stock mode.
#include <gtest/gtest.h>

#include <future>
#include <latch>
#include <string>
#include <vector>

#include "e2e/e2e_fixture.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;

class ProductsOrdersTest : public ShopdE2eTest {
 protected:
  int64_t Stock(int64_t product) { return QueryInt("SELECT stock FROM products WHERE id = " + std::to_string(product)); }
  // Products, orders and order records as one text: equal snapshots mean nothing changed.
  std::string Snapshot() {
    return std::to_string(QueryInt("SELECT COUNT(*) FROM products")) + "/" +
           std::to_string(QueryInt("SELECT CAST(COALESCE(CRC32(GROUP_CONCAT(CONCAT_WS(',', id, name, price, stock, version, "
                                   "stock_mode) ORDER BY id)), 0) AS SIGNED) FROM products")) +
           "/" + std::to_string(QueryInt("SELECT COUNT(*) FROM orders")) + "/" +
           std::to_string(QueryInt("SELECT COUNT(*) FROM request_records"));
  }
};

TEST_F(ProductsOrdersTest, ProductCreateGetUpdateBumpsVersion) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const HttpResponse created = Call(*shopd, "POST", "/v1/products",
                                    R"({"name":"pen","price":150,"stock":1000,"stock_mode":"batched"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const int64_t id = ParseJson(created.body).value("id", int64_t{0});
  ASSERT_GT(id, 0);
  EXPECT_EQ(ParseJson(created.body), (json{{"id", id}, {"name", "pen"}, {"price", 150}, {"stock", 1000},
                                           {"version", 1}, {"stock_mode", "batched"}}));
  const std::string path = "/v1/products/" + std::to_string(id);
  EXPECT_EQ(ParseJson(Call(*shopd, "GET", path).body), ParseJson(created.body));

  // Default mode is batched; row_lock is accepted.
  const HttpResponse plain = Call(*shopd, "POST", "/v1/products", R"({"name":"ink ✓","price":0,"stock":0})");
  ASSERT_EQ(plain.status, 201) << plain.body;
  EXPECT_EQ(ParseJson(plain.body).value("stock_mode", ""), "batched");
  EXPECT_EQ(ParseJson(plain.body).value("name", ""), "ink ✓");
  const HttpResponse locked = Call(*shopd, "POST", "/v1/products", R"({"name":"cap","price":1,"stock":1,"stock_mode":"row_lock"})");
  ASSERT_EQ(locked.status, 201) << locked.body;
  EXPECT_EQ(ParseJson(locked.body).value("stock_mode", ""), "row_lock");

  const HttpResponse priced = Call(*shopd, "PUT", path, R"({"price":160})");
  ASSERT_EQ(priced.status, 200) << priced.body;
  EXPECT_EQ(ParseJson(priced.body), (json{{"id", id}, {"name", "pen"}, {"price", 160}, {"stock", 1000},
                                          {"version", 2}, {"stock_mode", "batched"}}));
  const HttpResponse renamed = Call(*shopd, "PUT", path, R"({"name":"pen 2","price":170})");
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(ParseJson(renamed.body).value("version", int64_t{0}), 3);
  EXPECT_EQ(ParseJson(Call(*shopd, "GET", path).body), ParseJson(renamed.body));

  EXPECT_TRUE(IsApiError(Call(*shopd, "GET", "/v1/products/999999"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Call(*shopd, "PUT", "/v1/products/999999", R"({"price":1})"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Call(*shopd, "GET", "/v1/products/abc"), 400, "invalid_argument"));
}

TEST_F(ProductsOrdersTest, ProductBadInputChangesNothing) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t id = CreateProduct(*shopd, 10, "row_lock");
  const std::string path = "/v1/products/" + std::to_string(id);
  const std::string before = Snapshot();
  const std::string long_name(129, 'n');
  std::string long_utf8;
  for (int i = 0; i < 129; ++i) long_utf8 += "é";
  const std::vector<std::pair<std::string, std::string>> posts = {
      {"name too long", json{{"name", long_name}, {"price", 1}, {"stock", 1}}.dump()},
      {"name 129 UTF-8 chars", json{{"name", long_utf8}, {"price", 1}, {"stock", 1}}.dump()},
      {"empty name", R"({"name":"","price":1,"stock":1})"},
      {"negative price", R"({"name":"p","price":-1,"stock":1})"},
      {"negative stock", R"({"name":"p","price":1,"stock":-1})"},
      {"price as string", R"({"name":"p","price":"1","stock":1})"},
      {"stock as fraction", R"({"name":"p","price":1,"stock":1.5})"},
      {"name as number", R"({"name":5,"price":1,"stock":1})"},
      {"missing stock", R"({"name":"p","price":1})"},
      {"unknown stock_mode", R"({"name":"p","price":1,"stock":1,"stock_mode":"magic"})"},
      {"stock_mode as number", R"({"name":"p","price":1,"stock":1,"stock_mode":1})"},
      {"malformed", R"({"name":"p",)"},
  };
  for (const auto& [name, body] : posts) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(IsApiError(Call(*shopd, "POST", "/v1/products", body), 400, "invalid_argument"));
  }
  for (const std::string& body : std::vector<std::string>{"{}", R"({"price":-5})", R"({"name":""})", R"({"price":"5"})", R"({"stock":5})",
                                 R"({"stock_mode":"row_lock"})", json{{"name", long_name}}.dump()}) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(IsApiError(Call(*shopd, "PUT", path, body), 400, "invalid_argument"));
  }
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(ProductsOrdersTest, OrderBadInputIsNotRecorded) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t id = CreateProduct(*shopd, 10, "batched");
  const std::string p = std::to_string(id);
  const std::string before = Snapshot();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"quantity 0", R"({"request_id":"b1","user_id":1,"product_id":)" + p + R"(,"quantity":0})"},
      {"quantity 1000001", R"({"request_id":"b2","user_id":1,"product_id":)" + p + R"(,"quantity":1000001})"},
      {"quantity negative", R"({"request_id":"b3","user_id":1,"product_id":)" + p + R"(,"quantity":-1})"},
      {"quantity as string", R"({"request_id":"b4","user_id":1,"product_id":)" + p + R"(,"quantity":"1"})"},
      {"missing quantity", R"({"request_id":"b5","user_id":1,"product_id":)" + p + R"(})"},
      {"missing product_id", R"({"request_id":"b6","user_id":1,"quantity":1})"},
      {"missing user_id", R"({"request_id":"b7","product_id":)" + p + R"(,"quantity":1})"},
      {"missing request_id", R"({"user_id":1,"product_id":)" + p + R"(,"quantity":1})"},
      {"empty request_id", R"({"request_id":"","user_id":1,"product_id":)" + p + R"(,"quantity":1})"},
      {"request_id too long", json{{"request_id", std::string(65, 'r')}, {"user_id", 1}, {"product_id", id},
                                   {"quantity", 1}}.dump()},
      {"user_id 0", R"({"request_id":"b8","user_id":0,"product_id":)" + p + R"(,"quantity":1})"},
      {"product_id as string", R"({"request_id":"b9","user_id":1,"product_id":")" + p + R"(","quantity":1})"},
      {"malformed", R"({"request_id":"b10",)"},
  };
  for (const auto& [name, body] : cases) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(IsApiError(Call(*shopd, "POST", "/v1/orders", body), 400, "invalid_argument"));
  }
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(Stock(id), 10);
  // 1,000,000 is in range (and out of stock: 409, recorded).
  EXPECT_TRUE(IsApiError(Order(*shopd, "big", id, 1'000'000), 409, "out_of_stock"));

  // Unknown product: 404, recorded, replayed.
  const HttpResponse missing = Order(*shopd, "nope-1", 999999, 1);
  EXPECT_TRUE(IsApiError(missing, 404, "not_found"));
  const HttpResponse again = Order(*shopd, "nope-1", 999999, 1);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.body, missing.body);
  EXPECT_EQ(again.Header("idempotent-replay"), "true");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM request_records WHERE scope = 'order'"), 2);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM orders"), 0);
}

class OrdersModeTest : public ProductsOrdersTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(OrdersModeTest, PlaceReplayConflictAndGet) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t id = CreateProduct(*shopd, 5, GetParam());

  const HttpResponse first = Order(*shopd, "o-1", id, 3, 42);
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.Header("idempotent-replay"), "");
  const json order = ParseJson(first.body);
  const int64_t order_id = order.value("id", int64_t{0});
  ASSERT_GT(order_id, 0);
  EXPECT_EQ(order, (json{{"id", order_id}, {"request_id", "o-1"}, {"user_id", 42}, {"product_id", id},
                         {"quantity", 3}, {"status", "confirmed"}}));
  EXPECT_EQ(Stock(id), 2);

  for (int i = 0; i < 2; ++i) {
    const HttpResponse again = Order(*shopd, "o-1", id, 3, 42);
    EXPECT_EQ(again.status, 201);
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.Header("idempotent-replay"), "true");
  }
  EXPECT_TRUE(IsApiError(Order(*shopd, "o-1", id, 2, 42), 409, "request_id_conflict"));
  EXPECT_TRUE(IsApiError(Order(*shopd, "o-1", id, 3, 43), 409, "request_id_conflict"));
  EXPECT_EQ(Stock(id), 2);

  // All-or-nothing: 3 do not fit into 2; a later smaller order still does.
  const HttpResponse refused = Order(*shopd, "o-2", id, 3);
  EXPECT_TRUE(IsApiError(refused, 409, "out_of_stock"));
  const HttpResponse refused_again = Order(*shopd, "o-2", id, 3);
  EXPECT_EQ(refused_again.status, 409);
  EXPECT_EQ(refused_again.body, refused.body);
  EXPECT_EQ(refused_again.Header("idempotent-replay"), "true");
  EXPECT_EQ(Order(*shopd, "o-3", id, 2).status, 201);
  EXPECT_EQ(Stock(id), 0);
  EXPECT_TRUE(IsApiError(Order(*shopd, "o-4", id, 1), 409, "out_of_stock"));

  EXPECT_EQ(ParseJson(Call(*shopd, "GET", "/v1/orders/" + std::to_string(order_id)).body), order);
  EXPECT_EQ(ParseJson(Call(*shopd, "GET", "/v1/orders?request_id=o-1").body), order);
  EXPECT_TRUE(IsApiError(Call(*shopd, "GET", "/v1/orders/99999999"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Call(*shopd, "GET", "/v1/orders?request_id=o-2"), 404, "not_found"));  // Refused.
  EXPECT_TRUE(IsApiError(Call(*shopd, "GET", "/v1/orders?request_id=never"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Call(*shopd, "GET", "/v1/orders"), 400, "invalid_argument"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM orders"), 2);
  EXPECT_EQ(QueryInt("SELECT CAST(SUM(quantity) AS SIGNED) FROM orders WHERE status = 'confirmed'"), 5);
}

// The same request_id sent at once to two processes for two different batched products:
// one wins, the other is request_id_conflict; never two orders, and the other members of
// the losing batch are unaffected (kAlreadyExists fallback).
TEST_F(ProductsOrdersTest, SameRequestIdForTwoProductsAcrossProcessesRunsOnce) {
  ShopdProcess* one = StartShopd();
  ASSERT_NE(one, nullptr);
  ShopdProcess* two = StartShopd();
  ASSERT_NE(two, nullptr);
  const int64_t a = CreateProduct(*one, 1000, "batched");
  const int64_t b = CreateProduct(*two, 1000, "batched");
  constexpr int kRounds = 20;
  int confirmed = 0;
  for (int k = 0; k < kRounds; ++k) {
    SCOPED_TRACE(k);
    const std::string rid = "dup-" + std::to_string(k);
    std::latch go(4);
    auto send = [&](const ShopdProcess* s, const std::string& id, int64_t product) {
      go.arrive_and_wait();
      return Call(*s, "POST", "/v1/orders",
                  json{{"request_id", id}, {"user_id", 1}, {"product_id", product}, {"quantity", 1}}.dump());
    };
    auto x = std::async(std::launch::async, send, one, rid, a);
    auto y = std::async(std::launch::async, send, two, rid, b);
    // Bystanders in the same batches.
    auto p = std::async(std::launch::async, send, one, rid + "-a", a);
    auto q = std::async(std::launch::async, send, two, rid + "-b", b);
    const HttpResponse rx = x.get(), ry = y.get(), rp = p.get(), rq = q.get();
    EXPECT_EQ(rp.status, 201) << rp.body;
    EXPECT_EQ(rq.status, 201) << rq.body;
    confirmed += 2;
    const bool x_won = rx.status == 201;
    const HttpResponse& winner = x_won ? rx : ry;
    const HttpResponse& loser = x_won ? ry : rx;
    EXPECT_EQ(winner.status, 201) << rx.body << " / " << ry.body;
    EXPECT_TRUE(IsApiError(loser, 409, "request_id_conflict")) << loser.body;
    if (winner.status == 201) ++confirmed;
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM orders WHERE request_id = '" + rid + "'"), 1);
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM request_records WHERE scope = 'order' AND request_id = '" + rid + "'"), 1);
  }
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM orders"), confirmed);
  EXPECT_EQ(Stock(a) + Stock(b), 2000 - confirmed);
}

INSTANTIATE_TEST_SUITE_P(Modes, OrdersModeTest, ::testing::Values("row_lock", "batched"));

}  // namespace
}  // namespace lockstep::e2e
