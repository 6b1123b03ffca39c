#include "routing/router.h"

#include <gtest/gtest.h>

namespace lockstep::routing::internal {
namespace {

using std::chrono::milliseconds;
const SteadyClock::time_point kNow = SteadyClock::time_point{} + std::chrono::hours(1);

ReplicaView Replica(bool in_rotation, milliseconds behind, const char* position, double latency_us) {
  return ReplicaView{in_rotation, kNow - behind, *sql::GtidPosition::Parse(position), latency_us};
}
Consistency Token(const char* text) { return Consistency::AtLeast(*ConsistencyToken::Parse(text)); }

TEST(FreshReplicas, MaxStalenessPicksCoveredReplicasByLatency) {
  const std::vector<ReplicaView> r = {Replica(true, milliseconds(30), "0-1-10", 900),
                                      Replica(true, milliseconds(10), "0-1-12", 300),
                                      Replica(true, milliseconds(2000), "0-1-5", 100),
                                      Replica(false, milliseconds(0), "0-1-12", 50)};
  EXPECT_EQ(FreshReplicas(r, Consistency::MaxStaleness(milliseconds(50)), kNow), (std::vector<size_t>{1, 0}));
  EXPECT_EQ(FreshReplicas(r, Consistency::MaxStaleness(milliseconds(20)), kNow), (std::vector<size_t>{1}));
  EXPECT_TRUE(FreshReplicas(r, Consistency::MaxStaleness(milliseconds(5)), kNow).empty());
  EXPECT_TRUE(FreshReplicas(r, Consistency::MaxStaleness(milliseconds(0)), kNow).empty());
  EXPECT_TRUE(FreshReplicas(r, Consistency::Primary(), kNow).empty());
  // Staleness unknown (never saw a heartbeat): never fresh.
  std::vector<ReplicaView> unknown = {ReplicaView{true, std::nullopt, {}, 1}};
  EXPECT_TRUE(FreshReplicas(unknown, Consistency::MaxStaleness(milliseconds(60'000)), kNow).empty());
}

TEST(FreshReplicas, AtLeastNeedsEveryDomainCovered) {
  const std::vector<ReplicaView> r = {Replica(true, milliseconds(0), "0-1-10,1-1-4", 500),
                                      Replica(true, milliseconds(0), "0-1-12", 100),
                                      Replica(false, milliseconds(0), "0-1-99,1-1-99", 1)};
  EXPECT_EQ(FreshReplicas(r, Token("0-1-10"), kNow), (std::vector<size_t>{1, 0}));
  EXPECT_EQ(FreshReplicas(r, Token("0-2-12"), kNow), (std::vector<size_t>{1}));  // Server id plays no part.
  EXPECT_EQ(FreshReplicas(r, Token("0-1-10,1-1-4"), kNow), (std::vector<size_t>{0}));
  EXPECT_TRUE(FreshReplicas(r, Token("0-1-13"), kNow).empty());
}

TEST(WaitCandidate, BestReplicaThatKnowsEveryDomain) {
  const std::vector<ReplicaView> r = {Replica(true, milliseconds(0), "0-1-10,1-1-4", 500),
                                      Replica(true, milliseconds(0), "0-1-12", 100),
                                      Replica(false, milliseconds(0), "0-1-12,1-1-1", 1)};
  EXPECT_EQ(WaitCandidate(r, Token("0-1-20")), 1u);  // 8 short, against 10 (and faster).
  EXPECT_EQ(WaitCandidate(r, Token("1-1-20")), 0u);
  // The replica closest to the token wins over a faster one far behind.
  const std::vector<ReplicaView> behind = {Replica(true, milliseconds(0), "0-1-500", 900),
                                           Replica(true, milliseconds(0), "0-1-100", 100)};
  EXPECT_EQ(WaitCandidate(behind, Token("0-1-501")), 0u);
  EXPECT_EQ(WaitCandidate(behind, Token("0-1-50")), 1u);  // Both past it: latency decides.
  EXPECT_FALSE(WaitCandidate(r, Token("7-1-1")).has_value());  // Another domain: nobody will get it.
  EXPECT_FALSE(WaitCandidate(r, Consistency::MaxStaleness(milliseconds(50))).has_value());
}

TEST(WaitBudget, CappedByTheOptionAndTheDeadline) {
  EXPECT_EQ(WaitBudget(milliseconds(100), 0.5, std::chrono::seconds(10)), milliseconds(100));
  EXPECT_EQ(WaitBudget(milliseconds(100), 0.5, milliseconds(60)), milliseconds(30));
  EXPECT_EQ(WaitBudget(milliseconds(100), 0.5, milliseconds(1)), milliseconds(0));
  EXPECT_EQ(WaitBudget(milliseconds(0), 0.5, std::chrono::seconds(10)), milliseconds(0));
  EXPECT_EQ(WaitBudget(milliseconds(100), 0.5, milliseconds(-5)), milliseconds(0));
}

}  // namespace
}  // namespace lockstep::routing::internal
