#pragma once

#include "common_options.h"

namespace lockstep::bench {

// `sql-hotrow`: the MariaDB hot-row limit of issue 4: one row of bench_hotrow, autocommit
// conditional decrements, as many connections as the flash sale has. Stock never runs out
// (every UPDATE changes a row). Returns the exit code: 0, or 2 on a setup error.
int RunSqlHotRow(const CommonOptions& opt);

}  // namespace lockstep::bench
