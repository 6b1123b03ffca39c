// End-to-end: POST /v1/checkouts (TCC over a payments database and the shop database, in
// two databases of the test server so no single transaction covers both) on real shopd
// processes: outcomes, replays and bad input; kill -9 of the coordinating instance at each
// step of the global transaction (recovered by the other instance); a Cancel that reaches
// a branch before its Try (empty rollback, the late Try refused); the payments database
// stalled past the deadline; and lockstep-bench's checker over two instances.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "e2e/e2e_fixture.h"
#include "support/fault_proxy.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Recovery bound of the fault tests (README "Checkout": settled within about this long;
// recovery takes a transaction over after a third of it).
constexpr int64_t kRecoveryMs = 4000;
// The checker's: generous for 64 connections on a loaded 2-core machine, where recovering
// the in-flight checkouts of a killed instance takes seconds.
constexpr int64_t kCheckerRecoveryMs = 20'000;
// The merchant: the first account of each test's fresh payments database.
constexpr int64_t kMerchant = 1;

class CheckoutTest : public ShopdE2eTest {
 protected:
  void SetUp() override {
    ShopdE2eTest::SetUp();
    if (HasFatalFailure()) return;
    payments_db_ = database() + "_pay";
    ASSERT_TRUE(ExecAdmin("CREATE DATABASE `" + payments_db_ + "` CHARACTER SET utf8mb4").ok()) << payments_db_;
  }
  void TearDown() override {
    for (ShopdProcess* s : started_) {
      if (s->running()) s->Stop(30s);
    }
    if (!payments_db_.empty()) {
      EXPECT_TRUE(ExecAdmin("DROP DATABASE IF EXISTS `" + payments_db_ + "`").ok());
    }
    ShopdE2eTest::TearDown();
  }

  std::string PaymentsUrl(int port = 0) const {
    return "mysql://lockstep@127.0.0.1:" + std::to_string(port != 0 ? port : env().mariadb_port) + "/" + payments_db_;
  }
  // A shopd with checkouts on: payments in the second database (through `payments_port`
  // if set, e.g. a FaultProxy), merchant kMerchant, recovery `recovery_ms`.
  ShopdProcess* StartCheckoutShopd(std::vector<std::string> extra = {}, int payments_port = 0,
                                   int64_t recovery_ms = kRecoveryMs) {
    std::vector<std::string> args = {"--payments-mysql", PaymentsUrl(payments_port), "--checkout-merchant-account",
                                     std::to_string(kMerchant), "--checkout-recovery-ms", std::to_string(recovery_ms)};
    args.insert(args.end(), extra.begin(), extra.end());
    ShopdProcess* s = StartShopd(std::move(args));
    if (s != nullptr) started_.push_back(s);
    return s;
  }
  std::string Pay(const std::string& table) const { return "`" + payments_db_ + "`." + table; }

  HttpResponse Checkout(const ShopdProcess& s, const std::string& rid, int64_t account, int64_t product,
                        int64_t quantity) {
    return Call(s, "POST", "/v1/checkouts", CheckoutBody(rid, account, product, quantity));
  }
  static std::string CheckoutBody(const std::string& rid, int64_t account, int64_t product, int64_t quantity) {
    return json{{"request_id", rid}, {"account_id", account}, {"product_id", product}, {"quantity", quantity}}.dump();
  }
  // GET /v1/checkouts?request_id= on `s`: its JSON (null if not 200).
  json CheckoutByRequest(const ShopdProcess& s, const std::string& rid) {
    auto r = TryCall(s, "GET", "/v1/checkouts?request_id=" + rid, {}, {}, 10s);
    if (!r.ok() || r->status != 200) return json();
    return ParseJson(r->body);
  }
  // Awaits the checkout `rid` settled (not trying) as `s` shows it; its JSON.
  json AwaitSettled(const ShopdProcess& s, const std::string& rid) {
    json last;
    const bool settled = AwaitCondition([&] {
      last = CheckoutByRequest(s, rid);
      return last.is_object() && last.value("status", "") != "trying";
    });
    EXPECT_TRUE(settled) << rid << " still " << last.dump();
    return last.is_object() ? last : json::object();
  }
  int64_t Product(const ShopdProcess& s, int64_t price, int64_t stock) {
    const HttpResponse r = Call(s, "POST", "/v1/products",
                                json{{"name", "item"}, {"price", price}, {"stock", stock}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return ParseJson(r.body).value("id", int64_t{0});
  }

  // API.md's checkout invariants on both databases, given the money that went in
  // (`total_money`) and the stock each product started with.
  void ExpectInvariants(int64_t total_money, const std::map<int64_t, int64_t>& initial_stock) {
    // A row follows its settled log row within a recovery round (GET already reads the log).
    EXPECT_TRUE(AwaitCondition([&] { return QueryInt("SELECT COUNT(*) FROM checkouts WHERE status = 'trying'") == 0; }));
    EXPECT_EQ(QueryInt("SELECT CAST(SUM(balance + frozen) AS SIGNED) FROM " + Pay("accounts")), total_money);
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM " + Pay("accounts") + " WHERE frozen <> 0"), 0);
    const int64_t completed_amount =
        QueryInt("SELECT CAST(COALESCE(SUM(amount), 0) AS SIGNED) FROM checkouts WHERE status = 'completed'");
    EXPECT_EQ(QueryInt("SELECT balance FROM " + Pay("accounts") + " WHERE id = " + std::to_string(kMerchant)),
              merchant_start_ + completed_amount);
    for (const auto& [product, stock] : initial_stock) {
      const std::string p = std::to_string(product);
      EXPECT_EQ(QueryInt("SELECT held FROM products WHERE id = " + p), 0) << "product " << p;
      EXPECT_EQ(QueryInt("SELECT stock FROM products WHERE id = " + p) +
                    QueryInt("SELECT CAST(COALESCE(SUM(quantity), 0) AS SIGNED) FROM orders WHERE status = "
                             "'confirmed' AND product_id = " + p),
                stock)
          << "product " << p;
    }
    // One confirmed order per completed checkout (its order id), none for the others.
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM checkouts c JOIN orders o ON o.id = c.order_id AND o.status = "
                       "'confirmed' AND o.request_id = CONCAT('checkout:', c.id) WHERE c.status = 'completed'"),
              QueryInt("SELECT COUNT(*) FROM checkouts WHERE status = 'completed'"));
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM checkouts c JOIN orders o ON o.id = c.order_id WHERE c.status <> "
                       "'completed'"),
              0);
  }

  // Creates the merchant (id kMerchant, balance 0) and one buyer with `balance`.
  int64_t SetUpAccounts(const ShopdProcess& s, int64_t balance) {
    EXPECT_EQ(CreateAccount(s, "merchant", 0), kMerchant);
    merchant_start_ = 0;
    return CreateAccount(s, "buyer", balance);
  }

  std::string payments_db_;
  std::vector<ShopdProcess*> started_;
  int64_t merchant_start_ = 0;
};

TEST_F(CheckoutTest, CompletesRefusesReplaysAndRejectsBadInput) {
  ShopdProcess* s = StartCheckoutShopd();
  ASSERT_NE(s, nullptr);
  const int64_t buyer = SetUpAccounts(*s, 1000);
  const int64_t poor = CreateAccount(*s, "poor", 100);
  const int64_t product = Product(*s, 300, 2);
  // The accounts are in the payments database, not in the shop's.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM accounts"), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM " + Pay("accounts")), 3);

  const HttpResponse ok = Checkout(*s, "c-1", buyer, product, 1);
  ASSERT_EQ(ok.status, 201) << ok.body;
  const json body = ParseJson(ok.body);
  EXPECT_EQ(body.value("status", ""), "completed");
  EXPECT_EQ(body.value("amount", int64_t{0}), 300);
  EXPECT_EQ(body.value("account_id", int64_t{0}), buyer);
  const int64_t order_id = body.value("order_id", int64_t{0});
  ASSERT_GT(order_id, 0);
  EXPECT_EQ(QueryInt("SELECT balance FROM " + Pay("accounts") + " WHERE id = " + std::to_string(buyer)), 700);
  EXPECT_EQ(QueryInt("SELECT balance FROM " + Pay("accounts") + " WHERE id = 1"), 300);
  EXPECT_EQ(QueryInt("SELECT stock FROM products WHERE id = " + std::to_string(product)), 1);
  const HttpResponse order = Call(*s, "GET", "/v1/orders/" + std::to_string(order_id));
  EXPECT_EQ(order.status, 200) << order.body;
  EXPECT_EQ(ParseJson(order.body).value("status", ""), "confirmed");

  // GET by id and by request_id; a replay answers the same; another body is a conflict.
  const HttpResponse by_id = Call(*s, "GET", "/v1/checkouts/" + std::to_string(body.value("id", int64_t{0})));
  EXPECT_EQ(by_id.status, 200);
  EXPECT_EQ(by_id.body, ok.body);
  EXPECT_EQ(CheckoutByRequest(*s, "c-1"), body);
  const HttpResponse replay = Checkout(*s, "c-1", buyer, product, 1);
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, ok.body);
  EXPECT_EQ(replay.Header("idempotent-replay"), "true");
  EXPECT_TRUE(IsApiError(Checkout(*s, "c-1", buyer, product, 2), 409, "request_id_conflict"));

  // Refusals: recorded as cancelled with their reason, nothing held or frozen.
  EXPECT_TRUE(IsApiError(Checkout(*s, "c-2", buyer, product, 2), 409, "out_of_stock"));
  EXPECT_EQ(CheckoutByRequest(*s, "c-2").value("reason", ""), "out_of_stock");
  EXPECT_TRUE(IsApiError(Checkout(*s, "c-3", poor, product, 1), 409, "insufficient_funds"));
  const json refused = CheckoutByRequest(*s, "c-3");
  EXPECT_EQ(refused.value("status", ""), "cancelled");
  EXPECT_EQ(refused.value("reason", ""), "insufficient_funds");
  EXPECT_TRUE(refused.contains("order_id") && refused["order_id"].is_null()) << refused.dump();
  const HttpResponse refused_replay = Checkout(*s, "c-3", poor, product, 1);
  EXPECT_TRUE(IsApiError(refused_replay, 409, "insufficient_funds"));
  EXPECT_EQ(refused_replay.Header("idempotent-replay"), "true");
  EXPECT_EQ(QueryInt("SELECT stock FROM products WHERE id = " + std::to_string(product)), 1);

  // Bad input: nothing frozen, held or recorded.
  const int64_t rows_before = QueryInt("SELECT COUNT(*) FROM checkouts");
  EXPECT_TRUE(IsApiError(Checkout(*s, "b-1", buyer, product, 0), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Checkout(*s, "b-2", buyer, product, 1'000'001), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Checkout(*s, "b-3", 999, product, 1), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Checkout(*s, "b-4", buyer, 999, 1), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Checkout(*s, "b-5", kMerchant, product, 1), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Call(*s, "POST", "/v1/checkouts", R"({"request_id":"b-6","account_id":2})"), 400,
                         "invalid_argument"));
  EXPECT_TRUE(IsApiError(Call(*s, "GET", "/v1/checkouts/999"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(Call(*s, "GET", "/v1/checkouts?request_id=b-1"), 404, "not_found"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM checkouts"), rows_before);
  ExpectInvariants(1100, {{product, 2}});

  const std::string metrics = Call(*s, "GET", "/metrics").body;
  EXPECT_EQ(MetricValue(metrics, "lockstep_tcc_transitions_total", {"state=\"confirmed\""}), 1) << metrics;
  EXPECT_EQ(MetricValue(metrics, "lockstep_tcc_transitions_total", {"state=\"cancelled\""}), 2);
  EXPECT_EQ(MetricValue(metrics, "shopd_checkouts_total", {"outcome=\"completed\""}), 1);
  EXPECT_EQ(MetricValue(metrics, "shopd_checkouts_total", {"outcome=\"refused\""}), 2);
  // out_of_stock stops before the payments Try: its Cancel there is an empty rollback.
  EXPECT_EQ(MetricValue(metrics, "lockstep_tcc_empty_rollbacks_total", {"participant=\"payments\""}), 1);
}

// One case of a coordinator killed at a step: the hook holds the checkout there on a
// victim instance, kill -9 takes it down, the survivor's recovery settles the checkout.
struct CrashCase {
  const char* hook;       // checkout_test_hook of the victim.
  int64_t balance;        // The buyer's (too little -> the payments Try refuses: a cancel).
  const char* expect;     // The settled status.
  const char* reason;     // Its reason ("" when completed).
};

TEST_F(CheckoutTest, KillNineOfTheCoordinatorAtEachStepIsRecoveredByTheOtherInstance) {
  ShopdProcess* survivor = StartCheckoutShopd();
  ASSERT_NE(survivor, nullptr);
  const int64_t buyer = SetUpAccounts(*survivor, 10'000);
  const int64_t poor = CreateAccount(*survivor, "poor", 50);
  const int64_t product = Product(*survivor, 100, 50);
  const std::vector<CrashCase> cases = {
      {"tried:shop", 10'000, "cancelled", "timeout"},          // After the Try on one side.
      {"tried:pay", 10'000, "cancelled", "timeout"},           // After both Tries.
      {"branch_settled:shop", 10'000, "completed", ""},        // After the Confirm on one side:
                                                               // recovery's Confirm there is a duplicate.
      {"branch_settled:shop", 50, "cancelled", "insufficient_funds"},  // After one side's Cancel:
                                                                       // a duplicate Cancel.
  };
  int n = 0;
  for (const CrashCase& c : cases) {
    SCOPED_TRACE(std::string(c.hook) + " balance " + std::to_string(c.balance));
    // The victim's own recovery bound is long: only the survivor recovers.
    ShopdProcess* victim =
        StartCheckoutShopd({"--checkout-test-hook", c.hook, "--checkout-test-hook-ms", "0"}, 0, 60'000);
    ASSERT_NE(victim, nullptr);
    const std::string rid = "k-" + std::to_string(n++);
    const int64_t account = c.balance == 50 ? poor : buyer;
    std::thread client([&, rid, account] {
      // Answered never: the victim dies holding it (the connection breaks).
      (void)TryCall(*victim, "POST", "/v1/checkouts", CheckoutBody(rid, account, product, 1), {}, 120s);
    });
    const bool held = AwaitCondition([&] { return victim->Log().find("checkout test hook: holding") != std::string::npos; });
    EXPECT_TRUE(held) << Tail(victim->Log(), 20);
    ASSERT_EQ(::kill(victim->pid(), SIGKILL), 0);
    client.join();
    victim->Stop(30s);  // Reaps it.
    const json settled = AwaitSettled(*survivor, rid);
    EXPECT_EQ(settled.value("status", ""), c.expect) << settled.dump();
    if (std::string(c.reason).empty()) {
      EXPECT_GT(settled.value("order_id", int64_t{0}), 0) << settled.dump();
    } else {
      EXPECT_EQ(settled.value("reason", ""), c.reason) << settled.dump();
    }
    // A retry of the request now answers the settled outcome.
    const HttpResponse retry = Checkout(*survivor, rid, account, product, 1);
    EXPECT_EQ(retry.status, std::string(c.expect) == "completed" ? 201 : 409) << retry.body;
  }
  ExpectInvariants(10'050, {{product, 50}});
  const std::string metrics = Call(*survivor, "GET", "/metrics").body;
  // Recovered from where each victim left it (the survivor settled all four).
  EXPECT_EQ(MetricValue(metrics, "lockstep_tcc_recoveries_total", {"from=\"trying\""}), 2) << metrics;
  EXPECT_EQ(MetricValue(metrics, "lockstep_tcc_recoveries_total", {"from=\"confirming\""}), 1);
  EXPECT_EQ(MetricValue(metrics, "lockstep_tcc_recoveries_total", {"from=\"cancelling\""}), 1);
}

// An instance that died between inserting the checkouts row and logging the global
// transaction leaves a `trying` row the log never saw (simulated by inserting the row
// directly, as that instance would have, 10 s in the past): a live instance's recovery
// sweep runs it through the same Execute, to completion.
TEST_F(CheckoutTest, ARowTheLogNeverSawIsRunByTheRecoverySweep) {
  ShopdProcess* s = StartCheckoutShopd();
  ASSERT_NE(s, nullptr);
  const int64_t buyer = SetUpAccounts(*s, 1000);
  const int64_t product = Product(*s, 100, 5);
  const int64_t order_id = 1'000'000'000'000;  // Far beyond the sequence's blocks.
  ASSERT_TRUE(ExecAdmin("INSERT INTO checkouts (request_id, request_digest, account_id, product_id, quantity, amount, "
                        "merchant_id, order_id, status, reason, created_at, updated_at) VALUES ('orphan-1', '" +
                        std::to_string(buyer) + ":" + std::to_string(product) + "x2', " + std::to_string(buyer) + ", " +
                        std::to_string(product) + ", 2, 200, 1, " + std::to_string(order_id) +
                        ", 'trying', '', UTC_TIMESTAMP(6) - INTERVAL 10 SECOND, UTC_TIMESTAMP(6) - INTERVAL 10 SECOND)")
                  .ok());
  const json settled = AwaitSettled(*s, "orphan-1");
  EXPECT_EQ(settled.value("status", ""), "completed") << settled.dump();
  EXPECT_EQ(settled.value("order_id", int64_t{0}), order_id);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM orders WHERE id = " + std::to_string(order_id)), 1);
  // The client's retry of that request answers the completed checkout.
  const HttpResponse retry = Checkout(*s, "orphan-1", buyer, product, 2);
  EXPECT_EQ(retry.status, 201) << retry.body;
  EXPECT_EQ(retry.Header("idempotent-replay"), "true");
  ExpectInvariants(1000, {{product, 5}});
}

// Cancel before Try: the instance that runs the checkout holds it after logging, longer than
// the other instance's recovery bound; recovery cancels both branches without any Try
// (empty rollbacks, recorded); when the holder goes on, its Try is refused by the barrier
// (anti-hanging) and the answer is the cancelled outcome. The holder's own recovery bound
// is long, so its deadline still allows the late Try.
TEST_F(CheckoutTest, CancelBeforeTryIsAnEmptyRollbackAndTheLateTryIsRefused) {
  ShopdProcess* recoverer = StartCheckoutShopd({}, 0, 1000);
  ASSERT_NE(recoverer, nullptr);
  const int64_t buyer = SetUpAccounts(*recoverer, 1000);
  const int64_t product = Product(*recoverer, 100, 5);
  ShopdProcess* late = StartCheckoutShopd({"--checkout-test-hook", "logged", "--checkout-test-hook-ms", "4000"}, 0,
                                          60'000);
  ASSERT_NE(late, nullptr);
  const HttpResponse r = Call(*late, "POST", "/v1/checkouts", CheckoutBody("late-1", buyer, product, 1),
                              "X-Request-Timeout-Ms: 30000\r\n");
  EXPECT_TRUE(IsApiError(r, 409, "checkout_cancelled")) << r.body;
  const json settled = CheckoutByRequest(*recoverer, "late-1");
  EXPECT_EQ(settled.value("status", ""), "cancelled");
  EXPECT_EQ(settled.value("reason", ""), "timeout");
  const std::string recovered = Call(*recoverer, "GET", "/metrics").body;
  EXPECT_EQ(MetricValue(recovered, "lockstep_tcc_empty_rollbacks_total", {"participant=\"shop\""}), 1) << recovered;
  EXPECT_EQ(MetricValue(recovered, "lockstep_tcc_empty_rollbacks_total", {"participant=\"payments\""}), 1);
  const std::string held = Call(*late, "GET", "/metrics").body;
  EXPECT_EQ(MetricValue(held, "lockstep_tcc_hanging_tries_refused_total", {"participant=\"shop\""}), 1) << held;
  ExpectInvariants(1000, {{product, 5}});
}

// The payments database stalled (a FaultProxy in front of it, for one instance) past the
// deadline, in the middle of a checkout: the instance holds the checkout after the shop's
// Try (test hook, 1 s) while the test stalls the proxy, so the payments Try then outlives
// the deadline (R/8 = 2 s) and so does the Cancel there: that instance answers 504 with the
// checkout `cancelling`. The other instance's recovery (direct connection, R = 12 s)
// cancels it; nothing stays frozen or held.
TEST_F(CheckoutTest, PaymentsStalledPastTheDeadlineIsCancelledByRecovery) {
  ShopdProcess* direct = StartCheckoutShopd({}, 0, 12'000);
  ASSERT_NE(direct, nullptr);
  const int64_t buyer = SetUpAccounts(*direct, 1000);
  const int64_t product = Product(*direct, 100, 5);
  auto proxy = testing::FaultProxy::Start({.upstream_port = env().mariadb_port});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  ShopdProcess* proxied = StartCheckoutShopd({"--checkout-test-hook", "tried:shop", "--checkout-test-hook-ms", "1000"},
                                             (*proxy)->port(), 16'000);
  ASSERT_NE(proxied, nullptr);

  Result<HttpResponse> answer = Status::Unknown("not answered");
  std::thread client([&] {
    answer = TryCall(*proxied, "POST", "/v1/checkouts", CheckoutBody("s-1", buyer, product, 1),
                     "X-Request-Timeout-Ms: 30000\r\n", 60s);
  });
  const bool held =
      AwaitCondition([&] { return proxied->Log().find("checkout test hook: holding") != std::string::npos; });
  (*proxy)->SetFault(testing::Fault::Stall());
  client.join();
  ASSERT_TRUE(held) << Tail(proxied->Log(), 20);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(IsApiError(*answer, 504, "deadline_exceeded")) << answer->body;
  const json settled = AwaitSettled(*direct, "s-1");
  EXPECT_EQ(settled.value("status", ""), "cancelled") << settled.dump();
  EXPECT_EQ(settled.value("reason", ""), "timeout") << settled.dump();
  (*proxy)->SetFault(testing::Fault::None());
  const HttpResponse retry = Checkout(*proxied, "s-1", buyer, product, 1);
  EXPECT_TRUE(IsApiError(retry, 409, "checkout_cancelled")) << retry.body;
  ExpectInvariants(1000, {{product, 5}});
}

// lockstep-bench's checker: two instances, payments and shop in separate databases, 64
// connections, a mix that runs out of money and of stock; then kill -9 of one instance in
// the middle of a second run. Both runs must settle within the recovery bound and keep every
// invariant. LOCKSTEP_CHECKOUT_CHECK_REQUESTS lengthens the runs (default 1500 each).
TEST_F(CheckoutTest, CheckerOverTwoInstancesWithAKillNine) {
  ShopdProcess* a = StartCheckoutShopd({}, 0, kCheckerRecoveryMs);
  ASSERT_NE(a, nullptr);
  ShopdProcess* b = StartCheckoutShopd({}, 0, kCheckerRecoveryMs);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(CreateAccount(*a, "merchant", 0), kMerchant);
  const char* env_requests = std::getenv("LOCKSTEP_CHECKOUT_CHECK_REQUESTS");
  const std::string requests = env_requests != nullptr ? env_requests : "1500";
  auto bench = [&](const std::string& name, bool both) {
    std::vector<std::string> argv = {BenchBinary(), "checkouts", "--url", a->url()};
    if (both) argv.insert(argv.end(), {"--url", b->url()});
    argv.insert(argv.end(), {"--mysql", MysqlUrl(), "--payments-mysql",
                             "mysql://lockstep:lockstep@127.0.0.1:" + std::to_string(env().mariadb_port) + "/" +
                                 payments_db_,
                             "--merchant", "1", "--connections", "64", "--requests", requests, "--accounts", "40",
                             "--initial-balance", "1000", "--products", "30", "--stock", "15", "--price", "100",
                             "--max-quantity", "3", "--recovery-ms", std::to_string(kCheckerRecoveryMs), "--timeout-ms",
                             "5000", "--settle-timeout", "60"});
    ProcessResult r = RunProcess(argv, name, 400s);
    std::cerr << "lockstep-bench " << name << " exited " << r.exit_code << "; " << r.LastLine() << "\n";
    return r;
  };
  {
    const ProcessResult r = bench("checkouts-1", true);
    EXPECT_EQ(r.exit_code, 0) << Tail(r.err, 30);
    const json summary = ParseJson(r.LastLine());
    ASSERT_TRUE(summary.is_object()) << r.out;
    EXPECT_EQ(summary.value("invariants", ""), "ok") << summary.dump();
    EXPECT_GT(summary.value("completed", int64_t{0}), 0);
    EXPECT_GT(summary.value("insufficient_funds", int64_t{0}), 0) << "the mix must run out of money";
    EXPECT_GT(summary.value("out_of_stock", int64_t{0}), 0) << "the mix must run out of stock";
    EXPECT_EQ(summary.value("replay_mismatches", int64_t{-1}), 0);
    EXPECT_EQ(summary.value("duplicate_mismatches", int64_t{-1}), 0);
  }
  {
    // Second run over both; b is killed once it has taken part (its in-flight checkouts
    // are left at whatever step they were).
    auto answered_by_b = [&]() -> double {
      auto m = TryCall(*b, "GET", "/metrics", {}, {}, 5s);
      if (!m.ok()) return 1e18;
      return MetricValue(m->body, "shopd_checkouts_total", {"outcome=\"completed\""}) +
             MetricValue(m->body, "shopd_checkouts_total", {"outcome=\"refused\""});
    };
    const double before = answered_by_b();
    std::thread killer([&] {
      AwaitCondition([&] { return answered_by_b() >= before + 50; });
      ::kill(b->pid(), SIGKILL);
    });
    const ProcessResult r = bench("checkouts-2", true);
    killer.join();
    // The survivor recovered what the killed instance left in flight.
    const std::string metrics = Call(*a, "GET", "/metrics").body;
    double recovered = 0;
    for (const char* from : {"trying", "confirming", "cancelling"}) {
      recovered += std::max(0.0, MetricValue(metrics, "lockstep_tcc_recoveries_total",
                                             {std::string("from=\"") + from + "\""}));
    }
    EXPECT_GT(recovered, 0) << metrics;
    const json summary = ParseJson(r.LastLine());
    ASSERT_TRUE(summary.is_object()) << r.out;
    EXPECT_EQ(summary.value("invariants", ""), "ok") << summary.dump();
    EXPECT_TRUE(summary.contains("violations") && summary["violations"].empty()) << summary.dump();
  }
}

// The checker can fail: verify-checkouts re-checks a clean run (ok), then finds money that
// stays frozen, and a completed checkout whose order is gone.
TEST_F(CheckoutTest, CheckerCatchesFrozenMoneyAndAMissingOrder) {
  ShopdProcess* s = StartCheckoutShopd();
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(CreateAccount(*s, "merchant", 0), kMerchant);
  const std::string manifest = TestTempDir() + "/checkouts.json";
  const std::string pay_url =
      "mysql://lockstep:lockstep@127.0.0.1:" + std::to_string(env().mariadb_port) + "/" + payments_db_;
  const ProcessResult run = RunProcess(
      {BenchBinary(), "checkouts", "--url", s->url(), "--mysql", MysqlUrl(), "--payments-mysql", pay_url, "--merchant",
       "1", "--connections", "8", "--requests", "200", "--accounts", "5", "--products", "3", "--stock", "20",
       "--recovery-ms", std::to_string(kRecoveryMs), "--manifest", manifest},
      "checkouts-small", 400s);
  ASSERT_EQ(run.exit_code, 0) << Tail(run.err, 20) << run.LastLine();
  auto verify = [&](const std::string& name) {
    const ProcessResult r = RunProcess({BenchBinary(), "verify-checkouts", "--manifest", manifest, "--mysql", MysqlUrl(),
                                        "--payments-mysql", pay_url, "--settle-timeout", "10"},
                                       name, 400s);
    std::cerr << "verify-checkouts (" << name << ") exited " << r.exit_code << "; " << r.LastLine() << "\n";
    return r;
  };
  EXPECT_EQ(verify("clean").exit_code, 0);

  ASSERT_TRUE(ExecAdmin("UPDATE `" + payments_db_ + "`.accounts SET frozen = frozen + 5 ORDER BY id DESC LIMIT 1").ok());
  const ProcessResult frozen = verify("frozen");
  EXPECT_EQ(frozen.exit_code, 1);
  EXPECT_NE(frozen.out.find("frozen"), std::string::npos) << frozen.out;
  EXPECT_NE(frozen.out.find("money not conserved"), std::string::npos) << frozen.out;
  ASSERT_TRUE(ExecAdmin("UPDATE `" + payments_db_ + "`.accounts SET frozen = frozen - 5 ORDER BY id DESC LIMIT 1").ok());
  EXPECT_EQ(verify("restored").exit_code, 0);

  ASSERT_TRUE(ExecAdmin("DELETE FROM orders WHERE request_id LIKE 'checkout:%' LIMIT 1").ok());
  const ProcessResult lost = verify("lost-order");
  EXPECT_EQ(lost.exit_code, 1);
  EXPECT_NE(lost.out.find("has no order"), std::string::npos) << lost.out;
}

}  // namespace
}  // namespace lockstep::e2e
