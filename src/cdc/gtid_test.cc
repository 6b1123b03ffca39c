#include "lockstep/cdc/gtid.h"

#include <gtest/gtest.h>

#include "lockstep/cdc/stream_publisher.h"

namespace lockstep::cdc {
namespace {

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
