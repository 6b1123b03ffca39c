// ProductBody must print exactly what Response::Json prints for the product object: the
// fast path (I/O thread) and every other product answer use it, and clients compare bodies.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/product_json.h"
#include "http/response.h"

namespace shopd::api {
namespace {

using domain::Product;
using domain::StockMode;
using domain::StockModeName;

std::string Expected(const Product& p) {
  return http::Response::Json(200, {{"id", p.id},
                                    {"name", p.name},
                                    {"price", p.price},
                                    {"stock", p.stock},
                                    {"version", p.version},
                                    {"stock_mode", std::string(StockModeName(p.stock_mode))}})
      .body;
}

TEST(ProductBodyTest, PrintsWhatResponseJsonPrints) {
  const std::vector<std::string> names = {
      "widget",  "",          R"(quote"and\backslash)", "tab\there", "nl\nand\x01ctl", "del\x7f",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9b\x92",  // UTF-8: é € 🛒
      "bad \xff utf8", "~!@#$%^&*()_+{}|:<>?`-=[];',./ "};
  const std::vector<int64_t> ints = {0, 1, -1, 9900, std::numeric_limits<int64_t>::max(),
                                     std::numeric_limits<int64_t>::min()};
  for (const std::string& name : names) {
    for (int64_t v : ints) {
      for (StockMode mode : {StockMode::kRowLock, StockMode::kBatched, StockMode::kReserved}) {
        const Product p{v, name, v / 3, v / 7, v, mode};
        EXPECT_EQ(ProductBody(p), Expected(p)) << name << " " << v;
      }
    }
  }
}

TEST(ProductBodyTest, IsValidJsonWithTheFields) {
  const Product p{42, "a \"b\"", 100, 7, 3, StockMode::kReserved};
  const auto j = nlohmann::json::parse(ProductBody(p));
  EXPECT_EQ(j.at("id"), 42);
  EXPECT_EQ(j.at("name"), "a \"b\"");
  EXPECT_EQ(j.at("price"), 100);
  EXPECT_EQ(j.at("stock"), 7);
  EXPECT_EQ(j.at("version"), 3);
  EXPECT_EQ(j.at("stock_mode"), "reserved");
}

}  // namespace
}  // namespace shopd::api
