#include "cdc/row_decoder.h"

#include <gtest/gtest.h>

namespace lockstep::cdc::internal {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// "id" INT UNSIGNED, "n" BIGINT, "price" DECIMAL(10,2), "name" VARCHAR(20), "code" CHAR(4),
// "t" TINYINT.
TableLayout TestLayout() {
  const std::string types = Bytes({kTypeLong, kTypeLongLong, kTypeNewDecimal, kTypeVarchar, kTypeString, kTypeTiny});
  const std::string meta = Bytes({10, 2, 20, 0, kTypeString, 16});
  const std::string signedness = Bytes({0x80});  // First numeric column unsigned.
  const std::string names = Bytes({2, 'i', 'd', 1, 'n', 5, 'p', 'r', 'i', 'c', 'e', 4, 'n', 'a', 'm', 'e', 4, 'c', 'o', 'd', 'e', 1, 't'});
  const std::string pk = Bytes({0});
  TableMapParts parts;
  parts.database = "db";
  parts.table = "t";
  parts.column_types = types;
  parts.metadata = meta;
  parts.signedness = signedness;
  parts.column_names = names;
  parts.simple_primary_key = pk;
  Result<TableLayout> layout = BuildTableLayout(parts);
  EXPECT_TRUE(layout.ok()) << layout.status();
  return *layout;
}

TEST(DecodeDecimalTest, MatchesMariaDbBinaryFormat) {
  size_t size = 0;
  // DECIMAL(10,2) 1234.56: intg 8 -> 4 bytes (int part), frac 2 -> 1 byte; sign bit set.
  Result<std::string> v = DecodeDecimal(Bytes({0x80, 0x00, 0x04, 0xD2, 0x38}), 10, 2, &size);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "1234.56");
  EXPECT_EQ(size, 5u);
  // -1234.56: every byte inverted.
  v = DecodeDecimal(Bytes({0x7F, 0xFF, 0xFB, 0x2D, 0xC7}), 10, 2, &size);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "-1234.56");
  // 0.05 with DECIMAL(4,2).
  v = DecodeDecimal(Bytes({0x80, 0x05}), 4, 2, &size);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "0.05");
  EXPECT_EQ(size, 2u);
  EXPECT_FALSE(DecodeDecimal(Bytes({0x80}), 10, 2, &size).ok());
}

TEST(RowDecoderTest, DecodesNamesTypesNullsAndSigns) {
  const TableLayout layout = TestLayout();
  ASSERT_EQ(layout.schema->columns.size(), 6u);
  EXPECT_EQ(layout.schema->columns[2].name, "price");
  EXPECT_TRUE(layout.schema->columns[0].is_unsigned);
  EXPECT_FALSE(layout.schema->columns[1].is_unsigned);
  ASSERT_EQ(layout.schema->primary_key.size(), 1u);
  // One row: id=4000000000, n=-2, price NULL, name "ab", code "xy", t=-1.
  const std::string present = Bytes({0x3F});
  const std::string data = Bytes({0x04,                               // NULL bitmap: column 2.
                                  0x00, 0x28, 0x6B, 0xEE,             // 4000000000 LE
                                  0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  2, 'a', 'b', 2, 'x', 'y', 0xFF});
  std::vector<RowChange> rows;
  Status s = DecodeRows(layout, RowOp::kInsert, present, "", data, &rows);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(rows.size(), 1u);
  const RowChange& r = rows[0];
  EXPECT_EQ(*r.Get("id"), Value::Uint(4000000000u));
  EXPECT_EQ(*r.Get("n"), Value::Int(-2));
  EXPECT_TRUE(r.Get("price")->is_null());
  EXPECT_EQ(*r.Get("name"), Value::String("ab"));
  EXPECT_EQ(*r.Get("code"), Value::String("xy"));
  EXPECT_EQ(*r.Get("t"), Value::Int(-1));
  // Truncated data is an error, never a partial row.
  rows.clear();
  EXPECT_FALSE(DecodeRows(layout, RowOp::kInsert, present, "", data.substr(0, data.size() - 1), &rows).ok());
}

TEST(RowDecoderTest, RefusesTablesWithoutColumnNames) {
  const std::string types = Bytes({kTypeLong});
  TableMapParts parts;
  parts.column_types = types;
  Result<TableLayout> layout = BuildTableLayout(parts);
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(layout.status().reason(), "binlog_settings");
}

}  // namespace
}  // namespace lockstep::cdc::internal
