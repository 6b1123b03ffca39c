#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "lockstep/base/status.h"
#include "lockstep/sql/options.h"
#include "lockstep/sql/pool.h"

namespace lockstep::testing {

// The private test MariaDB primary (TestEnv), as user lockstep, on `database` (none if
// empty). Thread-safe (reads the environment only).
sql::ConnectionOptions MariaDbTestOptions(std::string database = "");

// Not thread-safe (pool() is thread-safe). gtest fixture for tests against the real MariaDB primary started by the ctest `servers`
// fixture (TestEnv ports, user lockstep/lockstep). SetUp creates a fresh utf8mb4 database
// named UniqueTestName() and opens pool() on it; TearDown closes the pool and drops the
// database. An unreachable server FAILS the test (never skips).
class MariaDbTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Options for the test database (override PoolOptions by reopening with them).
  sql::ConnectionOptions options() const { return options_; }
  sql::Pool& pool() { return *pool_; }
  const std::string& database() const { return database_; }
  // Runs one text statement as the admin on a separate, fresh connection (no pool): DDL,
  // KILL CONNECTION, SET GLOBAL ... . The default database is the test's.
  Status ExecAdmin(const std::string& sql);
  // Rotates the primary's binlog and purges every file before the current one: GTID
  // positions before the call are gone (a CDC reader resuming from one meets a gap). PURGE
  // skips a file a dump thread still reads (a replica moves to the new file only after
  // reading the rotation), so it is repeated until the current file is the oldest one left.
  // Fails the test (ASSERT) on error or after 30 s.
  void PurgeBinlogsBeforeNow();
  // PoolOptions used by SetUp: small and fast-failing.
  virtual sql::PoolOptions DefaultPoolOptions() const;

 private:
  sql::ConnectionOptions options_;
  std::string database_;
  std::unique_ptr<sql::Pool> pool_;
};

}  // namespace lockstep::testing
