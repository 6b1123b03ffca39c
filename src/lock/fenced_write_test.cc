#include "lockstep/lock/fenced_write.h"

#include <gtest/gtest.h>

namespace lockstep::lock {
namespace {

TEST(FencedWrite, BuildsConditionalUpdate) {
  Result<std::string> sql = internal::FencedUpdateSql({.table = "counters"}, "value = value + ?");
  ASSERT_TRUE(sql.ok()) << sql.status();
  EXPECT_EQ(*sql, "UPDATE `counters` SET value = value + ?, `fence` = ? WHERE `id` = ? AND `fence` <= ?");
}

TEST(FencedWrite, UsesCustomColumns) {
  Result<std::string> sql =
      internal::FencedUpdateSql({.table = "t1", .id_column = "order_id", .fence_column = "lock_fence"}, "x = 1");
  ASSERT_TRUE(sql.ok()) << sql.status();
  EXPECT_EQ(*sql, "UPDATE `t1` SET x = 1, `lock_fence` = ? WHERE `order_id` = ? AND `lock_fence` <= ?");
}

TEST(FencedWrite, RejectsBadIdentifiers) {
  for (std::string_view bad : {"", "1abc", "a-b", "a`b", "a b", "t;DROP", "x'y",
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_EQ(internal::ValidateIdentifier(bad).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(internal::FencedUpdateSql({.table = bad}, "x = 1").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(internal::FencedUpdateSql({.table = "t", .fence_column = bad}, "x = 1").status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(internal::ValidateIdentifier("_a1").ok());
}

TEST(FencedWrite, RejectsLiteralsAndCommentsInSetClause) {
  for (std::string_view bad : {"", "  ", "name = 'x'", "name = \"x\"", "x = 1; DROP TABLE t", "x = 1 -- c",
                               "x = 1 /* c */", "x = `y`", "x = 1 # c"}) {
    EXPECT_EQ(internal::ValidateSetClause(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(internal::ValidateSetClause("holder = ?, counter = counter + 1").ok());
}

}  // namespace
}  // namespace lockstep::lock
