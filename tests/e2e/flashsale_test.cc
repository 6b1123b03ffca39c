// End-to-end: a flash sale (one product, little stock, many buyers) through two shopd
// processes per stock mode, checked by lockstep-bench flashsale (which, for `reserved`,
// first waits until every pending order is persisted); and the checker catches a
// database that breaks the stock invariant.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "e2e/e2e_fixture.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;

constexpr auto kBenchTimeout = std::chrono::seconds(400);

// The value of an unlabelled counter in Prometheus text; -1 if absent.
int64_t Counter(const std::string& metrics, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = metrics.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(metrics.substr(at + key.size()));
}

class FlashsaleTest : public ShopdE2eTest, public ::testing::WithParamInterface<std::string> {
 protected:
  ProcessResult RunFlashsale(const std::vector<const ShopdProcess*>& shopds, const std::vector<std::string>& extra,
                             const std::string& name) {
    std::vector<std::string> argv = {BenchBinary(), "flashsale"};
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
    ProcessResult r = RunProcess({BenchBinary(), "verify-flashsale", "--manifest", manifest, "--mysql", MysqlUrl()},
                                 name, kBenchTimeout);
    std::cerr << "lockstep-bench verify-flashsale (" << name << ") exited " << r.exit_code << "; " << r.LastLine()
              << "\n";
    return r;
  }
};

TEST_P(FlashsaleTest, TwoProcessesSellExactlyTheStock) {
  ShopdProcess* one = StartShopd();
  ASSERT_NE(one, nullptr);
  ShopdProcess* two = StartShopd();
  ASSERT_NE(two, nullptr);
  const std::string manifest = TestTempDir() + "/sale.json";
  const ProcessResult r =
      RunFlashsale({one, two},
                   {"--mode", GetParam(), "--stock", "100", "--requests", "2000", "--connections", "64", "--max-5xx",
                    "0", "--manifest", manifest},
                   "bench-flashsale");
  EXPECT_EQ(r.exit_code, 0) << "stderr tail:\n" << Tail(r.err, 30);
  const json summary = ParseJson(r.LastLine());
  ASSERT_TRUE(summary.is_object()) << r.out;
  EXPECT_EQ(summary.value("invariants", ""), "ok") << summary.dump();
  EXPECT_EQ(summary.value("mode", ""), GetParam());
  EXPECT_EQ(summary.value("confirmed", int64_t{-1}), 100) << summary.dump();
  EXPECT_EQ(summary.value("replay_mismatches", int64_t{-1}), 0);
  EXPECT_EQ(summary.value("duplicate_mismatches", int64_t{-1}), 0);
  ASSERT_TRUE(summary.contains("statuses") && summary["statuses"].is_object()) << summary.dump();
  for (const auto& [status, count] : summary["statuses"].items()) {
    EXPECT_TRUE(status == "201" || status == "409") << count << " answers with status " << status;
  }
  EXPECT_EQ(summary["statuses"].value("201", int64_t{-1}), 100) << summary.dump();
  EXPECT_EQ(QueryInt("SELECT stock FROM products WHERE id = " +
                     std::to_string(summary.value("product_id", int64_t{0}))),
            0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM orders"), 100);
  EXPECT_EQ(RunVerify(manifest, "verify-clean").exit_code, 0);

  // Both processes took orders; in batched mode they really were batched.
  int64_t batches = 0, members = 0;
  for (const ShopdProcess* s : {one, two}) {
    const std::string metrics = Call(*s, "GET", "/metrics").body;
    EXPECT_GT(Counter(metrics, "shopd_orders_confirmed_total") + Counter(metrics, "shopd_orders_rejected_total") +
                  Counter(metrics, "shopd_orders_reserved_total") + Counter(metrics, "shopd_idempotent_replays_total"),
              0);
    batches += Counter(metrics, "shopd_order_batches_total");
    members += Counter(metrics, "shopd_order_batch_members_total");
  }
  if (GetParam() == "batched") {
    EXPECT_GT(members, 0);
    EXPECT_LT(batches, members) << "no batch had more than one order";
  } else {
    EXPECT_EQ(batches, 0);
  }
}

TEST_P(FlashsaleTest, CheckerCatchesCreatedStock) {
  ShopdProcess* shopd = StartShopd();
  ASSERT_NE(shopd, nullptr);
  const std::string manifest = TestTempDir() + "/sale.json";
  const ProcessResult r = RunFlashsale(
      {shopd}, {"--mode", GetParam(), "--stock", "20", "--requests", "200", "--connections", "16", "--max-quantity", "3",
                "--max-5xx", "0", "--manifest", manifest},
      "bench-small");
  ASSERT_EQ(r.exit_code, 0) << Tail(r.err, 30);
  const int64_t product = ParseJson(r.LastLine()).value("product_id", int64_t{0});
  ASSERT_GT(product, 0);
  ASSERT_EQ(RunVerify(manifest, "verify-clean").exit_code, 0);

  ASSERT_TRUE(ExecAdmin("UPDATE products SET stock = stock + 1 WHERE id = " + std::to_string(product)).ok());
  const ProcessResult broken = RunVerify(manifest, "verify-created-stock");
  const std::string output = broken.out + broken.err;
  EXPECT_EQ(broken.exit_code, 1) << output;
  EXPECT_NE(output.find("stock not conserved"), std::string::npos) << output;
  EXPECT_EQ(ParseJson(broken.LastLine()).value("invariants", ""), "violated");

  // A lost order row is caught too (after restoring the stock).
  ASSERT_TRUE(ExecAdmin("UPDATE products SET stock = stock - 1 WHERE id = " + std::to_string(product)).ok());
  ASSERT_EQ(RunVerify(manifest, "verify-restored").exit_code, 0);
  ASSERT_TRUE(ExecAdmin("DELETE FROM orders WHERE product_id = " + std::to_string(product) + " LIMIT 1").ok());
  const ProcessResult lost = RunVerify(manifest, "verify-lost-order");
  EXPECT_EQ(lost.exit_code, 1) << lost.out << lost.err;
  EXPECT_NE((lost.out + lost.err).find("has no row"), std::string::npos) << lost.out << lost.err;
}

INSTANTIATE_TEST_SUITE_P(Modes, FlashsaleTest, ::testing::Values("row_lock", "batched", "reserved"));

}  // namespace
}  // namespace lockstep::e2e
