#include "lockstep/cdc/binlog_reader.h"

#include <gtest/gtest.h>

namespace lockstep::cdc {
namespace {

TEST(TableFilterTest, ParsesAndMatches) {
  Result<TableFilter> one = TableFilter::Parse("shop.products");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_TRUE(one->Matches("shop", "products"));
  EXPECT_FALSE(one->Matches("shop", "orders"));
  EXPECT_FALSE(one->Matches("shop2", "products"));
  Result<TableFilter> all = TableFilter::Parse("shop.*");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Matches("shop", "orders"));
  for (const char* bad : {"", "shop", ".t", "shop.", "a.b.c"}) EXPECT_FALSE(TableFilter::Parse(bad).ok()) << bad;
}

TEST(BinlogReaderTest, OpenValidatesOptionsBeforeConnecting) {
  BinlogReaderOptions o;
  o.connection.user = "u";
  o.connection.port = 1;  // Nothing listens: only validation can answer.
  o.server_id = 77;
  o.tables = {TableFilter{"db", "t"}};
  auto expect_invalid = [](const BinlogReaderOptions& options) {
    Result<std::unique_ptr<BinlogReader>> r = BinlogReader::Open(options, Deadline::After(std::chrono::seconds(5)));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status();
  };
  BinlogReaderOptions bad = o;
  bad.server_id = 0;
  expect_invalid(bad);
  bad = o;
  bad.tables.clear();
  expect_invalid(bad);
  bad = o;
  bad.heartbeat_period = std::chrono::milliseconds(10);
  expect_invalid(bad);
  bad = o;
  bad.stall_timeout = std::chrono::seconds(1);
  bad.heartbeat_period = std::chrono::seconds(1);
  expect_invalid(bad);
  bad = o;
  bad.max_queued_transactions = 0;
  expect_invalid(bad);
  // Valid options against a closed port: the connection fails, kUnavailable.
  Result<std::unique_ptr<BinlogReader>> r = BinlogReader::Open(o, Deadline::After(std::chrono::seconds(5)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
}

}  // namespace
}  // namespace lockstep::cdc
