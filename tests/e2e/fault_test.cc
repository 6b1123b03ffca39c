// End-to-end: a failed dependency gives a fast 503/504 from the real shopd, never a hang, and
// never a partial or doubled effect.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <string>
#include <thread>

#include "e2e/e2e_fixture.h"
#include "support/process_pause.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs `fn` when destroyed (scope guard for restoring a server).
template <typename Fn>
class Finally {
 public:
  explicit Finally(Fn fn) : fn_(std::move(fn)) {}
  ~Finally() { fn_(); }
  Finally(const Finally&) = delete;
  Finally& operator=(const Finally&) = delete;

 private:
  Fn fn_;
};

class FaultTest : public ShopdE2eTest {
 protected:
  // Polls GET `target` until it answers `status` (every 100 ms, up to `timeout`); the last answer.
  HttpResponse AwaitStatus(const ShopdProcess& shopd, const std::string& target, int status,
                           std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    HttpResponse last;
    for (;;) {
      auto r = TryCall(shopd, "GET", target, "", "", std::chrono::seconds(30));
      if (r.ok()) last = *r;
      if ((r.ok() && r->status == status) || Clock::now() >= deadline) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
};

TEST_F(FaultTest, RedisDownMakesReadyz503UntilItIsBack) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  ASSERT_EQ(Call(*shopd, "GET", "/readyz").status, 200);

  Finally restart([] { EXPECT_EQ(testing::RunStackCommand("start-redis 0"), 0); });
  ASSERT_EQ(testing::RunStackCommand("stop-redis 0"), 0);

  const auto start = Clock::now();
  auto down = TryCall(*shopd, "GET", "/readyz", "", "X-Request-Timeout-Ms: 5000\r\n", std::chrono::seconds(60));
  std::cerr << "/readyz with Redis stopped answered after " << SecondsSince(start) << "s\n";
  ASSERT_TRUE(down.ok()) << "no answer from /readyz: " << down.status();
  EXPECT_TRUE(IsApiError(*down, 503, "unavailable"));
  EXPECT_NE(down->Header("retry-after"), "") << "503 must carry Retry-After";
  EXPECT_NE(down->body.find("redis"), std::string::npos) << down->body;
  // Liveness is independent of dependencies.
  EXPECT_EQ(Call(*shopd, "GET", "/healthz").status, 200);

  ASSERT_EQ(testing::RunStackCommand("start-redis 0"), 0);
  const HttpResponse up = AwaitStatus(*shopd, "/readyz", 200, std::chrono::seconds(120));
  EXPECT_EQ(up.status, 200) << up.body;
}

TEST_F(FaultTest, StoppedMariaDbGivesTimelyErrorAndRetryIsExactlyOnce) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const int64_t a = CreateAccount(*shopd, "alice", 1000);
  const int64_t b = CreateAccount(*shopd, "bob", 1000);
  ASSERT_EQ(Transfer(*shopd, "warm", a, b, 1).status, 200);  // Pooled connections exist.
  const int64_t total = QueryInt("SELECT CAST(SUM(balance) AS SIGNED) FROM accounts");

  const std::string pid_file = env().stack_dir + "/mariadb-primary/mariadbd.pid";
  const std::string pid_text = ReadFile(pid_file);
  ASSERT_FALSE(pid_text.empty()) << "no pid in " << pid_file;
  const pid_t mariadb = static_cast<pid_t>(std::stol(pid_text));
  ASSERT_GT(mariadb, 1);

  const std::string body = json{{"request_id", "frozen-1"}, {"from", a}, {"to", b}, {"amount", 100}}.dump();
  {
    Finally resume([mariadb] { ::kill(mariadb, SIGCONT); });
    ASSERT_TRUE(lockstep::testing::StopProcessAndAwait(mariadb)) << "mariadbd did not stop";
    const auto start = Clock::now();
    // Generous client deadline: the assertion is that an answer arrives, not how fast.
    auto r = TryCall(*shopd, "POST", "/v1/transfers", body, "X-Request-Timeout-Ms: 1000\r\n", std::chrono::seconds(120));
    std::cerr << "transfer with MariaDB stopped answered after " << SecondsSince(start) << "s: "
              << (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString()) << "\n";
    ASSERT_TRUE(r.ok()) << "no answer while MariaDB is stopped: " << r.status();
    EXPECT_TRUE(r->status == 503 || r->status == 504) << r->status << " " << r->body;
    EXPECT_TRUE(IsApiError(*r, r->status, r->status == 503 ? "unavailable" : "deadline_exceeded"));
    // Liveness does not depend on MariaDB.
    EXPECT_EQ(Call(*shopd, "GET", "/healthz").status, 200);
  }  // SIGCONT.

  // The retry (same request_id, same body) tells the caller what happened: the transfer
  // ran exactly once, now or before. Transient 503/504 while connections recover are retried.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  HttpResponse retry;
  for (;;) {
    auto r = TryCall(*shopd, "POST", "/v1/transfers", body, "", std::chrono::seconds(60));
    if (r.ok()) retry = *r;
    if ((r.ok() && r->status < 500) || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(ParseJson(retry.body), (json{{"request_id", "frozen-1"},
                                          {"from", {{"id", a}, {"balance", 899}}},
                                          {"to", {{"id", b}, {"balance", 1101}}}}));
  std::cerr << "retry answered with Idempotent-Replay '" << retry.Header("idempotent-replay") << "'\n";
  EXPECT_EQ(TransferRows("frozen-1"), 1);
  EXPECT_EQ(QueryInt("SELECT CAST(SUM(balance) AS SIGNED) FROM accounts"), total);
  EXPECT_EQ(Balance(a), 899);
  EXPECT_EQ(Balance(b), 1101);
  // And a replay from now on is stable.
  const HttpResponse replay = Transfer(*shopd, "frozen-1", a, b, 100);
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.body, retry.body);
  EXPECT_EQ(replay.Header("idempotent-replay"), "true");
  EXPECT_EQ(Call(*shopd, "GET", "/readyz").status, 200);
}

}  // namespace
}  // namespace lockstep::e2e
