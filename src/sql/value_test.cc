#include <gtest/gtest.h>

#include <optional>

#include "lockstep/sql/row.h"
#include "lockstep/sql/value.h"

namespace lockstep::sql {
namespace {

TEST(ParamPack, ConvertsEveryArgumentKind) {
  const std::string s = "text";
  const std::optional<int> none;
  const std::optional<std::string> some = "x";
  const Timestamp ts{std::chrono::microseconds(123)};
  const Deadline d = Deadline::After(std::chrono::seconds(1));
  internal::ParamPack pack(int64_t{-1}, int32_t{2}, uint64_t{3}, 1.5, true, s, std::string_view("sv"), "lit",
                           Bytes{std::string("\0b", 2)}, std::nullopt, none, some, ts, d);
  const auto& p = pack.params();
  ASSERT_EQ(p.size(), 13u);
  EXPECT_EQ(p[0].kind, Param::Kind::kInt64);
  EXPECT_EQ(p[0].i, -1);
  EXPECT_EQ(p[1].i, 2);
  EXPECT_EQ(p[2].kind, Param::Kind::kUint64);
  EXPECT_EQ(p[3].kind, Param::Kind::kDouble);
  EXPECT_EQ(p[4].i, 1);
  EXPECT_EQ(p[5].s, "text");
  EXPECT_EQ(p[6].s, "sv");
  EXPECT_EQ(p[7].s, "lit");
  EXPECT_EQ(p[8].kind, Param::Kind::kBytes);
  EXPECT_EQ(p[8].s.size(), 2u);
  EXPECT_EQ(p[9].kind, Param::Kind::kNull);
  EXPECT_EQ(p[10].kind, Param::Kind::kNull);
  EXPECT_EQ(p[11].s, "x");
  EXPECT_EQ(p[12].kind, Param::Kind::kTimestamp);
  ASSERT_TRUE(pack.deadline().has_value());
  EXPECT_EQ(*pack.deadline(), d);
}

Row MakeRow() {
  auto cols = std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"id", "name", "n", "big"});
  std::vector<Cell> cells(4);
  cells[0].kind = Cell::Kind::kInt64;
  cells[0].i = 7;
  cells[1].kind = Cell::Kind::kText;
  cells[1].s = "bob";
  cells[3].kind = Cell::Kind::kUint64;
  cells[3].u = ~uint64_t{0};
  return Row(cols, std::move(cells));
}

TEST(Row, TypedAccessReturnsStatusNeverUb) {
  const Row row = MakeRow();
  EXPECT_EQ(*row.GetInt64(0), 7);
  EXPECT_EQ(*row.GetInt64("id"), 7);
  EXPECT_EQ(*row.GetDouble("id"), 7.0);
  EXPECT_EQ(*row.GetString("name"), "bob");
  EXPECT_EQ(row.GetInt64("name").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(row.GetString(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(*row.IsNull("n"));
  EXPECT_FALSE(*row.IsNull(0));
  EXPECT_EQ(row.GetInt64("n").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(row.GetInt64(9).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(row.GetInt64("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(row.GetInt64("big").status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(*row.GetUint64("big"), ~uint64_t{0});
  EXPECT_EQ(row.GetTimestamp(0).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockstep::sql
