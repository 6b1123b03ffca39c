#include "lockstep/outbox/event_entry.h"

#include <gtest/gtest.h>

namespace lockstep::outbox {
namespace {

std::shared_ptr<const cdc::TableSchema> OutboxSchema() {
  auto s = std::make_shared<cdc::TableSchema>();
  s->database = "db";
  s->table = "outbox";
  for (const char* c : {"id", "type", "aggregate", "aggregate_version", "data", "appended_at"}) {
    s->columns.push_back(cdc::ColumnInfo{c, 0, false});
  }
  s->primary_key = {0};
  return s;
}

cdc::RowChange InsertRow() {
  cdc::RowChange c;
  c.schema = OutboxSchema();
  c.op = cdc::RowOp::kInsert;
  c.after = {cdc::Value::Uint(17), cdc::Value::String("order.confirmed"), cdc::Value::String("order:3"),
             cdc::Value::Uint(1), cdc::Value::String(R"({"qty":2})"), cdc::Value::Temporal("2026-12-08 01:00:00")};
  return c;
}

TEST(EventEntry, RoundTripsThroughTheStreamFields) {
  StoredEvent e;
  e.event_id = 42;
  e.type = "transfer.completed";
  e.aggregate = "transfer:9";
  e.aggregate_version = 3;
  e.data = R"({"amount":"1.00"})";
  const std::vector<std::string> fields = EncodeEventEntry(e);
  ASSERT_EQ(fields.size(), 10u);
  EXPECT_EQ(fields[0], "event_id");
  EXPECT_EQ(fields[8], "data");
  Result<StoredEvent> back = DecodeEventEntry(fields);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->event_id, 42);
  EXPECT_EQ(back->type, e.type);
  EXPECT_EQ(back->aggregate, e.aggregate);
  EXPECT_EQ(back->aggregate_version, 3);
  EXPECT_EQ(back->data, e.data);
}

TEST(EventEntry, RefusesEntriesThatAreNotEvents) {
  EXPECT_EQ(DecodeEventEntry({"type", "row", "gtid", "0-1-2"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeEventEntry({"event_id", "x", "type", "a", "aggregate", "b", "aggregate_version", "1", "data", "{}"})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeEventEntry({"event_id", "1", "type", "a", "aggregate", "b", "aggregate_version", "0", "data", "{}"})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeEventEntry({"event_id"}).status().code(), StatusCode::kInvalidArgument);
}

TEST(EventEntry, AnOutboxInsertIsAnEventAndOtherChangesAreNot) {
  Result<StoredEvent> e = EventFromRow(InsertRow());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->event_id, 17);
  EXPECT_EQ(e->type, "order.confirmed");
  EXPECT_EQ(e->aggregate, "order:3");
  EXPECT_EQ(e->aggregate_version, 1);
  EXPECT_EQ(e->data, R"({"qty":2})");
  cdc::RowChange del = InsertRow();
  del.op = cdc::RowOp::kDelete;
  del.before = del.after;
  del.after.clear();
  EXPECT_EQ(EventFromRow(del).status().code(), StatusCode::kNotFound);
  cdc::RowChange bad = InsertRow();
  bad.after[3] = cdc::Value::String("x");
  EXPECT_EQ(EventFromRow(bad).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockstep::outbox
