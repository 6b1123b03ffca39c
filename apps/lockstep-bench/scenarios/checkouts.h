#pragma once

#include <cstdint>
#include <string>

#include "common_options.h"

namespace lockstep::bench {

struct CheckoutsOptions {
  std::string payments_mysql;  // The accounts' database ("" = --mysql).
  int64_t merchant = 1;        // The instances' --checkout-merchant-account (must exist).
  int accounts = 64;           // Buyers to create.
  int64_t initial_balance = 2'000;
  int products = 1000;         // Products to create (1 = one hot product).
  int64_t stock = 20;          // Initial stock of each.
  int64_t price = 100;
  int64_t max_quantity = 3;    // Quantities are uniform in [1, N].
  int64_t recovery_ms = 10'000;  // The instances' checkout_recovery_ms (the settle bound checked).
  double settle_timeout_s = 60;
  int replay_every = 10;
  int duplicate_every = 50;
  std::string prefix;  // request_id prefix; default: random per run.
  std::string manifest_path;  // Where to write the run's manifest (for verify-checkouts).
};

// `checkouts`: creates buyers and products through the API, sends POST /v1/checkouts of
// random buyers, products and quantities (with replays and concurrent duplicates) — sized
// so that money and stock both run out — then waits for every checkout to settle (none may
// stay `trying` longer than recovery_ms) and checks VerifyCheckouts over the shop (--mysql)
// and payments databases. Exit code: 0 ok, 1 invariant violated or --max-5xx exceeded, 2
// setup error.
int RunCheckouts(const CommonOptions& opt, const CheckoutsOptions& copt);

// `verify-checkouts`: re-checks a finished checkouts run from its manifest (opt.mysql = the
// shop database, `payments_mysql` the accounts' or "" = the same): waits up to
// `settle_timeout_s` for every checkout to settle, then VerifyCheckouts. Prints
// {"scenario":"verify-checkouts","invariants":..,"violations":[..]}. Exit 0 ok, 1 violated,
// 2 setup error.
int RunVerifyCheckouts(const CommonOptions& opt, const std::string& manifest_path, const std::string& payments_mysql,
                       double settle_timeout_s);

}  // namespace lockstep::bench
