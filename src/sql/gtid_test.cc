#include "lockstep/sql/gtid.h"

#include <gtest/gtest.h>

namespace lockstep::sql {
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

TEST(GtidPositionTest, CoversAnotherPositionDomainByDomain) {
  const GtidPosition replica = *GtidPosition::Parse("0-1-42,1-2-7");
  EXPECT_TRUE(replica.Covers(*GtidPosition::Parse("0-1-42")));
  EXPECT_TRUE(replica.Covers(*GtidPosition::Parse("0-3-40,1-2-7")));
  EXPECT_FALSE(replica.Covers(*GtidPosition::Parse("0-1-43")));
  EXPECT_FALSE(replica.Covers(*GtidPosition::Parse("0-1-1,2-1-1")));  // Unknown domain.
  EXPECT_TRUE(replica.Covers(GtidPosition()));
  EXPECT_EQ(replica.SeqDistance(*GtidPosition::Parse("0-1-50,1-2-7,2-1-3")), 11u);
  EXPECT_EQ(replica.SeqDistance(*GtidPosition::Parse("0-1-40")), 0u);
}

}  // namespace
}  // namespace lockstep::sql
