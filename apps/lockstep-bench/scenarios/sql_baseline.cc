#include "scenarios/sql_baseline.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <utility>

#include "lockstep/sql/pool.h"
#include "report.h"
#include "scenarios/sql_load.h"
#include "split_mix64.h"

namespace lockstep::bench {

int RunSqlBaseline(const CommonOptions& opt, int accounts) {
  std::unique_ptr<sql::Pool> pool = OpenSqlLoadPool(opt);
  if (!pool) return 2;
  {
    auto conn = pool->Acquire(Deadline::After(std::chrono::seconds(10)));
    if (!conn.ok()) return 2;
    const Deadline d = Deadline::After(std::chrono::minutes(1));
    if (!conn->Execute("CREATE TABLE IF NOT EXISTS bench_baseline (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB", d).ok() ||
        !conn->Execute("DELETE FROM bench_baseline", d).ok()) {
      std::fprintf(stderr, "lockstep-bench: cannot create bench_baseline\n");
      return 2;
    }
    for (int i = 1; i <= accounts; ++i) {
      if (!conn->Execute("INSERT INTO bench_baseline (id, balance) VALUES (?, 1000000000)", i, d).ok()) return 2;
    }
  }
  const uint64_t seed = opt.seed != 0 ? opt.seed : std::random_device{}();
  std::optional<nlohmann::json> j = RunSqlLoad(opt, "sql-baseline", [&](int64_t i) {
    SplitMix64 rng = SplitMix64::ForRequest(seed, i);
    int64_t a = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(accounts));
    int64_t b = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(accounts - 1));
    if (b >= a) ++b;
    if (a > b) std::swap(a, b);  // Ascending order, as shopd does: no lock-order deadlocks.
    sql::TxOptions tx_options;
    tx_options.isolation = sql::IsolationLevel::kReadCommitted;
    tx_options.server_statement_limit = false;
    auto tx = pool->Begin(tx_options, Deadline::After(std::chrono::milliseconds(opt.timeout_ms)));
    if (!tx.ok()) return 503;
    if (!tx->Execute("UPDATE bench_baseline SET balance = balance - 1 WHERE id = ?", a).ok() ||
        !tx->Execute("UPDATE bench_baseline SET balance = balance + 1 WHERE id = ?", b).ok()) {
      return 503;
    }
    return tx->Commit().ok() ? 200 : 503;
  });
  if (!j) return 2;
  (*j)["accounts"] = accounts;
  return PrintUnchecked(*j);
}

}  // namespace lockstep::bench
