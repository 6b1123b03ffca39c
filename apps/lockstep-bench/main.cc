// lockstep-bench: load generator + invariant checker for shopd. Speaks API.md over HTTP
// only, plus SQL to verify the core tables after a run.
//   lockstep-bench transfers --url http://127.0.0.1:8080 --mysql mysql://...   (load + verify)
//   lockstep-bench verify --manifest run.json --mysql mysql://...               (re-check)
//   lockstep-bench flashsale --url ... --mysql ... --stock 100 --mode batched  (hot product)
//   lockstep-bench verify-flashsale --manifest sale.json --mysql mysql://...    (re-check)
//   (flashsale and verify-flashsale first wait until pending `reserved` orders settle)
//   lockstep-bench checkouts --url A --url B --mysql SHOP --payments-mysql PAY --merchant 1
//                                                      (TCC checkouts; verifies both databases)
//   lockstep-bench verify-checkouts --manifest run.json --mysql SHOP --payments-mysql PAY   (re-check)
//   lockstep-bench http-noop --url ... [--path P]      (GET /healthz or P: the HTTP overhead)
//   lockstep-bench reads --url A --url B --mysql ... --products 10000 --writes-per-s 20
//                                                      (zipf GETs + PUTs; staleness check)
//   lockstep-bench account-reads --url ... --consistency primary|replica|token --writes-per-s 200
//                                                      (GET /v1/accounts/{id}; sources; replica lag)
//   lockstep-bench sql-baseline --mysql ...            (bare two-UPDATE transactions: the limit)
//   lockstep-bench sql-hotrow --mysql ...              (bare autocommit hot-row decrements: the limit)
// Every load scenario runs closed loop (each connection sends when its last answer came)
// or, with --rate R, open loop: R requests per second at fixed times, latency measured from
// each request's intended send time (see load_runner.h).
// Progress goes to stderr once a second; the last stdout line is one JSON object.
// Exit codes: 0 ok, 1 invariant violated (or --max-5xx exceeded), 2 usage/setup error.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "common_options.h"
#include "scenarios/account_reads.h"
#include "scenarios/checkouts.h"
#include "scenarios/flashsale.h"
#include "scenarios/http_noop.h"
#include "scenarios/reads.h"
#include "scenarios/sql_baseline.h"
#include "scenarios/sql_hotrow.h"
#include "scenarios/transfers.h"
#include "scenarios/verify.h"

namespace lockstep::bench {
namespace {

void AddCommon(CLI::App* app, CommonOptions& o, bool http, bool mysql) {
  if (http) app->add_option("--url", o.urls, "shopd base URL(s); connections are spread over them")->capture_default_str();
  if (mysql) app->add_option("--mysql", o.mysql, "MariaDB URL for setup/verification")->capture_default_str();
  app->add_option("--connections,-c", o.connections, "Concurrent connections (threads)")->capture_default_str()->check(CLI::Range(1, 4096));
  app->add_option("--requests,-n", o.requests, "Requests in total")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--duration", o.duration_s, "Run for this many seconds instead of --requests")->check(CLI::NonNegativeNumber);
  app->add_option("--rate", o.rate,
                  "Open loop: offer this many requests per second at fixed times (latency from the intended send "
                  "time; needs enough --connections); 0 = closed loop")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app->add_option("--timeout-ms", o.timeout_ms, "X-Request-Timeout-Ms sent with each request")->capture_default_str()->check(CLI::Range(1, 600000));
  app->add_option("--seed", o.seed, "Random seed (0 = random)");
  app->add_option("--cpu-pid", o.cpu_pids,
                  "label=pid (repeatable): report that process's CPU time per request (this process is 'client')");
  app->add_option("--max-5xx", o.max_5xx, "Exit 1 if more 5xx/transport errors than this (-1 = no limit)")->capture_default_str();
}

}  // namespace
}  // namespace lockstep::bench

int main(int argc, char** argv) {
  using namespace lockstep::bench;
  CLI::App app{"lockstep-bench: load generator and invariant checker for shopd (API.md)"};
  app.require_subcommand(1);
  CommonOptions common;
  TransfersOptions topt;
  auto* transfers = app.add_subcommand("transfers", "Random transfers among N accounts; verifies money is conserved");
  AddCommon(transfers, common, true, true);
  transfers->add_option("--accounts", topt.accounts, "Accounts to create")->capture_default_str()->check(CLI::Range(2, 10'000'000));
  transfers->add_option("--hot", topt.hot, "Transfer only among the first N accounts (0 = all)")->capture_default_str()->check(CLI::Range(0, 10'000'000));
  transfers->add_option("--initial-balance", topt.initial_balance, "Balance of each new account")->capture_default_str()->check(CLI::NonNegativeNumber);
  transfers->add_option("--max-amount", topt.max_amount, "Amounts are uniform in [1, N]")->capture_default_str()->check(CLI::PositiveNumber);
  transfers->add_option("--replay-every", topt.replay_every, "Resend every Nth request (0 = never)")->capture_default_str();
  transfers->add_option("--duplicate-every", topt.duplicate_every, "Send every Nth request twice concurrently (0 = never)")->capture_default_str();
  transfers->add_option("--manifest", topt.manifest_path, "Write the run manifest (for `verify`) to this file");
  transfers->add_option("--prefix", topt.prefix, "request_id prefix (default: random per run)");
  std::string manifest_path;
  auto* verify = app.add_subcommand("verify", "Re-check the invariants of a finished transfers run");
  AddCommon(verify, common, false, true);
  verify->add_option("--manifest", manifest_path, "Manifest written by `transfers --manifest`")->required();
  FlashsaleOptions fopt;
  auto* flashsale = app.add_subcommand("flashsale", "Many buyers, one product with little stock; verifies no oversell");
  AddCommon(flashsale, common, true, true);
  flashsale->add_option("--stock", fopt.stock, "Initial stock of the product")->capture_default_str()->check(CLI::NonNegativeNumber);
  flashsale->add_option("--mode", fopt.mode, "stock_mode of the product")->capture_default_str()->check(CLI::IsMember({"row_lock", "batched", "reserved"}));
  flashsale->add_option("--settle-timeout", fopt.settle_timeout_s, "Seconds to wait for pending orders to settle before verifying")->capture_default_str()->check(CLI::NonNegativeNumber);
  flashsale->add_option("--max-quantity", fopt.max_quantity, "Quantities are uniform in [1, N]")->capture_default_str()->check(CLI::Range(1, 1'000'000));
  flashsale->add_option("--replay-every", fopt.replay_every, "Resend every Nth request (0 = never)")->capture_default_str();
  flashsale->add_option("--duplicate-every", fopt.duplicate_every, "Send every Nth request twice concurrently (0 = never)")->capture_default_str();
  flashsale->add_option("--manifest", fopt.manifest_path, "Write the run manifest (for `verify-flashsale`) to this file");
  flashsale->add_option("--prefix", fopt.prefix, "request_id prefix (default: random per run)");
  std::string flash_manifest_path;
  auto* verify_flash = app.add_subcommand("verify-flashsale", "Re-check the invariants of a finished flashsale run");
  AddCommon(verify_flash, common, false, true);
  verify_flash->add_option("--manifest", flash_manifest_path, "Manifest written by `flashsale --manifest`")->required();
  std::vector<std::string> settle_urls;
  double verify_settle_timeout_s = -1;  // Default: 120 with --settle-url, else 0.
  verify_flash->add_option("--settle-url", settle_urls, "shopd URL(s) whose /metrics must show no pending reservation first");
  verify_flash->add_option("--settle-timeout", verify_settle_timeout_s, "Seconds to wait for pending orders to settle (default: 120 with --settle-url, else 0 = none)")->check(CLI::NonNegativeNumber);
  CheckoutsOptions copt;
  auto* checkouts = app.add_subcommand("checkouts", "TCC checkouts of random buyers and products; verifies money and stock");
  AddCommon(checkouts, common, true, true);
  checkouts->add_option("--payments-mysql", copt.payments_mysql, "MariaDB URL of the accounts (default: --mysql)");
  checkouts->add_option("--merchant", copt.merchant, "The instances' --checkout-merchant-account (must exist)")->capture_default_str()->check(CLI::PositiveNumber);
  checkouts->add_option("--accounts", copt.accounts, "Buyers to create")->capture_default_str()->check(CLI::Range(1, 1'000'000));
  checkouts->add_option("--initial-balance", copt.initial_balance, "Balance of each buyer")->capture_default_str()->check(CLI::NonNegativeNumber);
  checkouts->add_option("--products", copt.products, "Products to create (1 = one hot product)")->capture_default_str()->check(CLI::Range(1, 1'000'000));
  checkouts->add_option("--stock", copt.stock, "Initial stock of each product")->capture_default_str()->check(CLI::NonNegativeNumber);
  checkouts->add_option("--price", copt.price, "Price of each product")->capture_default_str()->check(CLI::NonNegativeNumber);
  checkouts->add_option("--max-quantity", copt.max_quantity, "Quantities are uniform in [1, N]")->capture_default_str()->check(CLI::Range(1, 1'000'000));
  checkouts->add_option("--recovery-ms", copt.recovery_ms, "The instances' checkout_recovery_ms: no checkout may stay trying longer")->capture_default_str()->check(CLI::PositiveNumber);
  checkouts->add_option("--settle-timeout", copt.settle_timeout_s, "Seconds to wait for every checkout to settle")->capture_default_str()->check(CLI::NonNegativeNumber);
  checkouts->add_option("--replay-every", copt.replay_every, "Resend every Nth request (0 = never)")->capture_default_str();
  checkouts->add_option("--duplicate-every", copt.duplicate_every, "Send every Nth request twice concurrently (0 = never)")->capture_default_str();
  checkouts->add_option("--prefix", copt.prefix, "request_id prefix (default: random per run)");
  checkouts->add_option("--manifest", copt.manifest_path, "Write the run manifest (for `verify-checkouts`) to this file");
  std::string checkouts_manifest_path, verify_payments_mysql;
  double checkouts_settle_s = 60;
  auto* verify_checkouts = app.add_subcommand("verify-checkouts", "Re-check the invariants of a finished checkouts run");
  AddCommon(verify_checkouts, common, false, true);
  verify_checkouts->add_option("--manifest", checkouts_manifest_path, "Manifest written by `checkouts --manifest`")->required();
  verify_checkouts->add_option("--payments-mysql", verify_payments_mysql, "MariaDB URL of the accounts (default: --mysql)");
  verify_checkouts->add_option("--settle-timeout", checkouts_settle_s, "Seconds to wait for every checkout to settle")->capture_default_str()->check(CLI::NonNegativeNumber);
  auto* noop = app.add_subcommand("http-noop", "GET /healthz at the same concurrency (HTTP overhead)");
  AddCommon(noop, common, true, false);
  std::string noop_path = "/healthz";
  noop->add_option("--path", noop_path, "Path to GET instead of /healthz (e.g. a cached product, a rate-limited route)");
  ReadsOptions ropt;
  auto* reads = app.add_subcommand("reads", "Zipf GETs of products + a PUT writer; counts stale reads beyond the bound");
  AddCommon(reads, common, true, true);
  reads->add_option("--products", ropt.products, "Products to create (by SQL)")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  reads->add_option("--zipf-s", ropt.zipf_s, "Zipf exponent of the key choice")->capture_default_str()->check(CLI::NonNegativeNumber);
  reads->add_option("--writes-per-s", ropt.writes_per_s, "PUTs per second (one writer, first --url)")->capture_default_str()->check(CLI::NonNegativeNumber);
  reads->add_flag("--warmup", ropt.warmup, "GET every product once on every instance before measuring");
  reads->add_option("--bound-ms", ropt.bound_ms, "Staleness bound to check")->capture_default_str()->check(CLI::Range(0, 600000));
  AccountReadsOptions aopt;
  auto* account_reads = app.add_subcommand(
      "account-reads", "GET /v1/accounts/{id} with a consistency choice under a transfer load; replica lag samples");
  AddCommon(account_reads, common, true, false);
  account_reads->add_option("--accounts", aopt.accounts, "Accounts to create (POST)")->capture_default_str()->check(CLI::Range(2, 1'000'000));
  account_reads->add_option("--consistency", aopt.consistency, "primary | replica (X-Max-Staleness-Ms) | token")
      ->capture_default_str()
      ->check(CLI::IsMember({"primary", "replica", "token"}));
  account_reads->add_option("--bound-ms", aopt.bound_ms, "X-Max-Staleness-Ms of --consistency replica")->capture_default_str()->check(CLI::Range(0, 600000));
  account_reads->add_option("--writes-per-s", aopt.writes_per_s, "Transfers per second (one writer, first --url)")->capture_default_str()->check(CLI::NonNegativeNumber);
  account_reads->add_option("--lag-sample-ms", aopt.lag_sample_ms, "How often to sample the replica lag gauges")->capture_default_str()->check(CLI::Range(1, 10000));
  int baseline_accounts = 1000;
  auto* baseline = app.add_subcommand("sql-baseline", "Bare BEGIN; 2x UPDATE; COMMIT loop on MariaDB (the limit)");
  AddCommon(baseline, common, false, true);
  baseline->add_option("--accounts", baseline_accounts, "Rows to update")->capture_default_str()->check(CLI::Range(2, 10'000'000));
  auto* hotrow = app.add_subcommand(
      "sql-hotrow", "Bare autocommit UPDATE ... SET stock = stock - 1 WHERE id = 1 AND stock >= 1 loop (hot-row limit)");
  AddCommon(hotrow, common, false, true);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*transfers) {
    if (topt.hot == 1) {
      std::fprintf(stderr, "lockstep-bench: --hot needs at least 2 accounts\n");
      return 2;
    }
    return RunTransfers(common, topt);
  }
  if (*verify) return RunVerifyTransfers(common, manifest_path);
  if (*flashsale) {
    // The transfers default (20,000) is far more than a flash sale needs.
    if (flashsale->count("--requests") == 0 && flashsale->count("-n") == 0) common.requests = 2000;
    return RunFlashsale(common, fopt);
  }
  if (*verify_flash) return RunVerifyFlashsale(common, flash_manifest_path, settle_urls, verify_settle_timeout_s);
  if (*checkouts) {
    if (checkouts->count("--requests") == 0 && checkouts->count("-n") == 0) common.requests = 2000;
    return RunCheckouts(common, copt);
  }
  if (*verify_checkouts) {
    return RunVerifyCheckouts(common, checkouts_manifest_path, verify_payments_mysql, checkouts_settle_s);
  }
  if (*noop) return RunHttpNoop(common, noop_path);
  if (*reads) return RunReads(common, ropt);
  if (*account_reads) return RunAccountReads(common, aopt);
  if (*baseline) return RunSqlBaseline(common, baseline_accounts);
  if (*hotrow) return RunSqlHotRow(common);
  return 2;
}
