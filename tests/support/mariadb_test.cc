#include "support/mariadb_test.h"

#include <mysql.h>

#include <chrono>
#include <thread>

#include "support/test_env.h"

namespace lockstep::testing {

sql::ConnectionOptions MariaDbTestOptions(std::string database) {
  const TestEnv env = TestEnv::FromEnvironment();
  sql::ConnectionOptions o;
  o.host = env.mariadb_host;
  o.port = env.mariadb_port;
  o.user = env.mariadb_user;
  o.password = env.mariadb_password;
  o.database = std::move(database);
  o.connect_timeout = std::chrono::seconds(10);
  return o;
}

namespace {

// One statement on a new raw connection (independent of the code under test).
Status RawExec(const sql::ConnectionOptions& o, const std::string& sql) {
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return Status::Internal("mysql_init failed");
  unsigned int timeout = 10;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  Status s;
  if (mysql_real_connect(m, o.host.c_str(), o.user.c_str(), o.password.c_str(),
                         o.database.empty() ? nullptr : o.database.c_str(), static_cast<unsigned>(o.port),
                         nullptr, 0) == nullptr) {
    s = Status::Unavailable("cannot connect to ", o.ToString(), ": ", mysql_error(m));
  } else if (mysql_real_query(m, sql.data(), sql.size()) != 0) {
    s = Status::Internal("admin statement failed: ", mysql_error(m)).WithDriverError(static_cast<int>(mysql_errno(m)));
  } else {
    MYSQL_RES* res = mysql_store_result(m);
    if (res != nullptr) mysql_free_result(res);
  }
  mysql_close(m);
  return s;
}

}  // namespace

sql::PoolOptions MariaDbTest::DefaultPoolOptions() const {
  sql::PoolOptions p;
  p.max_connections = 4;
  p.acquire_timeout = std::chrono::seconds(10);
  return p;
}

void MariaDbTest::SetUp() {
  database_ = "t_" + UniqueTestName();
  sql::ConnectionOptions server = MariaDbTestOptions();
  const Status created = RawExec(server, "CREATE DATABASE `" + database_ + "` CHARACTER SET utf8mb4");
  ASSERT_TRUE(created.ok()) << "MariaDB test server unreachable or broken (is the `servers` ctest fixture "
                               "running?): "
                            << created;
  options_ = server;
  options_.database = database_;
  auto pool = sql::Pool::Open(options_, DefaultPoolOptions());
  ASSERT_TRUE(pool.ok()) << pool.status();
  pool_ = std::move(*pool);
}

void MariaDbTest::TearDown() {
  pool_.reset();
  if (!database_.empty()) {
    const Status dropped = RawExec(MariaDbTestOptions(), "DROP DATABASE IF EXISTS `" + database_ + "`");
    EXPECT_TRUE(dropped.ok()) << dropped;
  }
}

Status MariaDbTest::ExecAdmin(const std::string& sql) { return RawExec(options_, sql); }

void MariaDbTest::PurgeBinlogsBeforeNow() {
  ASSERT_TRUE(ExecAdmin("FLUSH BINARY LOGS").ok());
  const Deadline deadline = Deadline::After(std::chrono::seconds(30));
  auto lease = pool().Acquire(deadline);
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto status = lease->Query("SHOW MASTER STATUS");
  ASSERT_TRUE(status.ok()) << status.status();
  const std::string current_file = *(*status)[0].GetString(0);
  while (true) {
    ASSERT_TRUE(ExecAdmin("PURGE BINARY LOGS TO '" + current_file + "'").ok());
    auto logs = lease->Query("SHOW BINARY LOGS");
    ASSERT_TRUE(logs.ok()) << logs.status();
    if (*(*logs)[0].GetString(0) == current_file) return;
    ASSERT_FALSE(deadline.expired()) << "binlogs before " << current_file << " were never purged";
    std::this_thread::yield();
  }
}

}  // namespace lockstep::testing
