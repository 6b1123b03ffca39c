#include "lockstep/cdc/gtid.h"

#include <gtest/gtest.h>

#include "lockstep/cdc/stream_publisher.h"

namespace lockstep::cdc {
namespace {

TEST(GtidTest, ParsesAndPrints) {
  Result<Gtid> g = Gtid::Parse("0-1-42");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->domain_id, 0u);
  EXPECT_EQ(g->server_id, 1u);
  EXPECT_EQ(g->seq_no, 42u);
  EXPECT_EQ(g->ToString(), "0-1-42");
  for (const char* bad : {"", "0-1", "0-1-", "a-1-2", "0-1-2-3", "-1-2", "0--2"}) {
    EXPECT_FALSE(Gtid::Parse(bad).ok()) << bad;
  }
}

TEST(GtidPositionTest, KeepsOneEntryPerDomainSorted) {
  Result<GtidPosition> p = GtidPosition::Parse(" 1-2-7, 0-1-42 ");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->ToString(), "0-1-42,1-2-7");
  p->Advance(Gtid{0, 3, 43});
  EXPECT_EQ(p->ToString(), "0-3-43,1-2-7");
  EXPECT_TRUE(p->Covers(Gtid{0, 1, 43}));
  EXPECT_FALSE(p->Covers(Gtid{0, 1, 44}));
  EXPECT_FALSE(p->Covers(Gtid{5, 1, 1}));
  EXPECT_TRUE(GtidPosition::Parse("")->empty());
  EXPECT_FALSE(GtidPosition::Parse("0-1-1,0-1-2").ok());
  EXPECT_FALSE(GtidPosition::Parse("0-1-1,").ok());
}

TEST(StreamCheckpointTest, RoundTrips) {
  StreamCheckpoint cp;
  cp.position = *GtidPosition::Parse("0-1-10");
  EXPECT_EQ(cp.ToString(), "0-1-10");
  EXPECT_EQ(*StreamCheckpoint::Parse("0-1-10"), cp);
  cp.partial = Gtid{0, 1, 11};
  cp.rows_done = 500;
  EXPECT_EQ(cp.ToString(), "0-1-10|0-1-11|500");
  EXPECT_EQ(*StreamCheckpoint::Parse(cp.ToString()), cp);
  EXPECT_EQ(*StreamCheckpoint::Parse(""), StreamCheckpoint{});
  EXPECT_FALSE(StreamCheckpoint::Parse("0-1-10|0-1-11").ok());
  EXPECT_FALSE(StreamCheckpoint::Parse("0-1-10|0-1-11|x").ok());
}

}  // namespace
}  // namespace lockstep::cdc
