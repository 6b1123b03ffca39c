#include "scenarios/sql_hotrow.h"

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "lockstep/sql/pool.h"
#include "report.h"
#include "scenarios/sql_load.h"

namespace lockstep::bench {

int RunSqlHotRow(const CommonOptions& opt) {
  std::unique_ptr<sql::Pool> pool = OpenSqlLoadPool(opt);
  if (!pool) return 2;
  {
    auto conn = pool->Acquire(Deadline::After(std::chrono::seconds(10)));
    if (!conn.ok()) return 2;
    const Deadline d = Deadline::After(std::chrono::minutes(1));
    if (!conn->Execute("CREATE TABLE IF NOT EXISTS bench_hotrow (id BIGINT PRIMARY KEY, stock BIGINT NOT NULL) ENGINE=InnoDB", d).ok() ||
        !conn->Execute("REPLACE INTO bench_hotrow (id, stock) VALUES (1, ?)", int64_t{1} << 40, d).ok()) {
      std::fprintf(stderr, "lockstep-bench: cannot create bench_hotrow\n");
      return 2;
    }
  }
  std::optional<nlohmann::json> j = RunSqlLoad(opt, "sql-hotrow", [&](int64_t) {
    const Deadline d = Deadline::After(std::chrono::milliseconds(opt.timeout_ms));
    auto conn = pool->Acquire(d);
    if (!conn.ok()) return 503;
    auto r = conn->Execute("UPDATE bench_hotrow SET stock = stock - 1 WHERE id = 1 AND stock >= 1", d);
    return r.ok() && r->affected_rows == 1 ? 200 : 503;
  });
  if (!j) return 2;
  return PrintUnchecked(*j);
}

}  // namespace lockstep::bench
