// Micro benchmarks of the sql module against a running MariaDB (scripts/stack.sh up).
// Reads LOCKSTEP_MARIADB_HOST/PORT/USER/PASSWORD like tests/support/test_env (defaults
// 127.0.0.1:13306, lockstep/lockstep) and uses database `lockstep_bench`.
//
// The point SELECT runs the same prepared statement through our pool and through raw
// libmariadb on one connection, so their ratio is the pool's overhead; the bare text
// `SELECT 1` is the round-trip floor for reference.
#include <benchmark/benchmark.h>
#include <mysql.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "lockstep/sql/pool.h"

namespace {

constexpr int kRows = 1000;
constexpr const char* kPointSelect = "SELECT v FROM bench_kv WHERE id = ?";

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

lockstep::sql::ConnectionOptions ServerOptions() {
  lockstep::sql::ConnectionOptions o;
  o.host = Env("LOCKSTEP_MARIADB_HOST", "127.0.0.1");
  o.port = std::stoi(Env("LOCKSTEP_MARIADB_PORT", "13306"));
  o.user = Env("LOCKSTEP_MARIADB_USER", "lockstep");
  o.password = Env("LOCKSTEP_MARIADB_PASSWORD", "lockstep");
  return o;
}

MYSQL* RawConnect(const lockstep::sql::ConnectionOptions& o, const char* db) {
  MYSQL* m = mysql_init(nullptr);
  if (mysql_real_connect(m, o.host.c_str(), o.user.c_str(), o.password.c_str(), db,
                         static_cast<unsigned>(o.port), nullptr, 0) == nullptr) {
    std::cerr << "cannot connect to " << o.ToString() << ": " << mysql_error(m) << "\n";
    std::exit(1);
  }
  return m;
}

void RawQuery(MYSQL* m, const std::string& sql) {
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) {
    std::cerr << sql << ": " << mysql_error(m) << "\n";
    std::exit(1);
  }
  if (MYSQL_RES* r = mysql_store_result(m)) mysql_free_result(r);
}

// Creates the schema once and owns the pool shared by the benchmarks.
struct BenchEnv {
  BenchEnv() {
    options = ServerOptions();
    MYSQL* m = RawConnect(options, nullptr);
    RawQuery(m, "CREATE DATABASE IF NOT EXISTS lockstep_bench");
    RawQuery(m, "CREATE TABLE IF NOT EXISTS lockstep_bench.bench_kv (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)");
    RawQuery(m, "INSERT IGNORE INTO lockstep_bench.bench_kv SELECT seq, seq * 7 FROM lockstep_bench.seq_1_to_" +
                    std::to_string(kRows));
    mysql_close(m);
    options.database = "lockstep_bench";
    lockstep::sql::PoolOptions pool_options;
    pool_options.max_connections = 8;
    auto opened = lockstep::sql::Pool::Open(options, pool_options);
    if (!opened.ok()) {
      std::cerr << opened.status() << "\n";
      std::exit(1);
    }
    pool = std::move(*opened);
  }
  lockstep::sql::ConnectionOptions options;
  std::unique_ptr<lockstep::sql::Pool> pool;
};

BenchEnv& Shared() {
  static BenchEnv* env = new BenchEnv();  // Never destroyed: benchmarks may run in any order.
  return *env;
}

void BM_PoolCheckoutReturn(benchmark::State& state) {
  auto& pool = *Shared().pool;
  for (auto _ : state) {
    auto lease = pool.Acquire(lockstep::Deadline::After(std::chrono::seconds(5)));
    if (!lease.ok()) state.SkipWithError("acquire failed");
    benchmark::DoNotOptimize(lease);
  }
}
BENCHMARK(BM_PoolCheckoutReturn)->ThreadRange(1, 4)->UseRealTime();

void BM_PoolPointSelect(benchmark::State& state) {
  auto& pool = *Shared().pool;
  int64_t id = 1;
  for (auto _ : state) {
    auto lease = pool.Acquire(lockstep::Deadline::After(std::chrono::seconds(5)));
    auto rows = lease->Query(kPointSelect, id, lockstep::Deadline::After(std::chrono::seconds(5)));
    if (!rows.ok() || rows->size() != 1) state.SkipWithError("query failed");
    benchmark::DoNotOptimize(rows);
    id = id % kRows + 1;
  }
}
BENCHMARK(BM_PoolPointSelect)->UseRealTime();

void BM_RawPreparedPointSelect(benchmark::State& state) {
  MYSQL* m = RawConnect(Shared().options, "lockstep_bench");
  MYSQL_STMT* stmt = mysql_stmt_init(m);
  if (mysql_stmt_prepare(stmt, kPointSelect, std::strlen(kPointSelect)) != 0) {
    state.SkipWithError(mysql_stmt_error(stmt));
    return;
  }
  int64_t id = 1;
  int64_t v = 0;
  MYSQL_BIND param;
  std::memset(&param, 0, sizeof param);
  param.buffer_type = MYSQL_TYPE_LONGLONG;
  param.buffer = &id;
  MYSQL_BIND result;
  std::memset(&result, 0, sizeof result);
  result.buffer_type = MYSQL_TYPE_LONGLONG;
  result.buffer = &v;
  mysql_stmt_bind_param(stmt, &param);
  for (auto _ : state) {
    if (mysql_stmt_execute(stmt) != 0 || mysql_stmt_store_result(stmt) != 0 ||
        mysql_stmt_bind_result(stmt, &result) != 0 || mysql_stmt_fetch(stmt) != 0) {
      state.SkipWithError(mysql_stmt_error(stmt));
      break;
    }
    benchmark::DoNotOptimize(v);
    mysql_stmt_free_result(stmt);
    id = id % kRows + 1;
  }
  mysql_stmt_close(stmt);
  mysql_close(m);
}
BENCHMARK(BM_RawPreparedPointSelect)->UseRealTime();

void BM_RawTextSelect1(benchmark::State& state) {
  MYSQL* m = RawConnect(Shared().options, "lockstep_bench");
  for (auto _ : state) {
    if (mysql_real_query(m, "SELECT 1", 8) != 0) {
      state.SkipWithError(mysql_error(m));
      break;
    }
    MYSQL_RES* r = mysql_store_result(m);
    benchmark::DoNotOptimize(mysql_fetch_row(r));
    mysql_free_result(r);
  }
  mysql_close(m);
}
BENCHMARK(BM_RawTextSelect1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
