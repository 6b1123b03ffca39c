// End-to-end: the circuit breakers around MariaDB and Redis in a real shopd. shopd talks to
// the test servers through an in-process FaultProxy (only this test's connections are
// made sick; the shared servers stay healthy), and the test reads the breakers in /metrics.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/e2e_fixture.h"
#include "support/fault_proxy.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;
using testing::Fault;
using testing::FaultProxy;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The value of the sample `name` (with its labels, e.g. `x_total{to="open"}`) in the
// Prometheus text `metrics`; -1 if absent.
double Metric(const std::string& metrics, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = metrics.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(metrics.c_str() + at + key.size(), nullptr);
}

class BreakerE2eTest : public ShopdE2eTest {
 protected:
  double MetricOf(const ShopdProcess& shopd, const std::string& name) {
    auto r = TryCall(shopd, "GET", "/metrics", "", "", 30s);
    return r.ok() && r->status == 200 ? Metric(r->body, name) : -1;
  }
  // Polls /metrics until `name` >= `at_least` (up to `timeout`); true if it got there.
  bool AwaitMetric(const ShopdProcess& shopd, const std::string& name, double at_least, Clock::duration timeout) {
    const auto until = Clock::now() + timeout;
    while (MetricOf(shopd, name) < at_least) {
      if (Clock::now() >= until) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
  // Sends `count` copies of one request at once (one thread and connection each); their answers.
  std::vector<Result<HttpResponse>> Burst(const ShopdProcess& shopd, int count, const std::string& target,
                                          const std::string& headers) {
    std::vector<Result<HttpResponse>> answers(count, Status::Unavailable("not sent"));
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i) {
      threads.emplace_back([&, i] { answers[i] = TryCall(shopd, "GET", target, "", headers, 60s); });
    }
    for (std::thread& t : threads) t.join();
    return answers;
  }
};

// MariaDB stalled for 5 s: what needs no MariaDB keeps answering, MariaDB routes get a
// fast 503 once the breaker is open, the breaker opens and closes, MariaDB routes recover,
// and no acknowledged write is lost or doubled.
TEST_F(BreakerE2eTest, MariaDbStallOpensTheBreakerAndOnlyMariaDbRoutesFailFast) {
  auto started = FaultProxy::Start({.upstream_port = env().mariadb_port});
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<FaultProxy> proxy = std::move(started).value();
  ShopdProcess* shopd = StartShopd(Launch{.mariadb_port = proxy->port()});
  ASSERT_NE(shopd, nullptr);

  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  const int64_t b = CreateAccount(*shopd, "bob", 1000);
  ASSERT_EQ(Transfer(*shopd, "before", a, b, 10).status, 200);
  const int64_t product = CreateProduct(*shopd, 5, "batched");
  const std::string product_path = "/v1/products/" + std::to_string(product);
  ASSERT_EQ(Call(*shopd, "GET", product_path).status, 200);  // Loaded: now in L1 and L2.
  const std::string account_path = "/v1/accounts/" + std::to_string(a);
  EXPECT_EQ(MetricOf(*shopd, "shopd_mariadb_breaker_state"), 0);
  const double opened_before = MetricOf(*shopd, "shopd_mariadb_breaker_transitions_total{to=\"open\"}");
  EXPECT_EQ(opened_before, 0);

  const auto stalled = Clock::now();
  proxy->SetFault(Fault::Stall());
  struct Heal {
    FaultProxy* proxy;
    ~Heal() { proxy->SetFault(Fault::None()); }  // Also when an assertion returns early.
  } heal{proxy.get()};

  // Bursts of MariaDB reads with 1 s deadlines fail for the server's sake until the breaker
  // opens (the successes before the stall leave its 5 s window meanwhile).
  const auto open_by = Clock::now() + 60s;
  while (MetricOf(*shopd, "shopd_mariadb_breaker_transitions_total{to=\"open\"}") < 1) {
    ASSERT_LT(Clock::now(), open_by) << "the MariaDB breaker never opened";
    for (const auto& r : Burst(*shopd, 16, account_path, "X-Request-Timeout-Ms: 1000\r\n")) {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(r->status == 503 || r->status == 504) << r->status << " " << r->body;
    }
  }
  const auto opened = Clock::now();
  std::cerr << "MariaDB breaker opened " << Seconds(opened - stalled) << " s into the stall\n";

  // MariaDB routes with a 10 s deadline, sent at once from threads: refused at once (503 +
  // Retry-After), except at most the one probe per second the half-open breaker lets
  // through (stuck until the stall ends).
  struct Answer {
    Result<HttpResponse> response = Status::Unavailable("not sent");
    double seconds = 0;
  };
  constexpr int kWrites = 4;
  std::vector<Answer> answers(2 * kWrites);
  std::vector<std::thread> senders;
  for (int i = 0; i < 2 * kWrites; ++i) {
    senders.emplace_back([&, i] {
      const auto sent = Clock::now();
      answers[i].response =
          i < kWrites ? TryCall(*shopd, "POST", "/v1/transfers",
                                json{{"request_id", "during-" + std::to_string(i)}, {"from", a}, {"to", b}, {"amount", 5}}
                                    .dump(),
                                "X-Request-Timeout-Ms: 10000\r\n", 60s)
                      : TryCall(*shopd, "GET", account_path, "", "X-Request-Timeout-Ms: 10000\r\n", 60s);
      answers[i].seconds = Seconds(Clock::now() - sent);
    });
  }

  // Meanwhile what needs no MariaDB keeps answering: liveness, metrics, a cached product.
  EXPECT_EQ(Call(*shopd, "GET", "/healthz").status, 200);
  const HttpResponse cached = Call(*shopd, "GET", product_path);
  EXPECT_EQ(cached.status, 200) << cached.body;
  EXPECT_GE(MetricOf(*shopd, "shopd_mariadb_breaker_state"), 1) << "open (1) or half-open (2)";
  EXPECT_EQ(Call(*shopd, "GET", "/readyz").status, 503) << "not ready while MariaDB is unusable";

  // The fault lasts 5 s (longer only if the breaker took that long to open).
  std::this_thread::sleep_until(std::max(stalled + 5s, opened + 2s));
  proxy->SetFault(Fault::None());
  const auto healed_at = Clock::now();
  std::cerr << "MariaDB stalled for " << Seconds(healed_at - stalled) << " s\n";
  for (std::thread& t : senders) t.join();
  int fast = 0;
  double slowest_refusal = 0;
  for (const Answer& answer : answers) {
    ASSERT_TRUE(answer.response.ok()) << answer.response.status();
    const HttpResponse& r = *answer.response;
    if (r.status != 503) continue;  // A probe: answered after the stall (200) or at its deadline (504).
    EXPECT_TRUE(IsApiError(r, 503, "unavailable"));
    EXPECT_EQ(r.Header("retry-after"), "1");
    EXPECT_NE(r.body.find("circuit"), std::string::npos) << r.body;
    EXPECT_LT(answer.seconds, 5) << "a refusal must not wait for the 10 s deadline";
    slowest_refusal = std::max(slowest_refusal, answer.seconds);
    ++fast;
  }
  std::cerr << fast << " of " << answers.size() << " MariaDB requests (10 s deadline) refused by the breaker, "
            << "the slowest refusal after " << slowest_refusal * 1000 << " ms\n";
  EXPECT_GE(fast, kWrites);

  // Recovery: a MariaDB route answers again within a bounded time.
  HttpResponse recovered;
  const auto until = Clock::now() + 60s;
  for (;;) {
    auto r = TryCall(*shopd, "GET", account_path, "", "", 30s);
    if (r.ok()) recovered = *r;
    if ((r.ok() && r->status == 200) || Clock::now() >= until) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(recovered.status, 200) << recovered.body;
  std::cerr << "MariaDB route answered 200 again " << Seconds(Clock::now() - healed_at) * 1000
            << " ms after the stall ended\n";
  ASSERT_TRUE(AwaitMetric(*shopd, "shopd_mariadb_breaker_transitions_total{to=\"closed\"}", 1, 30s));
  EXPECT_EQ(MetricOf(*shopd, "shopd_mariadb_breaker_state"), 0);
  EXPECT_GE(MetricOf(*shopd, "shopd_mariadb_breaker_transitions_total{to=\"half_open\"}"), 1);

  // Nothing acknowledged lost or doubled: each transfer sent during the stall runs once now
  // (or replays if it ran), the one before is there, money is conserved.
  for (int i = 0; i < kWrites; ++i) {
    const HttpResponse retry = Transfer(*shopd, "during-" + std::to_string(i), a, b, 5);
    ASSERT_EQ(retry.status, 200) << retry.body;
    EXPECT_EQ(TransferRows("during-" + std::to_string(i)), 1);
  }
  EXPECT_EQ(TransferRows("before"), 1);
  EXPECT_EQ(Balance(a), 1000 - 10 - 5 * kWrites);
  EXPECT_EQ(Balance(b), 1000 + 10 + 5 * kWrites);
  EXPECT_EQ(Call(*shopd, "GET", "/readyz").status, 200);
}

// Redis 200 ms slower each way (its calls outlive the cache's 250 ms budget): transfers and
// account reads, which need no Redis, keep working, and every acknowledged one is in MariaDB.
TEST_F(BreakerE2eTest, RedisDelayLeavesRoutesWithoutRedisWorking) {
  auto started = FaultProxy::Start({.upstream_port = env().redis_ports.front()});
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<FaultProxy> proxy = std::move(started).value();
  ShopdProcess* shopd = StartShopd(Launch{.redis_port = proxy->port()});
  ASSERT_NE(shopd, nullptr);
  // Enough for every transfer of the 3 s loop however fast the machine (1,000 ran out on an idle one).
  constexpr int64_t kFunds = 1'000'000;
  const int64_t a = CreateAccount(*shopd, "alice", kFunds);
  const int64_t b = CreateAccount(*shopd, "bob", 1000);

  proxy->SetFault(Fault::Delay(200ms));
  const auto start = Clock::now();
  int ok = 0;
  int sent = 0;
  // At least 20 of each, and for at least 3 s (the cache's Redis calls keep failing meanwhile).
  for (int i = 0; i < 20 || Clock::now() < start + 3s; ++i, ++sent) {
    const HttpResponse t = Transfer(*shopd, "slow-redis-" + std::to_string(i), a, b, 1);
    EXPECT_EQ(t.status, 200) << t.body;
    if (t.status == 200) ++ok;
    const HttpResponse read = Call(*shopd, "GET", "/v1/accounts/" + std::to_string(b));
    EXPECT_EQ(read.status, 200) << read.body;
  }
  std::cerr << ok << " of " << sent << " transfers + " << sent << " account reads with Redis delayed 200 ms took "
            << Seconds(Clock::now() - start) << " s; Redis breaker state "
            << MetricOf(*shopd, "shopd_redis_breaker_state") << ", opened "
            << MetricOf(*shopd, "shopd_redis_breaker_transitions_total{to=\"open\"}") << " times\n";
  EXPECT_EQ(Call(*shopd, "GET", "/healthz").status, 200);
  proxy->SetFault(Fault::None());

  EXPECT_EQ(ok, sent);
  for (int i = 0; i < sent; ++i) EXPECT_EQ(TransferRows("slow-redis-" + std::to_string(i)), 1) << i;
  EXPECT_EQ(Balance(a), kFunds - ok);
  EXPECT_EQ(Balance(b), 1000 + ok);
}

}  // namespace
}  // namespace lockstep::e2e
