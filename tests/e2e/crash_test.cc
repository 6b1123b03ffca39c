// End-to-end: acknowledged transfers survive a crash of shopd (kill -9) and a crash of
// MariaDB (SIGKILL + crash recovery, with innodb_flush_log_at_trx_commit=1 and
// sync_binlog=1 as the private stack runs it), checked by lockstep-bench's invariant checker
// over the run's manifest.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "e2e/e2e_fixture.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

class CrashTest : public ShopdE2eTest {
 protected:
  // Polls until `sql` (one integer) reaches `at_least`, or `timeout`; the last value.
  int64_t AwaitCount(const std::string& sql, int64_t at_least, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    int64_t v = -1;
    while (Clock::now() < deadline) {
      auto rows = pool().Acquire(Deadline::After(std::chrono::seconds(5)));
      if (rows.ok()) {
        auto r = rows->Query(sql, Deadline::After(std::chrono::seconds(5)));
        if (r.ok() && !r->empty() && r->begin()->GetInt64(0).ok()) v = *r->begin()->GetInt64(0);
      }
      if (v >= at_least) return v;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return v;
  }

  // Status counts of a finished run (its last stdout line); empty on a parse failure.
  static json Summary(const ProcessResult& r) { return ParseJson(r.LastLine()); }
  static int64_t StatusCount(const json& summary, const std::string& status) {
    if (!summary.contains("statuses") || !summary["statuses"].contains(status)) return 0;
    return summary["statuses"][status].get<int64_t>();
  }
};

TEST_F(CrashTest, ShopdKilledMidRunLosesNoAcknowledgedTransfer) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const std::string manifest = TestTempDir() + "/crash-shopd.json";
  ProcessResult run;
  std::thread bench([&] {
    run = RunProcess({BenchBinary(), "transfers", "--url", shopd->url(), "--mysql", MysqlUrl(), "--accounts", "100",
                      "--connections", "16", "--requests", "200000", "--timeout-ms", "5000", "--manifest", manifest},
                     "bench-crash-shopd", std::chrono::seconds(400));
  });
  // Kill it once it is demonstrably mid-run.
  const int64_t before = AwaitCount("SELECT COUNT(*) FROM transfers", 300, std::chrono::seconds(120));
  EXPECT_GE(before, 300);
  ASSERT_EQ(::kill(shopd->pid(), SIGKILL), 0);
  bench.join();

  std::cerr << "bench exited " << run.exit_code << ": " << run.LastLine() << "\n";
  const json summary = Summary(run);
  ASSERT_TRUE(summary.is_object()) << run.err;
  EXPECT_EQ(run.exit_code, 0) << Tail(run.err, 20);
  EXPECT_EQ(summary.value("invariants", ""), "ok") << summary.dump();
  EXPECT_GT(StatusCount(summary, "200"), 0) << "no transfer acknowledged before the kill";
  EXPECT_GT(StatusCount(summary, "0"), 0) << "the kill did not interrupt the run";
}

TEST_F(CrashTest, MariaDbCrashLosesNoAcknowledgedTransfer) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const std::string manifest = TestTempDir() + "/crash-mariadb.json";
  ProcessResult run;
  std::thread bench([&] {
    run = RunProcess({BenchBinary(), "transfers", "--url", shopd->url(), "--mysql", MysqlUrl(), "--accounts", "100",
                      "--connections", "16", "--duration", "20", "--timeout-ms", "2000", "--manifest", manifest},
                     "bench-crash-mariadb", std::chrono::seconds(400));
  });
  const int64_t before = AwaitCount("SELECT COUNT(*) FROM transfers", 300, std::chrono::seconds(60));
  EXPECT_GE(before, 300);
  {
    struct Restart {  // Always bring MariaDB back, whatever the test does.
      ~Restart() { testing::RunStackCommand("start-mariadb"); }
    } restart;
    ASSERT_EQ(testing::RunStackCommand("kill-mariadb"), 0);
  }
  // Transfers resume after crash recovery (more rows than any that can have been there).
  const int64_t after_kill = AwaitCount("SELECT COUNT(*) FROM transfers", 0, std::chrono::seconds(120));
  const int64_t resumed = AwaitCount("SELECT COUNT(*) FROM transfers", after_kill + 50, std::chrono::seconds(120));
  EXPECT_GE(resumed, after_kill + 50) << "shopd did not recover after the MariaDB restart";
  bench.join();

  std::cerr << "bench exited " << run.exit_code << ": " << run.LastLine() << "\n";
  const json summary = Summary(run);
  ASSERT_TRUE(summary.is_object()) << run.err;
  EXPECT_EQ(run.exit_code, 0) << Tail(run.err, 20);
  EXPECT_EQ(summary.value("invariants", ""), "ok") << summary.dump();
  EXPECT_GT(StatusCount(summary, "200"), 0);
  // shopd stays up through the outage and answers 503/504, never hangs.
  EXPECT_EQ(::kill(shopd->pid(), 0), 0) << "shopd died with MariaDB";
}

}  // namespace
}  // namespace lockstep::e2e
