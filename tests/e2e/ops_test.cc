// End-to-end: operational endpoints, graceful shutdown and concurrent schema migration of
// the real shopd binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <string>

#include "e2e/e2e_fixture.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;

// promtool from PATH, else the Debian location; "" if absent.
std::string FindPromtool() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  dirs += ":/usr/bin:/usr/local/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/promtool";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

class OpsTest : public ShopdE2eTest {};

TEST_F(OpsTest, HealthReadyAndMetricsPassPromtool) {
  const std::string promtool = FindPromtool();
  // Missing tooling is a broken CI image, not a reason to skip (apt: prometheus).
  ASSERT_FALSE(promtool.empty()) << "promtool not found: apt-get install --no-install-recommends prometheus";

  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const HttpResponse health = Call(*shopd, "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  const HttpResponse ready = Call(*shopd, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;

  // Some traffic first, so counters and histograms have samples.
  const int64_t a = CreateAccount(*shopd, "alice", 100);
  const int64_t b = CreateAccount(*shopd, "bob", 0);
  ASSERT_EQ(Transfer(*shopd, "m-1", a, b, 10).status, 200);
  ASSERT_EQ(Transfer(*shopd, "m-2", a, b, 1000).status, 409);
  ASSERT_EQ(Transfer(*shopd, "m-1", a, b, 10).status, 200);  // Replay.

  const HttpResponse metrics = Call(*shopd, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.Header("content-type").find("text/plain"), std::string::npos) << metrics.Header("content-type");
  for (const char* name : {"shopd_transfers_ok_total 1", "shopd_transfers_rejected_total 1",
                           "shopd_idempotent_replays_total 1", "shopd_mariadb_pool_open", "shopd_mariadb_pool_in_use",
                           "shopd_mariadb_pool_idle", "shopd_redis_pool_open", "shopd_worker_in_flight",
                           "shopd_http_request_duration_seconds_bucket", "shopd_worker_shed_total 0",
                           "shopd_mariadb_pool_acquire_wait_seconds_count", "shopd_mariadb_pool_waits_total",
                           "shopd_redis_call_duration_seconds_count{outcome=\"ok\"}", "shopd_redis_pool_discarded_total",
                           "shopd_reserved_pending", "shopd_cache_l1_hits_total", "shopd_mariadb_breaker_state 0",
                           "shopd_redis_breaker_state 0", "shopd_mariadb_breaker_transitions_total{to=\"open\"} 0",
                           "shopd_redis_breaker_transitions_total{to=\"open\"} 0"}) {
    EXPECT_NE(metrics.body.find(std::string("\n") + name), std::string::npos) << name << " missing in\n" << metrics.body;
  }

  const std::string file = TestTempDir() + "/metrics.txt";
  std::ofstream(file, std::ios::binary) << metrics.body;
  // Exit code 0 only without any problem: promtool's lint findings (e.g. a counter without
  // _total) exit non-zero too, and count as failures here.
  const ProcessResult check = RunProcess({promtool, "check", "metrics"}, "promtool", std::chrono::seconds(60), file);
  EXPECT_EQ(check.exit_code, 0) << "promtool check metrics:\n" << check.out << check.err << "\nmetrics:\n" << metrics.body;
}

TEST_F(OpsTest, SigtermWhileIdleDrainsAndExitsZero) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  ASSERT_EQ(Call(*shopd, "GET", "/readyz").status, 200);
  // A keep-alive connection left open must not hold the shutdown up past the drain.
  HttpClient idle("127.0.0.1", shopd->port());
  ASSERT_TRUE(idle.Send("GET", "/healthz", "", Deadline::After(std::chrono::seconds(30))).ok());

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(shopd->Stop(), 0);
  std::cerr << "shopd stopped after "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << "s\n";
  const std::string log = shopd->Log();
  EXPECT_NE(log.find("draining"), std::string::npos) << log;
  EXPECT_NE(log.find("shopd stopped"), std::string::npos) << log;
  // The port is closed now.
  EXPECT_FALSE(TryCall(*shopd, "GET", "/healthz", "", "", std::chrono::seconds(10)).ok());
}

TEST_F(OpsTest, TwoProcessesMigrateFreshDatabaseOnce) {
  // The test database is empty: both processes race to create the schema.
  ASSERT_EQ(QueryInt("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"), 0);
  ShopdProcess& one = LaunchShopd();
  ShopdProcess& two = LaunchShopd();
  const std::string e1 = one.AwaitListening();
  const std::string e2 = two.AwaitListening();
  ASSERT_EQ(e1, "");
  ASSERT_EQ(e2, "");
  EXPECT_EQ(Call(one, "GET", "/readyz").status, 200);
  EXPECT_EQ(Call(two, "GET", "/readyz").status, 200);

  EXPECT_GE(QueryInt("SELECT COUNT(*) FROM schema_migrations"), 1);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM schema_migrations"),
            QueryInt("SELECT COUNT(DISTINCT version) FROM schema_migrations"));
  EXPECT_EQ(QueryInt("SELECT MIN(version) FROM schema_migrations"), 1);
  EXPECT_EQ(QueryInt("SELECT MAX(version) FROM schema_migrations"),
            QueryInt("SELECT COUNT(*) FROM schema_migrations"));  // 1..N, no gaps.
  // Both serve the same schema.
  const int64_t a = CreateAccount(one, "alice", 100);
  const int64_t b = CreateAccount(two, "bob", 100);
  EXPECT_EQ(Transfer(two, "mig-1", a, b, 10).status, 200);
  EXPECT_EQ(Transfer(one, "mig-1", a, b, 10).Header("idempotent-replay"), "true");
  // Restarting one of them applies nothing twice.
  const int64_t versions = QueryInt("SELECT COUNT(*) FROM schema_migrations");
  EXPECT_EQ(one.Stop(), 0);
  ShopdProcess* again = StartShopd();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM schema_migrations"), versions);
}

}  // namespace
}  // namespace lockstep::e2e
