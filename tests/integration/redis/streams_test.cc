#include "lockstep/redis/streams.h"

#include <gtest/gtest.h>

#include <chrono>

#include "support/redis_test.h"

namespace lockstep::testing {
namespace {

using namespace std::chrono_literals;
using namespace lockstep::redis;

class StreamsTest : public RedisTest {};

TEST_F(StreamsTest, GroupReadAckAndAutoClaimFromDeadConsumer) {
  const std::string stream = Key("events");
  ASSERT_TRUE(XGroupCreate(client(), stream, "g", "0", /*mkstream=*/true, Deadline::After(5s)).ok());
  // BUSYGROUP: creating it again is OK.
  ASSERT_TRUE(XGroupCreate(client(), stream, "g", "0", true, Deadline::After(5s)).ok());

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    Result<std::string> id =
        XAdd(client(), stream, {{"n", std::to_string(i)}, {"blob", std::string("\0x", 2)}}, Deadline::After(5s));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }

  Result<std::vector<StreamEntry>> read = XReadGroup(client(), "g", "dead", stream, 10, 0ms, Deadline::After(5s));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 3u);
  EXPECT_EQ((*read)[1].id, ids[1]);
  EXPECT_EQ((*read)[1].fields, (StreamFields{{"n", "1"}, {"blob", std::string("\0x", 2)}}));

  Result<int64_t> acked = XAck(client(), stream, "g", {ids[0]}, Deadline::After(5s));
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 1);
  Result<PendingSummary> pending = XPendingSummary(client(), stream, "g", Deadline::After(5s));
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->count, 2);
  EXPECT_EQ(pending->min_id, ids[1]);
  ASSERT_EQ(pending->consumers.size(), 1u);
  EXPECT_EQ(pending->consumers[0], (std::pair<std::string, int64_t>{"dead", 2}));

  // "dead" never acks; "alive" reclaims its entries (min_idle 0: no waiting needed).
  Result<AutoClaimResult> claimed =
      XAutoClaim(client(), stream, "g", "alive", 0ms, "0-0", 10, Deadline::After(5s));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(claimed->next_cursor, "0-0");
  ASSERT_EQ(claimed->entries.size(), 2u);
  EXPECT_EQ(claimed->entries[0].id, ids[1]);
  EXPECT_EQ(claimed->entries[1].fields.at(0).second, "2");
  EXPECT_TRUE(claimed->deleted_ids.empty());
  ASSERT_TRUE(XAck(client(), stream, "g", {ids[1], ids[2]}, Deadline::After(5s)).ok());
  pending = XPendingSummary(client(), stream, "g", Deadline::After(5s));
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->count, 0);
  EXPECT_TRUE(pending->consumers.empty());
}

TEST_F(StreamsTest, AutoClaimReportsDeletedEntries) {
  const std::string stream = Key("s");
  ASSERT_TRUE(XGroupCreate(client(), stream, "g", "$", true, Deadline::After(5s)).ok());
  Result<std::string> a = XAdd(client(), stream, {{"k", "a"}}, Deadline::After(5s));
  Result<std::string> b = XAdd(client(), stream, {{"k", "b"}}, Deadline::After(5s));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(XReadGroup(client(), "g", "c1", stream, 10, 0ms, Deadline::After(5s))->size(), 2u);
  ASSERT_TRUE(client().Command({"XDEL", stream, *a}, Deadline::After(5s)).ok());
  Result<AutoClaimResult> claimed = XAutoClaim(client(), stream, "g", "c2", 0ms, "0-0", 10, Deadline::After(5s));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->entries.size(), 1u);
  EXPECT_EQ(claimed->entries[0].id, *b);
  EXPECT_EQ(claimed->deleted_ids, std::vector<std::string>{*a});
}

TEST_F(StreamsTest, BlockingReadIsBoundedByTheDeadline) {
  const std::string stream = Key("empty");
  ASSERT_TRUE(XGroupCreate(client(), stream, "g", "$", true, Deadline::After(5s)).ok());
  // BLOCK 60s requested, deadline 500ms: the block is cut, the call returns empty, on time,
  // and the connection is kept (no socket timeout fired).
  const auto before = client().stats().discarded;
  Result<std::vector<StreamEntry>> r = XReadGroup(client(), "g", "c", stream, 1, 60s, Deadline::After(500ms));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(client().stats().discarded, before);
}

TEST_F(StreamsTest, ErrorsAndTrim) {
  const std::string stream = Key("t");
  Result<std::vector<StreamEntry>> nogroup = XReadGroup(client(), "nope", "c", stream, 1, 0ms, Deadline::After(5s));
  EXPECT_EQ(nogroup.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(XGroupCreate(client(), stream, "g", "0", false, Deadline::After(5s)).code(), StatusCode::kNotFound);
  EXPECT_EQ(XAdd(client(), stream, {}, Deadline::After(5s)).status().code(), StatusCode::kInvalidArgument);
  XAddOptions nomk;
  nomk.no_mkstream = true;
  EXPECT_EQ(XAdd(client(), stream, {{"f", "v"}}, Deadline::After(5s), nomk).status().code(), StatusCode::kNotFound);

  XAddOptions explicit_id;
  for (int i = 1; i <= 5; ++i) {
    explicit_id.id = std::to_string(i) + "-0";
    ASSERT_TRUE(XAdd(client(), stream, {{"i", std::to_string(i)}}, Deadline::After(5s), explicit_id).ok());
  }
  Result<int64_t> trimmed = XTrimMinId(client(), stream, "3-0", Deadline::After(5s));
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_EQ(*trimmed, 2);
  EXPECT_EQ(*XLen(client(), stream, Deadline::After(5s)), 3);
  XAddOptions capped;
  capped.max_len = 2;
  capped.approximate_trim = false;
  ASSERT_TRUE(XAdd(client(), stream, {{"i", "6"}}, Deadline::After(5s), capped).ok());
  EXPECT_EQ(*XLen(client(), stream, Deadline::After(5s)), 2);
}

}  // namespace
}  // namespace lockstep::testing
