#include "lockstep/cdc/stream_entry.h"

#include <gtest/gtest.h>

namespace lockstep::cdc {
namespace {

TEST(StreamEntryTest, RoundTripsEveryValueKind) {
  auto schema = std::make_shared<TableSchema>();
  schema->database = "shop";
  schema->table = "products";
  for (const char* name : {"id", "u", "f", "price", "name", "at", "gone", "odd"}) schema->columns.push_back({name, 0, false});
  schema->primary_key = {0};
  CommittedTransaction txn;
  txn.gtid = Gtid{0, 1, 9};
  txn.commit_time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  RowChange change;
  change.schema = schema;
  change.op = RowOp::kUpdate;
  change.before = {Value::Int(-5), Value::Uint(7), Value::Double(0.5), Value::Decimal("1.50"),
                   Value::String(std::string("a\0b", 3)), Value::Temporal("2026-12-07 18:00:00"), Value::Null(),
                   Value::Unsupported("TIME")};
  change.after = change.before;
  change.after[3] = Value::Decimal("2.00");
  change.after[6] = Value::Absent();
  txn.changes = {change};
  Result<StreamRow> row = DecodeStreamEntry(EncodeStreamEntry(txn, 0));
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->gtid, txn.gtid);
  EXPECT_EQ(row->row, 0u);
  EXPECT_EQ(row->rows, 1u);
  EXPECT_EQ(row->commit_unix_seconds, 1700000000);
  EXPECT_EQ(row->database, "shop");
  EXPECT_EQ(row->table, "products");
  EXPECT_EQ(row->op, RowOp::kUpdate);
  EXPECT_EQ(row->primary_key, std::vector<std::string>{"id"});
  ASSERT_EQ(row->before.size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(row->before[i].second, change.before[i]) << i;
  ASSERT_EQ(row->after.size(), 7u);  // The absent column is left out.
  EXPECT_EQ(*row->Get("price"), Value::Decimal("2.00"));
  EXPECT_EQ(row->Get("gone"), nullptr);
  EXPECT_FALSE(DecodeStreamEntry({"type", "gap"}).ok());
  EXPECT_FALSE(DecodeStreamEntry({"type"}).ok());
}

}  // namespace
}  // namespace lockstep::cdc

namespace lockstep::cdc {
namespace {

TEST(StreamEntryTest, GapEntriesRoundTripAndAreNotRows) {
  StreamGap gap{*GtidPosition::Parse("0-1-5"), *GtidPosition::Parse("0-1-90,1-2-3"), "gap: purged"};
  const std::vector<std::string> fields = EncodeGapEntry(gap);
  Result<StreamGap> back = DecodeGapEntry(fields);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->from, gap.from);
  EXPECT_EQ(back->to, gap.to);
  EXPECT_EQ(back->reason, gap.reason);
  EXPECT_FALSE(DecodeStreamEntry(fields).ok());
  EXPECT_EQ(DecodeGapEntry({"type", "row"}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lockstep::cdc

namespace lockstep::cdc {
namespace {

TEST(StreamEntryTest, DdlEntriesRoundTrip) {
  CommittedTransaction txn;
  txn.gtid = Gtid{0, 1, 77};
  txn.commit_time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000001));
  txn.ddl = {DdlStatement{"shop", "TRUNCATE TABLE products"}};
  Result<StreamDdl> ddl = DecodeDdlEntry(EncodeDdlEntry(txn, 0));
  ASSERT_TRUE(ddl.ok()) << ddl.status();
  EXPECT_EQ(ddl->gtid, txn.gtid);
  EXPECT_EQ(ddl->commit_unix_seconds, 1700000001);
  EXPECT_EQ(ddl->database, "shop");
  EXPECT_EQ(ddl->statement, "TRUNCATE TABLE products");
  EXPECT_EQ(DecodeDdlEntry({"type", "row"}).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(DecodeStreamEntry(EncodeDdlEntry(txn, 0)).ok());
}

// A multi-row entry decodes into the same rows one "row" entry each would give: every
// value kind, values containing ':' and digits, a column absent from some rows only.
TEST(StreamEntryTest, MultiRowEntryDecodesLikeSingleRowEntries) {
  auto schema = std::make_shared<TableSchema>();
  schema->database = "shop";
  schema->table = "items";
  for (const char* name : {"id", "note", "price", "at"}) schema->columns.push_back({name, 0, false});
  schema->primary_key = {0};
  CommittedTransaction txn;
  txn.gtid = Gtid{0, 1, 12};
  txn.commit_time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  for (int i = 0; i < 5; ++i) {
    RowChange c;
    c.schema = schema;
    c.op = RowOp::kUpdate;
    c.before = {Value::Int(i), Value::String("12:3" + std::string(static_cast<size_t>(i), ':')), Value::Decimal("1.50"),
                Value::Temporal("2026-12-07 18:00:00")};
    c.after = c.before;
    c.after[2] = i % 2 == 0 ? Value::Null() : Value::Decimal(std::to_string(i) + ".25");
    if (i == 3) c.after[1] = Value::Absent();
    if (i == 4) c.after[1] = Value::String(std::string("\0", 1));
    txn.changes.push_back(c);
  }
  ASSERT_EQ(RowsEntryEnd(txn, 0, 100), 5u);
  ASSERT_EQ(RowsEntryEnd(txn, 1, 3), 4u);
  Result<std::vector<StreamRow>> rows = DecodeRowEntries(EncodeRowsEntry(txn, 1, 5));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 4u);
  for (size_t k = 0; k < 4; ++k) {
    Result<StreamRow> single = DecodeStreamEntry(EncodeStreamEntry(txn, 1 + k));
    ASSERT_TRUE(single.ok()) << single.status();
    const StreamRow& multi = (*rows)[k];
    EXPECT_EQ(multi.row, 1 + k);
    EXPECT_EQ(multi.rows, 5u);
    EXPECT_EQ(multi.gtid, txn.gtid);
    EXPECT_EQ(multi.commit_unix_seconds, 1700000000);
    EXPECT_EQ(multi.database, "shop");
    EXPECT_EQ(multi.table, "items");
    EXPECT_EQ(multi.op, RowOp::kUpdate);
    EXPECT_EQ(multi.primary_key, single->primary_key);
    EXPECT_EQ(multi.before, single->before) << k;
    EXPECT_EQ(multi.after, single->after) << k;
  }
  EXPECT_EQ((*rows)[2].after.size(), 3u);  // Row 3 lacks `note`.
  // A single-row entry decodes through DecodeRowEntries too; gap and DDL entries do not.
  Result<std::vector<StreamRow>> one = DecodeRowEntries(EncodeStreamEntry(txn, 0));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->size(), 1u);
  EXPECT_EQ(DecodeRowEntries(EncodeGapEntry({})).status().code(), StatusCode::kNotFound);
  // A multi-row entry is not mistaken for one row.
  EXPECT_FALSE(DecodeStreamEntry(EncodeRowsEntry(txn, 0, 2)).ok());
}

// Another op or table layout starts a new entry.
TEST(StreamEntryTest, MultiRowEntriesStopAtAnotherOpOrTable) {
  auto a = std::make_shared<TableSchema>();
  a->database = "shop";
  a->table = "a";
  a->columns = {{"id", 0, false}};
  auto b = std::make_shared<TableSchema>(*a);
  b->table = "b";
  CommittedTransaction txn;
  auto add = [&](std::shared_ptr<TableSchema> schema, RowOp op) {
    RowChange c;
    c.schema = schema;
    c.op = op;
    if (op != RowOp::kDelete) c.after = {Value::Int(1)};
    if (op != RowOp::kInsert) c.before = {Value::Int(1)};
    txn.changes.push_back(c);
  };
  add(a, RowOp::kInsert);
  add(a, RowOp::kInsert);
  add(a, RowOp::kDelete);
  add(b, RowOp::kDelete);
  EXPECT_EQ(RowsEntryEnd(txn, 0, 100), 2u);
  EXPECT_EQ(RowsEntryEnd(txn, 2, 100), 3u);
  EXPECT_EQ(RowsEntryEnd(txn, 3, 100), 4u);
  EXPECT_EQ(RowsEntryEnd(txn, 0, 1), 1u);
}

// Malformed packed values are refused, never misread.
TEST(StreamEntryTest, MalformedMultiRowEntriesAreRefused) {
  const std::vector<std::string> head = {"type", "rows", "gtid", "0-1-5", "row", "0", "count", "2",
                                         "rows", "2", "ts", "1", "db", "d", "table", "t", "op", "insert", "pk", "id"};
  auto with = [&](std::string field, std::string value) {
    std::vector<std::string> f = head;
    f.push_back(std::move(field));
    f.push_back(std::move(value));
    return DecodeRowEntries(f);
  };
  ASSERT_TRUE(with("a:id", "2:i12:i2").ok());
  EXPECT_FALSE(with("a:id", "2:i1").ok());            // One value for two rows.
  EXPECT_FALSE(with("a:id", "2:i12:i22:i3").ok());     // Three values.
  EXPECT_FALSE(with("a:id", "9:i12:i2").ok());         // Length past the end.
  EXPECT_FALSE(with("a:id", "x:i12:i2").ok());         // Not a length.
  EXPECT_FALSE(with("a:id", "2:q12:i2").ok());         // Unknown tag.
  std::vector<std::string> no_count = head;
  no_count[7] = "0";
  EXPECT_FALSE(DecodeRowEntries(no_count).ok());
  // A count the packed values cannot hold is refused before anything is allocated for it.
  std::vector<std::string> huge = head;
  huge[7] = "1000000";
  huge.push_back("a:id");
  huge.push_back("2:i1");
  EXPECT_FALSE(DecodeRowEntries(huge).ok());
  EXPECT_FALSE(DecodeRowEntries(head).ok());  // No image at all.
}

}  // namespace
}  // namespace lockstep::cdc
