#pragma once

#include "common_options.h"

namespace lockstep::bench {

// `sql-baseline`: the limit a transfer endpoint is measured against: BEGIN; UPDATE a;
// UPDATE b; COMMIT over `accounts` rows of bench_baseline on the same MariaDB with the same
// concurrency, no HTTP, no idempotency record. Returns the exit code: 0, or 2 on a setup
// error.
int RunSqlBaseline(const CommonOptions& opt, int accounts);

}  // namespace lockstep::bench
