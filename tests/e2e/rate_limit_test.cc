// End-to-end: shopd's rate limits (API.md "Rate limits and overload") over real shopd
// processes sharing one Redis: accuracy across instances (one with its clock 2 s ahead),
// per-client independence, a 429 that changes nothing, ops routes never limited, SIGHUP
// reload, and the bound while Redis is unreachable.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "e2e/e2e_fixture.h"
#include "support/fault_proxy.h"

namespace lockstep::e2e {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsBetween(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

bool IsWholeNumber(const std::string& s) { return !s.empty() && std::all_of(s.begin(), s.end(), ::isdigit); }

// Counts of one load run.
struct LoadResult {
  int64_t admitted = 0;  // Any answer but 429 (404 included: the gate let it through).
  int64_t limited = 0;   // 429.
  int64_t other = 0;     // Transport errors and 5xx.
  Clock::time_point first_sent;
  Clock::time_point last_sent;
  Clock::time_point last_answered;
  std::string a_429;  // One 429 answer's headers, for the header checks.
  std::string retry_after, limit, remaining, reset;
};

class RateLimitTest : public ShopdE2eTest {
 protected:
  // `threads` closed-loop clients, thread i on shopds[i % n], GET `target` until `duration`
  // passed. Far more is offered than any limit below admits.
  LoadResult Load(const std::vector<ShopdProcess*>& shopds, const std::string& target, int threads,
                  std::chrono::milliseconds duration, const std::string& headers = "") {
    std::atomic<int64_t> admitted{0}, limited{0}, other{0};
    std::mutex mu;
    LoadResult result;
    result.first_sent = Clock::now();
    const Clock::time_point end = result.first_sent + duration;
    std::vector<std::thread> workers;
    std::vector<Clock::time_point> last_sent(threads), last_answered(threads);
    for (int i = 0; i < threads; ++i) {
      workers.emplace_back([&, i] {
        HttpClient client("127.0.0.1", shopds[i % shopds.size()]->port());
        while (Clock::now() < end) {
          last_sent[i] = Clock::now();
          auto r = client.Send("GET", target, "", Deadline::After(std::chrono::seconds(30)), headers);
          last_answered[i] = Clock::now();
          if (!r.ok() || r->status >= 500) {
            other.fetch_add(1);
            std::lock_guard lock(mu);
            ADD_FAILURE() << (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString());
            continue;
          }
          if (r->status != 429) {
            admitted.fetch_add(1);
            continue;
          }
          limited.fetch_add(1);
          std::lock_guard lock(mu);
          if (result.retry_after.empty()) {
            result.retry_after = r->Header("retry-after");
            result.limit = r->Header("ratelimit-limit");
            result.remaining = r->Header("ratelimit-remaining");
            result.reset = r->Header("ratelimit-reset");
            result.a_429 = r->body;
          }
        }
      });
    }
    for (std::thread& t : workers) t.join();
    result.admitted = admitted.load();
    result.limited = limited.load();
    result.other = other.load();
    result.last_sent = *std::max_element(last_sent.begin(), last_sent.end());
    result.last_answered = *std::max_element(last_answered.begin(), last_answered.end());
    return result;
  }

  // Sum over `shopds` of one metric sample.
  double SumMetric(const std::vector<ShopdProcess*>& shopds, const std::string& name,
                   const std::vector<std::string>& labels) {
    double sum = 0;
    for (ShopdProcess* s : shopds) sum += std::max(0.0, MetricValue(Call(*s, "GET", "/metrics").body, name, labels));
    return sum;
  }

};

// spdlog's "[2026-12-07 18:55:01.123]" of the line containing `marker`, as seconds of the
// day (both logs are read the same way, so the time zone cancels); -1 if absent.
double LogTimeOfLine(const std::string& log, const std::string& marker) {
  std::istringstream in(log);
  std::string line;
  static const std::regex kStamp(R"(^\[\d{4}-\d{2}-\d{2} (\d{2}):(\d{2}):(\d{2}\.\d+)\])");
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.find(marker) != std::string::npos && std::regex_search(line, m, kStamp)) {
      return std::stoi(m[1]) * 3600 + std::stoi(m[2]) * 60 + std::stod(m[3]);
    }
  }
  return -1;
}

TEST_F(RateLimitTest, ThreeInstancesShareOneGroupLimitAndAClockTwoSecondsAheadChangesNothing) {
  constexpr double kRate = 40;
  constexpr int64_t kBurst = 8;
  const std::vector<std::string> args = {"--rate-limit", "accounts=40:8"};
  ShopdProcess* a = StartShopd(args);
  ASSERT_NE(a, nullptr);
  ShopdProcess* b = StartShopd(args);
  ASSERT_NE(b, nullptr);
  // The third one's clocks (wall and monotonic) run 2 s ahead (libfaketime, Debian `faketime`).
  ShopdProcess* skewed = StartShopd(Launch{
      .extra_args = args,
      .extra_env = {"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "FAKETIME=+2s",
                    "FAKETIME_DONT_RESET=1"}});
  ASSERT_NE(skewed, nullptr);
  const double normal_start = LogTimeOfLine(b->Log(), "shopd listening on");
  const double skewed_start = LogTimeOfLine(skewed->Log(), "shopd listening on");
  ASSERT_GT(normal_start, 0);
  EXPECT_GT(skewed_start - normal_start, 1.5) << "faketime did not move the third instance's clock";

  const std::vector<ShopdProcess*> all = {a, b, skewed};
  const LoadResult r = Load(all, "/v1/accounts/999999", 12, std::chrono::seconds(5));
  const double t_upper = SecondsBetween(r.first_sent, r.last_answered);
  const double t_offered = SecondsBetween(r.first_sent, r.last_sent);
  std::cerr << "admitted " << r.admitted << " limited " << r.limited << " in " << t_upper << " s; bound ["
            << 0.95 * kRate * t_offered << ", " << kRate * t_upper + kBurst << "]\n";
  EXPECT_EQ(r.other, 0);
  EXPECT_GT(r.limited, 3 * r.admitted) << "the run must offer well beyond the limit";
  EXPECT_LE(r.admitted, kRate * t_upper + kBurst);
  EXPECT_GE(r.admitted, 0.95 * kRate * t_offered);
  // The 429s' headers.
  EXPECT_TRUE(IsWholeNumber(r.retry_after) && std::stoi(r.retry_after) >= 1) << r.retry_after;
  EXPECT_EQ(r.limit, "40");
  EXPECT_TRUE(IsWholeNumber(r.remaining)) << r.remaining;
  EXPECT_TRUE(IsWholeNumber(r.reset)) << r.reset;
  EXPECT_NE(r.a_429.find("rate_limited"), std::string::npos) << r.a_429;
  // Every instance counted what it decided, all of it in Redis.
  EXPECT_EQ(SumMetric(all, "shopd_rate_limit_decisions_total",
                      {"group=\"accounts\"", "scope=\"group\"", "result=\"admitted\""}),
            static_cast<double>(r.admitted));
  EXPECT_EQ(SumMetric(all, "shopd_rate_limit_local_decisions_total", {"group=\"accounts\""}), 0);
}

TEST_F(RateLimitTest, PerClientLimitsAreIndependentAndARefusalChangesNothing) {
  // One transfer per 10 s per client after a burst of 2.
  ShopdProcess* shopd = StartShopd({"--client-rate-limit", "transfers=0.1:2"});
  ASSERT_NE(shopd, nullptr);
  const int64_t from = CreateAccount(*shopd, "alice", 1000);
  const int64_t to = CreateAccount(*shopd, "bob", 0);
  auto transfer = [&](const std::string& client, const std::string& request_id) {
    const std::string body = R"({"request_id":")" + request_id + R"(","from":)" + std::to_string(from) +
                             R"(,"to":)" + std::to_string(to) + R"(,"amount":1})";
    return Call(*shopd, "POST", "/v1/transfers", body, client.empty() ? "" : "X-Client-Id: " + client + "\r\n");
  };
  EXPECT_EQ(transfer("alice", "t-1").status, 200);
  EXPECT_EQ(transfer("alice", "t-2").status, 200);
  const std::string before = DbSnapshot();
  const HttpResponse refused = transfer("alice", "t-3");
  EXPECT_TRUE(IsApiError(refused, 429, "rate_limited")) << refused.body;
  const std::string retry_after = refused.Header("retry-after");
  EXPECT_TRUE(IsWholeNumber(retry_after) && std::stoi(retry_after) >= 1 && std::stoi(retry_after) <= 11)
      << retry_after;
  EXPECT_EQ(refused.Header("ratelimit-limit"), "1");  // 0.1/s, rounded up.
  EXPECT_EQ(refused.Header("ratelimit-remaining"), "0");
  EXPECT_NE(refused.body.find("alice"), std::string::npos) << refused.body;
  // Nothing changed, and the request_id was not recorded.
  EXPECT_EQ(DbSnapshot(), before);
  EXPECT_EQ(TransferRows("t-3"), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM request_records WHERE request_id = 't-3'"), 0);
  // Other clients have their own budgets; no header means the client "anonymous".
  EXPECT_EQ(transfer("carol", "t-4").status, 200);
  EXPECT_EQ(transfer("", "t-5").status, 200);
  EXPECT_EQ(transfer("", "t-6").status, 200);
  EXPECT_EQ(transfer("", "t-7").status, 429);
  EXPECT_EQ(transfer("anonymous", "t-8").status, 429);  // The same client.
  // Groups without a limit are not limited.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Call(*shopd, "GET", "/v1/accounts/" + std::to_string(from), "", "X-Client-Id: alice\r\n").status, 200);
  // A malformed X-Client-Id is refused on every limited route, before anything happens.
  EXPECT_TRUE(IsApiError(transfer(std::string(65, 'x'), "t-9"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(transfer("caf\xc3\xa9", "t-10"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Call(*shopd, "GET", "/v1/accounts/1", "", "X-Client-Id: \x7f\r\n"), 400, "invalid_argument"));
  EXPECT_EQ(transfer(std::string(64, 'x'), "t-11").status, 200);
  EXPECT_EQ(TransferRows("t-9") + TransferRows("t-10"), 0);
}

TEST_F(RateLimitTest, OpsRoutesAreNeverLimitedAndSighupReloadsTheLimits) {
  const std::string config = TestTempDir() + "/shopd.toml";
  std::ofstream(config) << "rate_limit = [\"all=0.01:1\"]\n";
  ShopdProcess* shopd = StartShopd({"--config", config});
  ASSERT_NE(shopd, nullptr);
  EXPECT_EQ(Call(*shopd, "GET", "/v1/accounts/999999").status, 404);  // The one token.
  EXPECT_EQ(Call(*shopd, "GET", "/v1/accounts/999999").status, 429);
  EXPECT_EQ(Call(*shopd, "POST", "/v1/products", R"({"name":"x","price":1,"stock":1})").status, 429);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Call(*shopd, "GET", "/healthz").status, 200);
    EXPECT_EQ(Call(*shopd, "GET", "/readyz").status, 200);
    EXPECT_EQ(Call(*shopd, "GET", "/metrics").status, 200);
  }
  auto rate = [&] {
    return MetricValue(Call(*shopd, "GET", "/metrics").body, "shopd_rate_limit_rate", {"group=\"all\"", "scope=\"group\""});
  };
  EXPECT_EQ(rate(), 0.01);

  // A looser limit without a restart.
  std::ofstream(config) << "rate_limit = [\"all=1000:1000\"]\n";
  ASSERT_EQ(::kill(shopd->pid(), SIGHUP), 0);
  EXPECT_TRUE(AwaitCondition([&] { return Call(*shopd, "GET", "/v1/accounts/999999").status == 404; }))
      << "the reloaded limit was not applied";
  EXPECT_EQ(rate(), 1000);
  EXPECT_NE(shopd->Log().find("SIGHUP: rate limits now: all=1000:1000"), std::string::npos);

  // A bad file keeps the old limits and says why.
  std::ofstream(config) << "rate_limit = [\"all=abc\"]\n";
  ASSERT_EQ(::kill(shopd->pid(), SIGHUP), 0);
  EXPECT_TRUE(AwaitCondition([&] { return shopd->Log().find("SIGHUP: config not reloaded") != std::string::npos; }));
  EXPECT_NE(shopd->Log().find("rate 'abc' is not a positive number"), std::string::npos);
  EXPECT_EQ(rate(), 1000);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Call(*shopd, "GET", "/v1/accounts/999999").status, 404);

  // Removing the key removes the limit.
  std::ofstream(config) << "log_level = \"info\"\n";
  ASSERT_EQ(::kill(shopd->pid(), SIGHUP), 0);
  EXPECT_TRUE(AwaitCondition([&] { return shopd->Log().find("SIGHUP: rate limits now: none") != std::string::npos; }));
  EXPECT_EQ(rate(), 0);
  EXPECT_EQ(shopd->Stop(), 0);
}

TEST_F(RateLimitTest, MalformedLimitsStopStartupNamingTheFlag) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--rate-limit", "orders=abc"}, "--rate-limit: 'orders=abc': rate 'abc' is not a positive number"},
      {{"--rate-limit", "shipping=5"}, "--rate-limit: 'shipping=5': unknown group 'shipping'"},
      {{"--rate-limit", "orders=0"}, "rate must be > 0"},
      {{"--client-rate-limit", "orders=5:-1"}, "--client-rate-limit: 'orders=5:-1': burst must be >= 1"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> argv = {ShopdBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = RunProcess(argv, "bad-limit", std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 2) << args[1];
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
}

TEST_F(RateLimitTest, RedisUnreachableDecidesLocallyWithinTheBoundAndPreciseLimitingResumes) {
  constexpr double kRate = 40;
  constexpr int64_t kBurst = 8;
  auto proxy = testing::FaultProxy::Start({.upstream_port = env().redis_ports.front()});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const Launch launch{.extra_args = {"--rate-limit", "accounts=40:8"}, .redis_port = (*proxy)->port()};
  ShopdProcess* a = StartShopd(launch);
  ASSERT_NE(a, nullptr);
  ShopdProcess* b = StartShopd(launch);
  ASSERT_NE(b, nullptr);
  const std::vector<ShopdProcess*> both = {a, b};
  const std::vector<std::string> labels = {"group=\"accounts\"", "scope=\"group\""};
  // Both count each other (N = 2) before the outage.
  ASSERT_TRUE(AwaitCondition([&] {
    return MetricValue(Call(*a, "GET", "/metrics").body, "shopd_rate_limit_instances", labels) == 2 &&
           MetricValue(Call(*b, "GET", "/metrics").body, "shopd_rate_limit_instances", labels) == 2;
  }));

  // Outage: every Redis connection is reset, new ones too.
  (*proxy)->SetFault(testing::Fault::Reset());
  const LoadResult down = Load(both, "/v1/accounts/999999", 8, std::chrono::seconds(4));
  const double t_down = SecondsBetween(down.first_sent, down.last_answered);
  // Each instance admits rate/N with burst max(1, burst/N): total <= rate*t + max(burst, M).
  const double bound = kRate * t_down + std::max<double>(kBurst, 2);
  std::cerr << "Redis unreachable: admitted " << down.admitted << " in " << t_down << " s (bound " << bound << ")\n";
  EXPECT_EQ(down.other, 0);
  EXPECT_LE(down.admitted, bound);
  EXPECT_GT(down.admitted, 0);
  EXPECT_EQ(SumMetric(both, "shopd_rate_limit_fallback_active", labels), 2);
  EXPECT_GE(SumMetric(both, "shopd_rate_limit_local_decisions_total", labels), static_cast<double>(down.admitted));

  // Redis back: decisions return to Redis after the breakers' open time and a probe — the
  // limiter's own and the Redis client's (while the client's is half-open, a decision
  // beside its one probe is refused and decided locally).
  (*proxy)->SetFault(testing::Fault::None());
  ASSERT_TRUE(AwaitCondition([&] {
    Call(*a, "GET", "/v1/accounts/999999");  // Decisions drive the breakers' probes.
    Call(*b, "GET", "/v1/accounts/999999");
    return SumMetric(both, "shopd_rate_limit_fallback_active", labels) == 0 &&
           MetricValue(Call(*a, "GET", "/metrics").body, "shopd_redis_breaker_state", {}) == 0 &&
           MetricValue(Call(*b, "GET", "/metrics").body, "shopd_redis_breaker_state", {}) == 0;
  })) << "still deciding locally after Redis came back";
  const double local_before = SumMetric(both, "shopd_rate_limit_local_decisions_total", labels);
  const LoadResult up = Load(both, "/v1/accounts/999999", 8, std::chrono::seconds(3));
  const double t_up = SecondsBetween(up.first_sent, up.last_answered);
  std::cerr << "Redis back: admitted " << up.admitted << " in " << t_up << " s\n";
  EXPECT_LE(up.admitted, kRate * t_up + kBurst);
  EXPECT_GE(up.admitted, 0.95 * kRate * SecondsBetween(up.first_sent, up.last_sent));
  EXPECT_EQ(SumMetric(both, "shopd_rate_limit_local_decisions_total", labels), local_before);
}

}  // namespace
}  // namespace lockstep::e2e
