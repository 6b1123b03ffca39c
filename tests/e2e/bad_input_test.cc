// End-to-end: invalid requests against a real shopd get the exact API error and change
// nothing in the database.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "e2e/e2e_fixture.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;

struct BadCase {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  std::string headers;  // Raw header lines.
  int status;
  std::string code;
};

// Replaces every "{A}" / "{B}" in `text` by the account ids.
std::string WithIds(std::string text, int64_t a, int64_t b) {
  for (const auto& [key, value] : {std::pair{std::string("{A}"), a}, std::pair{std::string("{B}"), b}}) {
    for (size_t p = text.find(key); p != std::string::npos; p = text.find(key, p)) {
      text.replace(p, key.size(), std::to_string(value));
    }
  }
  return text;
}

std::vector<BadCase> BadCases() {
  // Every transfer body below would move money if it were (wrongly) accepted.
  const std::string ok_body = R"({"request_id":"bad-ok","from":{A},"to":{B},"amount":5})";
  return {
      // Body syntax and shape.
      {"malformed JSON", "POST", "/v1/transfers", R"({"request_id":"m1","from":{A},)", "", 400, "invalid_argument"},
      {"trailing garbage", "POST", "/v1/transfers", R"({"request_id":"m2","from":{A},"to":{B},"amount":5} x)", "", 400,
       "invalid_argument"},
      {"empty body", "POST", "/v1/transfers", "", "", 400, "invalid_argument"},
      {"body is an array", "POST", "/v1/transfers", R"([{"request_id":"m3","from":{A},"to":{B},"amount":5}])", "", 400,
       "invalid_argument"},
      {"body is a string", "POST", "/v1/transfers", R"("transfer")", "", 400, "invalid_argument"},
      {"body is a number", "POST", "/v1/transfers", "42", "", 400, "invalid_argument"},
      {"body is null", "POST", "/v1/transfers", "null", "", 400, "invalid_argument"},
      // Missing fields.
      {"missing request_id", "POST", "/v1/transfers", R"({"from":{A},"to":{B},"amount":5})", "", 400, "invalid_argument"},
      {"missing from", "POST", "/v1/transfers", R"({"request_id":"f1","to":{B},"amount":5})", "", 400, "invalid_argument"},
      {"missing to", "POST", "/v1/transfers", R"({"request_id":"f2","from":{A},"amount":5})", "", 400, "invalid_argument"},
      {"missing amount", "POST", "/v1/transfers", R"({"request_id":"f3","from":{A},"to":{B}})", "", 400, "invalid_argument"},
      {"empty object", "POST", "/v1/transfers", "{}", "", 400, "invalid_argument"},
      // Wrong types.
      {"amount as string", "POST", "/v1/transfers", R"({"request_id":"w1","from":{A},"to":{B},"amount":"5"})", "", 400,
       "invalid_argument"},
      {"amount as fraction", "POST", "/v1/transfers", R"({"request_id":"w2","from":{A},"to":{B},"amount":1.5})", "", 400,
       "invalid_argument"},
      {"amount as bool", "POST", "/v1/transfers", R"({"request_id":"w5","from":{A},"to":{B},"amount":true})", "", 400,
       "invalid_argument"},
      {"amount null", "POST", "/v1/transfers", R"({"request_id":"w6","from":{A},"to":{B},"amount":null})", "", 400,
       "invalid_argument"},
      {"amount as array", "POST", "/v1/transfers", R"({"request_id":"w7","from":{A},"to":{B},"amount":[5]})", "", 400,
       "invalid_argument"},
      {"amount as object", "POST", "/v1/transfers", R"({"request_id":"w8","from":{A},"to":{B},"amount":{"v":5}})", "",
       400, "invalid_argument"},
      {"from as string", "POST", "/v1/transfers", R"({"request_id":"w9","from":"{A}","to":{B},"amount":5})", "", 400,
       "invalid_argument"},
      {"to as bool", "POST", "/v1/transfers", R"({"request_id":"w10","from":{A},"to":true,"amount":5})", "", 400,
       "invalid_argument"},
      {"request_id as number", "POST", "/v1/transfers", R"({"request_id":7,"from":{A},"to":{B},"amount":5})", "", 400,
       "invalid_argument"},
      {"request_id null", "POST", "/v1/transfers", R"({"request_id":null,"from":{A},"to":{B},"amount":5})", "", 400,
       "invalid_argument"},
      {"request_id as array", "POST", "/v1/transfers", R"({"request_id":["x"],"from":{A},"to":{B},"amount":5})", "", 400,
       "invalid_argument"},
      // Values out of range.
      {"zero amount", "POST", "/v1/transfers", R"({"request_id":"r1","from":{A},"to":{B},"amount":0})", "", 400,
       "invalid_argument"},
      {"negative amount", "POST", "/v1/transfers", R"({"request_id":"r2","from":{A},"to":{B},"amount":-5})", "", 400,
       "invalid_argument"},
      {"int64 min amount", "POST", "/v1/transfers",
       R"({"request_id":"r3","from":{A},"to":{B},"amount":-9223372036854775808})", "", 400, "invalid_argument"},
      {"from == to", "POST", "/v1/transfers", R"({"request_id":"r4","from":{A},"to":{A},"amount":5})", "", 400,
       "invalid_argument"},
      {"zero from", "POST", "/v1/transfers", R"({"request_id":"r5","from":0,"to":{B},"amount":5})", "", 400,
       "invalid_argument"},
      {"negative to", "POST", "/v1/transfers", R"({"request_id":"r6","from":{A},"to":-1,"amount":5})", "", 400,
       "invalid_argument"},
      {"from overflows int64", "POST", "/v1/transfers",
       R"({"request_id":"o1","from":9223372036854775808,"to":{B},"amount":5})", "", 400, "invalid_argument"},
      {"to overflows uint64", "POST", "/v1/transfers",
       R"({"request_id":"o2","from":{A},"to":99999999999999999999,"amount":5})", "", 400, "invalid_argument"},
      {"amount overflows int64", "POST", "/v1/transfers",
       R"({"request_id":"o3","from":{A},"to":{B},"amount":9223372036854775808})", "", 400, "invalid_argument"},
      {"amount below int64 min", "POST", "/v1/transfers",
       R"({"request_id":"o4","from":{A},"to":{B},"amount":-9223372036854775809})", "", 400, "invalid_argument"},
      // request_id.
      {"empty request_id", "POST", "/v1/transfers", R"({"request_id":"","from":{A},"to":{B},"amount":5})", "", 400,
       "invalid_argument"},
      {"65-char request_id", "POST", "/v1/transfers",
       R"({"request_id":")" + std::string(65, 'r') + R"(","from":{A},"to":{B},"amount":5})", "", 400,
       "invalid_argument"},
      {"request_id with control char", "POST", "/v1/transfers",
       R"({"request_id":"a\u0001b","from":{A},"to":{B},"amount":5})", "", 400, "invalid_argument"},
      {"request_id with tab", "POST", "/v1/transfers", R"({"request_id":"a\tb","from":{A},"to":{B},"amount":5})", "",
       400, "invalid_argument"},
      {"request_id with newline", "POST", "/v1/transfers", R"({"request_id":"a\nb","from":{A},"to":{B},"amount":5})",
       "", 400, "invalid_argument"},
      {"request_id with DEL", "POST", "/v1/transfers", R"({"request_id":"a\u007fb","from":{A},"to":{B},"amount":5})",
       "", 400, "invalid_argument"},
      {"non-ASCII request_id", "POST", "/v1/transfers", R"({"request_id":"caf\u00e9","from":{A},"to":{B},"amount":5})",
       "", 400, "invalid_argument"},
      // X-Request-Timeout-Ms (on an otherwise valid transfer).
      {"timeout not a number", "POST", "/v1/transfers", ok_body, "X-Request-Timeout-Ms: soon\r\n", 400,
       "invalid_argument"},
      {"timeout zero", "POST", "/v1/transfers", ok_body, "X-Request-Timeout-Ms: 0\r\n", 400, "invalid_argument"},
      {"timeout negative", "POST", "/v1/transfers", ok_body, "X-Request-Timeout-Ms: -100\r\n", 400, "invalid_argument"},
      {"timeout fractional", "POST", "/v1/transfers", ok_body, "X-Request-Timeout-Ms: 1.5\r\n", 400, "invalid_argument"},
      {"timeout empty", "POST", "/v1/transfers", ok_body, "X-Request-Timeout-Ms: \r\n", 400, "invalid_argument"},
      // Accounts.
      {"empty owner", "POST", "/v1/accounts", R"({"owner":"","balance":100})", "", 400, "invalid_argument"},
      {"65-char owner", "POST", "/v1/accounts", R"({"owner":")" + std::string(65, 'o') + R"(","balance":100})", "", 400,
       "invalid_argument"},
      {"65 emoji owner", "POST", "/v1/accounts",
       [] {
         std::string owner;
         for (int i = 0; i < 65; ++i) owner += "\xF0\x9F\x98\x80";
         return json{{"owner", owner}, {"balance", 100}}.dump();
       }(),
       "", 400, "invalid_argument"},
      {"owner with NUL", "POST", "/v1/accounts", R"({"owner":"a\u0000b","balance":100})", "", 400, "invalid_argument"},
      {"owner lone surrogate", "POST", "/v1/accounts", R"({"owner":"a\ud800b","balance":100})", "", 400,
       "invalid_argument"},
      {"missing owner", "POST", "/v1/accounts", R"({"balance":100})", "", 400, "invalid_argument"},
      {"owner as number", "POST", "/v1/accounts", R"({"owner":5,"balance":100})", "", 400, "invalid_argument"},
      {"negative balance", "POST", "/v1/accounts", R"({"owner":"neg","balance":-1})", "", 400, "invalid_argument"},
      {"balance as string", "POST", "/v1/accounts", R"({"owner":"s","balance":"100"})", "", 400, "invalid_argument"},
      {"balance fraction", "POST", "/v1/accounts", R"({"owner":"s","balance":100.5})", "", 400, "invalid_argument"},
      {"balance overflows", "POST", "/v1/accounts", R"({"owner":"s","balance":9223372036854775808})", "", 400,
       "invalid_argument"},
      {"missing balance", "POST", "/v1/accounts", R"({"owner":"s"})", "", 400, "invalid_argument"},
      {"account body is array", "POST", "/v1/accounts", R"([{"owner":"s","balance":1}])", "", 400, "invalid_argument"},
      {"account timeout invalid", "POST", "/v1/accounts", R"({"owner":"t","balance":1})", "X-Request-Timeout-Ms: x\r\n",
       400, "invalid_argument"},
      // Path parameters.
      {"account id overflows", "GET", "/v1/accounts/99999999999999999999", "", "", 400, "invalid_argument"},
      {"account id int64 max + 1", "GET", "/v1/accounts/9223372036854775808", "", "", 400, "invalid_argument"},
      {"account id not a number", "GET", "/v1/accounts/abc", "", "", 400, "invalid_argument"},
      {"account id with sign", "GET", "/v1/accounts/+1", "", "", 400, "invalid_argument"},
      {"unknown account", "GET", "/v1/accounts/9223372036854775807", "", "", 404, "not_found"},
      // Routing.
      {"unknown route", "GET", "/v1/nope", "", "", 404, "not_found"},
      {"unknown POST route", "POST", "/v2/transfers", ok_body, "", 404, "not_found"},
      {"GET on transfers", "GET", "/v1/transfers", "", "", 405, "method_not_allowed"},
      {"DELETE an account", "DELETE", "/v1/accounts/{A}", "", "", 405, "method_not_allowed"},
      {"PUT accounts", "PUT", "/v1/accounts", R"({"owner":"p","balance":1})", "", 405, "method_not_allowed"},
      {"POST healthz", "POST", "/healthz", "", "", 405, "method_not_allowed"},
  };
}

class BadInputTest : public ShopdE2eTest {};

TEST_F(BadInputTest, EveryInvalidRequestGetsExactErrorAndChangesNothing) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  const int64_t b = CreateAccount(*shopd, "bob", 500);
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  const std::string before = DbSnapshot();

  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    const std::string target = WithIds(c.target, a, b);
    const HttpResponse r = Call(*shopd, c.method, target, WithIds(c.body, a, b), c.headers);
    EXPECT_TRUE(IsApiError(r, c.status, c.code)) << c.method << " " << target;
    EXPECT_EQ(r.Header("idempotent-replay"), "");
    EXPECT_EQ(DbSnapshot(), before) << "the request changed the database";
  }
  // The server is still healthy and the accounts untouched.
  EXPECT_EQ(Call(*shopd, "GET", "/healthz").status, 200);
  EXPECT_EQ(Balance(a), 1000);
  EXPECT_EQ(Balance(b), 500);
}

TEST_F(BadInputTest, OversizedBodyGets413AndChangesNothing) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  const int64_t b = CreateAccount(*shopd, "bob", 500);
  const std::string before = DbSnapshot();
  // A valid transfer padded to 2 MB with whitespace (the default limit is 1 MiB).
  std::string body = json{{"request_id", "big-1"}, {"from", a}, {"to", b}, {"amount", 5}}.dump();
  body.insert(1, std::string(2 << 20, ' '));
  const HttpResponse r = Call(*shopd, "POST", "/v1/transfers", body);
  EXPECT_TRUE(IsApiError(r, 413, "payload_too_large"));
  const HttpResponse account = Call(*shopd, "POST", "/v1/accounts",
                                    R"({"owner":")" + std::string(2 << 20, 'x') + R"(","balance":1})");
  EXPECT_TRUE(IsApiError(account, 413, "payload_too_large"));
  EXPECT_EQ(DbSnapshot(), before);
  EXPECT_EQ(Call(*shopd, "GET", "/healthz").status, 200);
}

TEST_F(BadInputTest, UnknownAccountIn404IsRecordedAndReplayed) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  ASSERT_GT(a, 0);
  const int64_t missing = a + 1000;
  const int64_t records_before = QueryInt("SELECT COUNT(*) FROM request_records");

  for (const auto& [rid, from, to] : {std::tuple{std::string("u-to"), a, missing}, std::tuple{std::string("u-from"), missing, a}}) {
    SCOPED_TRACE(rid);
    const HttpResponse first = Transfer(*shopd, rid, from, to, 10);
    EXPECT_TRUE(IsApiError(first, 404, "not_found"));
    EXPECT_EQ(first.Header("idempotent-replay"), "");
    const HttpResponse again = Transfer(*shopd, rid, from, to, 10);
    EXPECT_EQ(again.status, 404);
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.Header("idempotent-replay"), "true");
    // A different body under the same request_id conflicts with the recorded 404.
    EXPECT_TRUE(IsApiError(Transfer(*shopd, rid, from, to, 11), 409, "request_id_conflict"));
    EXPECT_EQ(TransferRows(rid), 0);
  }
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM request_records"), records_before + 2);
  EXPECT_EQ(Balance(a), 1000);
}

// A recorded 404 is the answer for good: the account appearing later changes nothing.
TEST_F(BadInputTest, Recorded404ReplaysAfterAccountAppears) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  ASSERT_GT(a, 0);
  const int64_t missing = a + 1000;
  const HttpResponse first = Transfer(*shopd, "late-1", a, missing, 10);
  ASSERT_TRUE(IsApiError(first, 404, "not_found"));
  // The account appears (created directly, with exactly that id).
  ASSERT_TRUE(ExecAdmin("INSERT INTO accounts (id, owner, balance, version) VALUES (" + std::to_string(missing) +
                        ", 'late', 0, 1)")
                  .ok());
  const std::string before = DbSnapshot();
  const HttpResponse again = Transfer(*shopd, "late-1", a, missing, 10);
  EXPECT_EQ(again.status, 404) << again.body;
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("idempotent-replay"), "true");
  EXPECT_EQ(DbSnapshot(), before);
  EXPECT_EQ(TransferRows("late-1"), 0);
}

TEST_F(BadInputTest, SqlMetacharactersInOwnerAreStoredVerbatim) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  std::string sixty_four_emoji;
  for (int i = 0; i < 64; ++i) sixty_four_emoji += "\xF0\x9F\x8E\x89";  // U+1F389, 4 bytes each.
  const std::vector<std::string> owners = {
      "Robert'); DROP TABLE accounts;--",
      "O'Brien",
      R"(say "hello")",
      R"(back\slash\\ and \' \")",
      "100% _wild_ [card]",
      "emoji \xF0\x9F\x98\x80 \xE2\x82\xAC \xC3\xA9",
      "'; DELETE FROM transfers; SELECT '",
      "x\" OR \"1\"=\"1",
      "`backtick`; DROP DATABASE x",
      "  spaces  ",
      "NULL",
      sixty_four_emoji,
      std::string(64, 'q'),
  };
  for (const std::string& owner : owners) {
    SCOPED_TRACE(owner);
    const HttpResponse created =
        Call(*shopd, "POST", "/v1/accounts", json{{"owner", owner}, {"balance", 42}}.dump());
    ASSERT_EQ(created.status, 201) << created.body;
    const json c = ParseJson(created.body);
    EXPECT_EQ(c.value("owner", ""), owner);
    EXPECT_EQ(c.value("balance", int64_t{-1}), 42);
    EXPECT_EQ(c.value("version", int64_t{-1}), 1);
    const int64_t id = c.value("id", int64_t{0});
    ASSERT_GT(id, 0);

    const HttpResponse got = Call(*shopd, "GET", "/v1/accounts/" + std::to_string(id));
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(ParseJson(got.body), c);

    auto conn = pool().Acquire(Deadline::After(std::chrono::seconds(30)));
    ASSERT_TRUE(conn.ok()) << conn.status();
    auto rows = conn->Query("SELECT owner FROM accounts WHERE id = ?", id);
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].GetString(0).value_or("?"), owner);
  }
  // Every table is still there and holds what it should.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND "
                     "table_name IN ('accounts', 'transfers', 'request_records', 'schema_migrations')"),
            4);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM accounts"), static_cast<int64_t>(owners.size()));
  EXPECT_EQ(Call(*shopd, "GET", "/readyz").status, 200);
}

}  // namespace
}  // namespace lockstep::e2e
