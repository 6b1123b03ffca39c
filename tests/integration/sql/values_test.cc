// Typed binding and result access: metacharacters stay data, NULLs and timestamps round-trip.
#include <gtest/gtest.h>

#include <limits>

#include "lockstep/sql/pool.h"
#include "support/mariadb_test.h"

namespace lockstep::sql {
namespace {

using std::chrono::seconds;

class ValuesTest : public testing::MariaDbTest {
 protected:
  void SetUp() override {
    MariaDbTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExecAdmin("CREATE TABLE x (id BIGINT AUTO_INCREMENT PRIMARY KEY, s TEXT, b VARBINARY(512), "
                          "ts DATETIME(6) NULL, n BIGINT NULL, u BIGINT UNSIGNED NULL, d DOUBLE NULL, "
                          "dec_col DECIMAL(10,2) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
                    .ok());
    auto lease = pool().Acquire(Deadline::After(seconds(30)));
    ASSERT_TRUE(lease.ok()) << lease.status();
    lease_ = std::move(*lease);
  }
  void TearDown() override {
    lease_ = PooledConnection();
    MariaDbTest::TearDown();
  }
  PooledConnection lease_;
};

TEST_F(ValuesTest, SqlMetacharactersAreStoredVerbatim) {
  const std::vector<std::string> nasty = {
      "'; DROP TABLE x; --", "\" OR \"1\"=\"1", "it's", "back\\slash\\", std::string("nul\0byte\0", 9),
      "emoji \xF0\x9F\x98\x80\xF0\x9F\x94\x92", "?", "%_", "line\nbreak\r\t", ""};
  for (const std::string& s : nasty) {
    auto ins = lease_.Execute("INSERT INTO x (s) VALUES (?)", s);
    ASSERT_TRUE(ins.ok()) << ins.status();
    auto rows = lease_.Query("SELECT s FROM x WHERE id = ?", ins->last_insert_id);
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(*(*rows)[0].GetString("s"), s);
    // Lookup by the value as a parameter finds exactly that row.
    auto by_value = lease_.Query("SELECT id FROM x WHERE s = ?", s);
    ASSERT_TRUE(by_value.ok());
    ASSERT_GE(by_value->size(), 1u);
  }
  auto count = lease_.Query("SELECT COUNT(*) FROM x");  // The table still exists.
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*(*count)[0].GetInt64(0), static_cast<int64_t>(nasty.size()));
}

TEST_F(ValuesTest, BinaryBytesRoundTrip) {
  Bytes all;
  for (int i = 0; i < 256; ++i) all.data.push_back(static_cast<char>(i));
  auto ins = lease_.Execute("INSERT INTO x (b) VALUES (?)", all);
  ASSERT_TRUE(ins.ok()) << ins.status();
  auto rows = lease_.Query("SELECT b FROM x WHERE id = ?", ins->last_insert_id);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*(*rows)[0].GetBytes(0), all);
}

TEST_F(ValuesTest, NullsRoundTripAndAreNotValues) {
  std::optional<int64_t> none;
  auto ins = lease_.Execute("INSERT INTO x (s, ts, n, u, d) VALUES (?, ?, ?, ?, ?)", std::nullopt, std::nullopt,
                            none, std::optional<uint64_t>(), nullptr);
  ASSERT_TRUE(ins.ok()) << ins.status();
  auto rows = lease_.Query("SELECT s, ts, n, u, d FROM x WHERE id = ?", ins->last_insert_id);
  ASSERT_TRUE(rows.ok());
  const Row& row = (*rows)[0];
  for (size_t i = 0; i < row.size(); ++i) EXPECT_TRUE(*row.IsNull(i)) << i;
  EXPECT_EQ(row.GetInt64("n").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(row.GetString("s").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(row.GetTimestamp("ts").status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ValuesTest, TimestampsRoundTripWithMicroseconds) {
  using namespace std::chrono;
  const Timestamp ts = sys_days(year(2024) / 2 / 29) + hours(23) + minutes(59) + seconds(58) + microseconds(123456);
  const Timestamp epoch{};
  for (const Timestamp& t : {ts, epoch + hours(24 * 365)}) {
    auto ins = lease_.Execute("INSERT INTO x (ts) VALUES (?)", t);
    ASSERT_TRUE(ins.ok()) << ins.status();
    auto rows = lease_.Query("SELECT ts FROM x WHERE id = ?", ins->last_insert_id);
    ASSERT_TRUE(rows.ok());
    auto got = (*rows)[0].GetTimestamp("ts");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, t);
  }
  auto text = lease_.Query("SELECT CAST(ts AS CHAR) FROM x ORDER BY id LIMIT 1");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*(*text)[0].GetString(0), "2024-02-29 23:59:58.123456");
}

TEST_F(ValuesTest, NumbersKeepTheirTypes) {
  const uint64_t umax = std::numeric_limits<uint64_t>::max();
  const int64_t imin = std::numeric_limits<int64_t>::min();
  auto ins = lease_.Execute("INSERT INTO x (n, u, d, dec_col) VALUES (?, ?, ?, ?)", imin, umax, 2.5, "12.34");
  ASSERT_TRUE(ins.ok()) << ins.status();
  EXPECT_EQ(ins->affected_rows, 1u);
  EXPECT_GT(ins->last_insert_id, 0u);
  auto rows = lease_.Query("SELECT n, u, d, dec_col, ? AS flag, ? AS small FROM x WHERE id = ?", true, int32_t{-7},
                           ins->last_insert_id);
  ASSERT_TRUE(rows.ok()) << rows.status();
  const Row& row = (*rows)[0];
  EXPECT_EQ(*row.GetInt64("n"), imin);
  EXPECT_EQ(*row.GetUint64("u"), umax);
  EXPECT_EQ(row.GetInt64("u").status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(*row.GetDouble("d"), 2.5);
  EXPECT_EQ(*row.GetString("dec_col"), "12.34");
  EXPECT_EQ(*row.GetInt64("flag"), 1);
  EXPECT_EQ(*row.GetInt64("small"), -7);
  EXPECT_EQ(row.GetString("n").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(row.GetInt64("nope").status().code(), StatusCode::kNotFound);
}

TEST_F(ValuesTest, StatementCacheIsBoundedAndCorrect) {
  // More distinct statements than the cache holds, each run twice.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 80; ++i) {
      auto rows = lease_.Query("SELECT ? + " + std::to_string(i), 1);
      ASSERT_TRUE(rows.ok()) << rows.status();
      EXPECT_EQ(*(*rows)[0].GetInt64(0), 1 + i);
    }
  }
  auto opened = lease_.Query("SHOW SESSION STATUS LIKE 'Prepared_stmt_count'");
  ASSERT_TRUE(opened.ok()) << opened.status();
  auto global = lease_.Query("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                             "WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'");
  ASSERT_TRUE(global.ok()) << global.status();
  // This process's other connections hold a few more; 64 per connection bound + slack.
  EXPECT_LE(std::stoll(*(*global)[0].GetString(0)), 64 * 4 + 8);
}

TEST_F(ValuesTest, ReprepareAfterSchemaChange) {
  ASSERT_TRUE(lease_.Execute("INSERT INTO x (n) VALUES (?)", 5).ok());
  ASSERT_TRUE(lease_.Query("SELECT * FROM x").ok());
  ASSERT_TRUE(ExecAdmin("ALTER TABLE x ADD COLUMN extra INT NOT NULL DEFAULT 42").ok());
  auto rows = lease_.Query("SELECT * FROM x");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*(*rows)[0].GetInt64("extra"), 42);
}

}  // namespace
}  // namespace lockstep::sql

namespace lockstep::sql {
namespace {

TEST_F(ValuesTest, RunTimeParamListBindsEveryRow) {
  ParamList params;
  std::string sql = "INSERT INTO x (s, n) VALUES ";
  for (int i = 0; i < 5; ++i) {
    sql += i == 0 ? "(?, ?)" : ", (?, ?)";
    params.Add("row-" + std::to_string(i) + "'--", i);
  }
  EXPECT_EQ(params.size(), 10u);
  auto ins = lease_.ExecuteList(sql, params);
  ASSERT_TRUE(ins.ok()) << ins.status();
  EXPECT_EQ(ins->affected_rows, 5u);
  ParamList in;
  in.Add(1, 3, Deadline::After(seconds(30)));  // A Deadline in the list is the call's deadline.
  auto rows = lease_.QueryList("SELECT s FROM x WHERE n IN (?, ?) ORDER BY n", in);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(*(*rows)[0].GetString(0), "row-1'--");
  EXPECT_EQ(*(*rows)[1].GetString(0), "row-3'--");
  ParamList short_list;
  short_list.Add(1);
  EXPECT_EQ(lease_.QueryList("SELECT s FROM x WHERE n IN (?, ?)", short_list).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ValuesTest, CallReturnsTheFirstResultSetAndKeepsTheConnectionInSync) {
  ASSERT_TRUE(lease_.Execute("CREATE PROCEDURE two_sets(IN p BIGINT) BEGIN "
                             "INSERT INTO x (n) VALUES (p); SELECT p + 1 AS a, 'it''s' AS s; SELECT 99 AS b; END")
                  .ok());
  ASSERT_TRUE(lease_.Execute("CREATE PROCEDURE fails_late(IN p BIGINT) BEGIN "
                             "SELECT p AS a; SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'late failure'; END")
                  .ok());
  for (int i = 0; i < 3; ++i) {  // The cached statement is reused: every call must resync.
    auto rows = lease_.Query("CALL two_sets(?)", 40 + i);
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(*(*rows)[0].GetInt64(0), 41 + i);
    EXPECT_EQ(*(*rows)[0].GetString(1), "it's");
  }
  EXPECT_EQ(*(*lease_.Query("SELECT COUNT(*) FROM x WHERE n BETWEEN 40 AND 42"))[0].GetInt64(0), 3);
  auto failed = lease_.Query("CALL fails_late(?)", 1);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("late failure"), std::string_view::npos) << failed.status();
  auto after = lease_.Query("SELECT 7");  // Still in sync after the failed CALL.
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*(*after)[0].GetInt64(0), 7);
}

}  // namespace
}  // namespace lockstep::sql
