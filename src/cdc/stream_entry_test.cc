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

}  // namespace
}  // namespace lockstep::cdc
