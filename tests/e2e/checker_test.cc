// End-to-end: lockstep-bench drives two shopd processes on one database and checks the
// invariants; and the checker itself catches a database that breaks them.
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/e2e_fixture.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;

constexpr auto kBenchTimeout = std::chrono::seconds(400);

class CheckerTest : public ShopdE2eTest {
 protected:
  // Runs `lockstep-bench transfers` against `urls`; returns the process result.
  ProcessResult RunTransfers(const std::vector<const ShopdProcess*>& shopds, const std::vector<std::string>& extra,
                             const std::string& name) {
    std::vector<std::string> argv = {BenchBinary(), "transfers"};
    for (const ShopdProcess* s : shopds) {
      argv.push_back("--url");
      argv.push_back(s->url());
    }
    argv.insert(argv.end(), {"--mysql", MysqlUrl()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    ProcessResult r = RunProcess(argv, name, kBenchTimeout);
    std::cerr << "lockstep-bench " << name << " exited " << r.exit_code << "; summary: " << r.LastLine() << "\n";
    return r;
  }

  ProcessResult RunVerify(const std::string& manifest, const std::string& name) {
    ProcessResult r = RunProcess({BenchBinary(), "verify", "--manifest", manifest, "--mysql", MysqlUrl()}, name,
                                 kBenchTimeout);
    std::cerr << "lockstep-bench verify (" << name << ") exited " << r.exit_code << "; " << r.LastLine() << "\n";
    return r;
  }

  // Checks a transfers run: exit 0, invariants ok, no 5xx, no replay/duplicate mismatch.
  void ExpectCleanRun(const ProcessResult& r) {
    EXPECT_EQ(r.exit_code, 0) << "stderr tail:\n" << Tail(r.err, 30);
    const json summary = ParseJson(r.LastLine());
    ASSERT_TRUE(summary.is_object()) << r.out;
    EXPECT_EQ(summary.value("invariants", ""), "ok") << summary.dump();
    ASSERT_TRUE(summary.contains("statuses") && summary["statuses"].is_object()) << summary.dump();
    int64_t answered = 0;
    for (const auto& [status, count] : summary["statuses"].items()) {
      EXPECT_LT(std::stoi(status), 500) << count << " answers with status " << status << ": " << summary.dump();
      EXPECT_NE(status, "0") << count << " transport errors";
      answered += count.get<int64_t>();
    }
    EXPECT_GT(answered, 0);
    EXPECT_EQ(summary.value("replay_mismatches", int64_t{-1}), 0);
    EXPECT_EQ(summary.value("duplicate_mismatches", int64_t{-1}), 0);
    EXPECT_TRUE(summary.contains("violations") && summary["violations"].is_array() && summary["violations"].empty())
        << summary.dump();
  }

  // Some request_id the run's client saw answered 200 (from the manifest).
  static std::string AcknowledgedRequest(const std::string& manifest_path) {
    const json m = ParseJson(ReadFile(manifest_path));
    if (!m.is_object()) return "";
    if (!m.contains("answers") || !m["answers"].is_object()) return "";
    for (const auto& [rid, answer] : m["answers"].items()) {
      if (answer.is_array() && answer.size() == 4 && answer[3] == 200) return rid;
    }
    return "";
  }
  static int64_t SomeAccount(const std::string& manifest_path) {
    const json m = ParseJson(ReadFile(manifest_path));
    if (!m.is_object() || !m.contains("initial_balances") || !m["initial_balances"].is_object() ||
        m["initial_balances"].empty()) {
      return 0;
    }
    return std::stoll(m["initial_balances"].begin().key());
  }
};

TEST_F(CheckerTest, TwoProcessesManyAccountsKeepInvariants) {
  ShopdProcess* one = StartShopd();
  ASSERT_NE(one, nullptr);
  ShopdProcess* two = StartShopd();
  ASSERT_NE(two, nullptr);
  const std::string manifest = TestTempDir() + "/spread.json";
  const ProcessResult r = RunTransfers({one, two},
                                       {"--accounts", "1000", "--connections", "64", "--requests", "4000",
                                        "--max-5xx", "0", "--manifest", manifest},
                                       "bench-spread");
  ExpectCleanRun(r);
  // The manifest re-verifies on its own.
  EXPECT_EQ(RunVerify(manifest, "verify-spread").exit_code, 0);
}

TEST_F(CheckerTest, TwoProcessesHotAccountsKeepInvariants) {
  ShopdProcess* one = StartShopd();
  ASSERT_NE(one, nullptr);
  ShopdProcess* two = StartShopd();
  ASSERT_NE(two, nullptr);
  const std::string manifest = TestTempDir() + "/hot.json";
  const ProcessResult r = RunTransfers({one, two},
                                       {"--accounts", "10", "--hot", "10", "--connections", "64", "--requests", "4000",
                                        "--max-5xx", "0", "--manifest", manifest},
                                       "bench-hot");
  ExpectCleanRun(r);
  EXPECT_EQ(RunVerify(manifest, "verify-hot").exit_code, 0);
  // Both processes took part and nothing was left running.
  EXPECT_EQ(Call(*one, "GET", "/readyz").status, 200);
  EXPECT_EQ(Call(*two, "GET", "/readyz").status, 200);
}

// Overload: two workers, 64 connections on 10 hot accounts, a 250 ms deadline per request,
// and admission control with a 20 ms standing-queue target. Requests that would only wait
// are refused at once with 503 unavailable (reason overloaded) instead of queueing, and the
// checker still finds every acknowledged transfer and no money created or lost.
TEST_F(CheckerTest, AdmissionControlShedsUnderOverloadAndLosesNothing) {
  ShopdProcess* shopd = StartShopd({"--worker-threads", "2", "--admission-target-ms", "20",
                                    "--admission-interval-ms", "100"});
  ASSERT_NE(shopd, nullptr);
  const std::string manifest = TestTempDir() + "/overload.json";
  const ProcessResult r = RunTransfers({shopd},
                                       {"--accounts", "10", "--hot", "10", "--connections", "64", "--requests", "3000",
                                        "--timeout-ms", "250", "--max-5xx", "-1", "--manifest", manifest},
                                       "bench-overload");
  EXPECT_EQ(r.exit_code, 0) << "stderr tail:\n" << Tail(r.err, 30);
  const json summary = ParseJson(r.LastLine());
  ASSERT_TRUE(summary.is_object() && summary.contains("statuses")) << r.out;
  EXPECT_EQ(summary.value("invariants", ""), "ok") << summary.dump();
  const json& statuses = summary["statuses"];
  for (const auto& [status, count] : statuses.items()) {
    // Done (200), refused by the business rules (409), shed (503) or past its deadline
    // (504); never a 500 or a transport error.
    EXPECT_TRUE(status == "200" || status == "409" || status == "503" || status == "504")
        << count << " answers with status " << status << ": " << summary.dump();
  }
  ASSERT_TRUE(statuses.contains("503")) << "nothing was shed: " << summary.dump();
  EXPECT_GT(statuses["503"].get<int64_t>(), 0);
  ASSERT_TRUE(statuses.contains("200")) << summary.dump();
  EXPECT_EQ(RunVerify(manifest, "verify-overload").exit_code, 0);
  // The sheds are admission control's (not the queue limit's), and counted per reason.
  const std::string metrics = Call(*shopd, "GET", "/metrics").body;
  int64_t shed = 0;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("shopd_admission_shed_total{", 0) == 0) shed += std::stoll(line.substr(line.rfind(' ') + 1));
  }
  EXPECT_GT(shed, 0) << metrics;
  EXPECT_EQ(Call(*shopd, "GET", "/readyz").status, 200);  // Critical: never shed.
}

TEST_F(CheckerTest, VerifyCatchesCreatedMoney) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const std::string manifest = TestTempDir() + "/run.json";
  ExpectCleanRun(RunTransfers({shopd}, {"--accounts", "20", "--connections", "8", "--requests", "300", "--max-5xx",
                                        "0", "--manifest", manifest},
                              "bench-small"));
  const ProcessResult clean = RunVerify(manifest, "verify-clean");
  EXPECT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_EQ(ParseJson(clean.LastLine()).value("invariants", ""), "ok");

  const int64_t account = SomeAccount(manifest);
  ASSERT_GT(account, 0);
  ASSERT_TRUE(ExecAdmin("UPDATE accounts SET balance = balance + 1 WHERE id = " + std::to_string(account)).ok());
  const ProcessResult broken = RunVerify(manifest, "verify-created-money");
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_NE((broken.out + broken.err).find("money not conserved"), std::string::npos) << broken.out << broken.err;
  EXPECT_EQ(ParseJson(broken.LastLine()).value("invariants", ""), "violated");
}

TEST_F(CheckerTest, VerifyCatchesLostTransferRow) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const std::string manifest = TestTempDir() + "/run.json";
  ExpectCleanRun(RunTransfers({shopd}, {"--accounts", "20", "--connections", "8", "--requests", "300", "--max-5xx",
                                        "0", "--manifest", manifest},
                              "bench-small"));
  ASSERT_EQ(RunVerify(manifest, "verify-clean").exit_code, 0);

  const std::string rid = AcknowledgedRequest(manifest);
  ASSERT_FALSE(rid.empty()) << "no transfer of the run was answered 200";
  auto conn = pool().Acquire(Deadline::After(std::chrono::seconds(30)));
  ASSERT_TRUE(conn.ok()) << conn.status();
  const int64_t sum_before = QueryInt("SELECT CAST(SUM(balance) AS SIGNED) FROM accounts");
  auto deleted = conn->Execute("DELETE FROM transfers WHERE request_id = ?", rid);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  ASSERT_EQ(deleted->affected_rows, 1u);
  // The balances (and so their sum) are untouched: only the row-level checks can see it.
  EXPECT_EQ(QueryInt("SELECT CAST(SUM(balance) AS SIGNED) FROM accounts"), sum_before);

  const ProcessResult broken = RunVerify(manifest, "verify-lost-row");
  const std::string output = broken.out + broken.err;
  EXPECT_EQ(broken.exit_code, 1) << output;
  EXPECT_NE(output.find("acknowledged transfer " + rid + " has no row"), std::string::npos) << output;
  EXPECT_NE(output.find("!= initial + transfer rows"), std::string::npos) << output;
  EXPECT_EQ(output.find("money not conserved"), std::string::npos) << output;
}

}  // namespace
}  // namespace lockstep::e2e
