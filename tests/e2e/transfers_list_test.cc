// End-to-end: GET /v1/accounts/{id}/transfers (API.md "Replicas and consistency tokens":
// the list itself, read where its consistency routes it; tests/e2e/replica_test.cc covers routing).
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "e2e/e2e_fixture.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;

class TransfersListTest : public ShopdE2eTest {};

TEST_F(TransfersListTest, NewestFirstWithPagingAndBadParametersRefused) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "a", 1000);
  const int64_t b = CreateAccount(*shopd, "b", 1000);
  const int64_t c = CreateAccount(*shopd, "c", 1000);
  struct Sent {
    std::string request_id;
    int64_t from, to, amount;
  };
  const std::vector<Sent> sent = {{"l-1", a, b, 1}, {"l-2", c, a, 2}, {"l-3", a, b, 3},
                                  {"l-4", b, c, 4}, {"l-5", c, a, 5}, {"l-6", a, c, 6}};
  for (const Sent& s : sent) ASSERT_EQ(Transfer(*shopd, s.request_id, s.from, s.to, s.amount).status, 200);

  const std::string path = "/v1/accounts/" + std::to_string(a) + "/transfers";
  const HttpResponse all = Call(*shopd, "GET", path);
  ASSERT_EQ(all.status, 200) << all.body;
  const json list = ParseJson(all.body)["transfers"];
  ASSERT_EQ(list.size(), 5u) << all.body;  // l-4 does not involve a.
  const std::vector<std::string> expected = {"l-6", "l-5", "l-3", "l-2", "l-1"};
  static const std::regex kIsoUtc(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  for (size_t i = 0; i < list.size(); ++i) {
    const json& t = list[i];
    EXPECT_EQ(t["request_id"], expected[i]);
    const Sent& s = sent[std::stoi(expected[i].substr(2)) - 1];
    EXPECT_EQ(t["from"], s.from);
    EXPECT_EQ(t["to"], s.to);
    EXPECT_EQ(t["amount"], s.amount);
    EXPECT_TRUE(std::regex_match(t["created_at"].get<std::string>(), kIsoUtc)) << t;
    if (i > 0) {
      EXPECT_LT(t["id"].get<int64_t>(), list[i - 1]["id"].get<int64_t>());
    }
    EXPECT_EQ(t.size(), 6u) << t;
  }

  // Paging with limit and before visits each exactly once, in order.
  std::vector<std::string> paged;
  std::string before;
  for (int page = 0; page < 10; ++page) {
    const HttpResponse r = Call(*shopd, "GET", path + "?limit=2" + (before.empty() ? "" : "&before=" + before));
    ASSERT_EQ(r.status, 200) << r.body;
    const json items = ParseJson(r.body)["transfers"];
    ASSERT_LE(items.size(), 2u);
    if (items.empty()) break;
    for (const json& t : items) paged.push_back(t["request_id"]);
    before = std::to_string(items.back()["id"].get<int64_t>());
  }
  EXPECT_EQ(paged, expected);

  // An account without transfers, an unknown one, and bad parameters.
  const int64_t idle = CreateAccount(*shopd, "idle", 0);
  const HttpResponse empty = Call(*shopd, "GET", "/v1/accounts/" + std::to_string(idle) + "/transfers");
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.body, R"({"transfers":[]})");
  EXPECT_TRUE(IsApiError(Call(*shopd, "GET", "/v1/accounts/999999/transfers"), 404, "not_found"));
  for (const char* query : {"?limit=0", "?limit=1001", "?limit=abc", "?limit=", "?before=0", "?before=x",
                                   "?limit=-1", "?before=1%27%20OR%201=1"}) {
    EXPECT_TRUE(IsApiError(Call(*shopd, "GET", path + std::string(query)), 400, "invalid_argument")) << query;
  }
  EXPECT_TRUE(IsApiError(Call(*shopd, "GET", "/v1/accounts/abc/transfers"), 400, "invalid_argument"));
  const HttpResponse max = Call(*shopd, "GET", path + "?limit=1000");
  EXPECT_EQ(max.status, 200);
}

}  // namespace
}  // namespace lockstep::e2e
