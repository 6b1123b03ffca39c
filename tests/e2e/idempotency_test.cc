// End-to-end: request_id idempotency of POST /v1/transfers on real shopd processes.
#include <gtest/gtest.h>

#include <future>
#include <latch>
#include <string>

#include "e2e/e2e_fixture.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;

class IdempotencyTest : public ShopdE2eTest {};

TEST_F(IdempotencyTest, SameRequestReplaysSameAnswerAndMovesMoneyOnce) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  const int64_t b = CreateAccount(*shopd, "bob", 0);

  const HttpResponse first = Transfer(*shopd, "t-1", a, b, 100);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.Header("idempotent-replay"), "");
  EXPECT_EQ(ParseJson(first.body), (json{{"request_id", "t-1"},
                                          {"from", {{"id", a}, {"balance", 900}}},
                                          {"to", {{"id", b}, {"balance", 100}}}}));
  for (int i = 0; i < 3; ++i) {
    const HttpResponse again = Transfer(*shopd, "t-1", a, b, 100);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.Header("idempotent-replay"), "true");
  }
  // Another transfer changes the balances; the replay still returns the recorded answer.
  ASSERT_EQ(Transfer(*shopd, "t-2", b, a, 30).status, 200);
  const HttpResponse later = Transfer(*shopd, "t-1", a, b, 100);
  EXPECT_EQ(later.status, 200);
  EXPECT_EQ(later.body, first.body);
  EXPECT_EQ(later.Header("idempotent-replay"), "true");

  EXPECT_EQ(TransferRows("t-1"), 1);
  EXPECT_EQ(Balance(a), 930);
  EXPECT_EQ(Balance(b), 70);
  const json account = ParseJson(Call(*shopd, "GET", "/v1/accounts/" + std::to_string(a)).body);
  EXPECT_EQ(account.value("balance", int64_t{-1}), 930);
  EXPECT_EQ(account.value("version", int64_t{-1}), 3);  // Created, t-1, t-2.
}

TEST_F(IdempotencyTest, RequestIdsCompareByteExactly) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  const int64_t b = CreateAccount(*shopd, "bob", 0);
  // Each differs from "t-1" only in case or trailing/leading space: a new request each time.
  for (const std::string rid : {"t-1", "T-1", "t-1 ", " t-1"}) {
    SCOPED_TRACE("'" + rid + "'");
    const HttpResponse r = Transfer(*shopd, rid, a, b, 10);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Header("idempotent-replay"), "");
    EXPECT_EQ(ParseJson(r.body).value("request_id", ""), rid);
    EXPECT_EQ(TransferRows(rid), 1);
  }
  EXPECT_EQ(Balance(a), 960);
  EXPECT_EQ(Balance(b), 40);
}

TEST_F(IdempotencyTest, SameRequestIdDifferentBodyConflictsAndChangesNothing) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  const int64_t b = CreateAccount(*shopd, "bob", 1000);
  const int64_t c = CreateAccount(*shopd, "carol", 1000);
  ASSERT_EQ(Transfer(*shopd, "c-1", a, b, 100).status, 200);
  const std::string before = DbSnapshot();

  struct Variant {
    const char* name;
    int64_t from, to, amount;
  };
  for (const Variant& v : {Variant{"other amount", a, b, 101}, Variant{"swapped", b, a, 100},
                           Variant{"other to", a, c, 100}, Variant{"other from", c, b, 100}}) {
    SCOPED_TRACE(v.name);
    const HttpResponse r = Transfer(*shopd, "c-1", v.from, v.to, v.amount);
    EXPECT_TRUE(IsApiError(r, 409, "request_id_conflict"));
    EXPECT_EQ(DbSnapshot(), before);
  }
  // The original body still replays.
  const HttpResponse replay = Transfer(*shopd, "c-1", a, b, 100);
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.Header("idempotent-replay"), "true");
  EXPECT_EQ(DbSnapshot(), before);
}

// A request_id that completed (200) stays completed: a repeat whose body would now be
// rejected (the money is gone) must replay the 200, and a different body that would be
// rejected must still be a request_id_conflict, never a fresh 409/404 of its own.
TEST_F(IdempotencyTest, ReplayOfTransferThatDrainedAccountReturnsRecorded200) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 100);
  const int64_t b = CreateAccount(*shopd, "bob", 0);
  const HttpResponse first = Transfer(*shopd, "all-in", a, b, 100);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string before = DbSnapshot();

  const HttpResponse again = Transfer(*shopd, "all-in", a, b, 100);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("idempotent-replay"), "true");
  EXPECT_EQ(DbSnapshot(), before);
}

TEST_F(IdempotencyTest, DifferentBodyThatWouldBeRejectedStillConflicts) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  const int64_t b = CreateAccount(*shopd, "bob", 1000);
  ASSERT_EQ(Transfer(*shopd, "c-1", a, b, 100).status, 200);
  const std::string before = DbSnapshot();
  // Would be 409 insufficient_funds / 404 not_found as new requests.
  EXPECT_TRUE(IsApiError(Transfer(*shopd, "c-1", a, b, 1'000'000), 409, "request_id_conflict"));
  EXPECT_EQ(DbSnapshot(), before);
  EXPECT_TRUE(IsApiError(Transfer(*shopd, "c-1", a, b + 1000, 100), 409, "request_id_conflict"));
  EXPECT_EQ(DbSnapshot(), before);
  // The original still replays as 200.
  const HttpResponse replay = Transfer(*shopd, "c-1", a, b, 100);
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.Header("idempotent-replay"), "true");
}

// A recorded rejection stays the answer even when a different body under the same
// request_id would succeed now.
TEST_F(IdempotencyTest, RecordedRejectionConflictsWithBodyThatWouldSucceed) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 50);
  const int64_t b = CreateAccount(*shopd, "bob", 0);
  ASSERT_TRUE(IsApiError(Transfer(*shopd, "r-1", a, b, 100), 409, "insufficient_funds"));
  const std::string before = DbSnapshot();
  EXPECT_TRUE(IsApiError(Transfer(*shopd, "r-1", a, b, 10), 409, "request_id_conflict"));
  EXPECT_EQ(DbSnapshot(), before);
  EXPECT_EQ(TransferRows("r-1"), 0);
  EXPECT_EQ(Balance(a), 50);
}

TEST_F(IdempotencyTest, RecordedInsufficientFundsReplaysAfterTopUp) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "poor", 50);
  const int64_t b = CreateAccount(*shopd, "payee", 0);
  const int64_t c = CreateAccount(*shopd, "rich", 1000);

  const HttpResponse first = Transfer(*shopd, "x-1", a, b, 100);
  ASSERT_TRUE(IsApiError(first, 409, "insufficient_funds"));
  EXPECT_EQ(first.Header("idempotent-replay"), "");
  EXPECT_EQ(TransferRows("x-1"), 0);

  ASSERT_EQ(Transfer(*shopd, "top-up", c, a, 1000).status, 200);  // Now a could pay.
  const HttpResponse again = Transfer(*shopd, "x-1", a, b, 100);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("idempotent-replay"), "true");
  EXPECT_TRUE(IsApiError(Transfer(*shopd, "x-1", a, b, 99), 409, "request_id_conflict"));

  EXPECT_EQ(TransferRows("x-1"), 0);
  EXPECT_EQ(Balance(a), 1050);
  EXPECT_EQ(Balance(b), 0);
  EXPECT_EQ(Balance(c), 0);
}

TEST_F(IdempotencyTest, ConcurrentDuplicatesOnTwoProcessesHaveOneEffect) {
  ShopdProcess* one = StartShopd();
  ASSERT_NE(one, nullptr);
  ShopdProcess* two = StartShopd();
  ASSERT_NE(two, nullptr);
  const int64_t a = CreateAccount(*one, "alice", 1'000'000);
  const int64_t b = CreateAccount(*two, "bob", 0);
  // Only 25 fit: the last rounds race on an insufficient-funds answer too.
  constexpr int kRounds = 30;
  constexpr int64_t kAmount = 40'000;

  int64_t moved = 0;
  for (int i = 0; i < kRounds; ++i) {
    const std::string rid = "dup-" + std::to_string(i);
    SCOPED_TRACE(rid);
    const std::string body = json{{"request_id", rid}, {"from", a}, {"to", b}, {"amount", kAmount}}.dump();
    // Connected clients and a latch, so both requests leave at the same moment.
    HttpClient c1("127.0.0.1", one->port()), c2("127.0.0.1", two->port());
    const Deadline warm = Deadline::After(std::chrono::seconds(30));
    ASSERT_TRUE(c1.Send("GET", "/healthz", "", warm).ok());
    ASSERT_TRUE(c2.Send("GET", "/healthz", "", warm).ok());
    std::latch go(2);
    auto send = [&](HttpClient& c) {
      go.arrive_and_wait();
      return c.Send("POST", "/v1/transfers", body, Deadline::After(std::chrono::seconds(60)));
    };
    auto f1 = std::async(std::launch::async, send, std::ref(c1));
    auto f2 = std::async(std::launch::async, send, std::ref(c2));
    const auto r1 = f1.get();
    const auto r2 = f2.get();
    ASSERT_TRUE(r1.ok()) << r1.status();
    ASSERT_TRUE(r2.ok()) << r2.status();
    EXPECT_EQ(r1->status, r2->status);
    EXPECT_EQ(r1->body, r2->body);
    EXPECT_TRUE(r1->status == 200 || r1->status == 409) << r1->status << " " << r1->body;
    // Exactly one of the two ran; the other replayed its outcome.
    EXPECT_EQ((r1->Header("idempotent-replay") == "true") + (r2->Header("idempotent-replay") == "true"), 1)
        << "headers: '" << r1->Header("idempotent-replay") << "' '" << r2->Header("idempotent-replay") << "'";
    EXPECT_EQ(TransferRows(rid), r1->status == 200 ? 1 : 0);
    if (r1->status == 200) moved += kAmount;
  }
  EXPECT_EQ(moved, 25 * kAmount);
  EXPECT_EQ(Balance(a), 1'000'000 - moved);
  EXPECT_EQ(Balance(b), moved);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM transfers"), moved / kAmount);
}

}  // namespace
}  // namespace lockstep::e2e
