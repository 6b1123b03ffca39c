#include "lockstep/routing/consistency_token.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <type_traits>

#include "lockstep/routing/consistency.h"
#include "lockstep/routing/options.h"
#include "lockstep/routing/read_source.h"
#include "lockstep/routing/read_transaction.h"
#include "lockstep/sql/transaction.h"

namespace lockstep::routing {
namespace {

TEST(ConsistencyToken, ParsesAndPrintsCanonically) {
  auto t = ConsistencyToken::Parse("1-2-7,0-1-42");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ToString(), "0-1-42,1-2-7");
  EXPECT_EQ(*ConsistencyToken::Parse(t->ToString()), *t);
}

TEST(ConsistencyToken, RejectsMalformedTokensAsInvalidArgument) {
  const std::string too_long(kMaxTokenLength + 1, '1');
  for (const std::string& bad : {std::string(""), std::string("x"), std::string("0-1"), std::string("0-1-2,"),
                                std::string("0-1-2,0-1-3"), std::string("0-1-2 ,1-1-1\n"), std::string("0-1-\x01"),
                                std::string("0-1-99999999999999999999999"), std::string("-1-1-1"), too_long}) {
    auto t = ConsistencyToken::Parse(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ConsistencyToken::FromPosition(sql::GtidPosition()).ok());
}

TEST(Consistency, FactoriesKeepTheirArguments) {
  EXPECT_EQ(Consistency::Primary().kind(), Consistency::Kind::kPrimary);
  EXPECT_EQ(Consistency::MaxStaleness(std::chrono::milliseconds(50)).max_staleness().count(), 50);
  EXPECT_EQ(Consistency::MaxStaleness(std::chrono::milliseconds(-5)).max_staleness().count(), 0);
  const auto c = Consistency::AtLeast(*ConsistencyToken::Parse("0-1-3"));
  EXPECT_EQ(c.kind(), Consistency::Kind::kAtLeast);
  EXPECT_EQ(c.token().ToString(), "0-1-3");
}

// A ReadTransaction cannot write: the type has no statement API that is not a query.
template <typename T>
concept CanExecute = requires(T& t) { t.Execute(std::string_view("DELETE FROM t")); };
template <typename T>
concept CanSavepoint = requires(T& t) { t.NewSavepoint(std::string_view("s")); };
static_assert(CanExecute<sql::Transaction>);
static_assert(!CanExecute<ReadTransaction>);
static_assert(!CanSavepoint<ReadTransaction>);
static_assert(!std::is_copy_constructible_v<ReadTransaction>);
static_assert(std::is_nothrow_move_constructible_v<ReadTransaction>);

TEST(ReadSource, NamesTheServer) {
  EXPECT_EQ(ReadSource{}.ToString(), "primary");
  EXPECT_EQ((ReadSource{false, "127.0.0.1:3307"}).ToString(), "replica:127.0.0.1:3307");
}

TEST(ReplicaSetOptions, Validates) {
  EXPECT_TRUE(ReplicaSetOptions{}.Validate().ok());
  auto bad = [](auto mutate) {
    ReplicaSetOptions o;
    mutate(o);
    return o.Validate().code() == StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(bad([](ReplicaSetOptions& o) { o.heartbeat_table = "a;DROP"; }));
  EXPECT_TRUE(bad([](ReplicaSetOptions& o) { o.heartbeat_table = "a.b.c"; }));
  EXPECT_TRUE(bad([](ReplicaSetOptions& o) { o.heartbeat_table = ""; }));
  EXPECT_TRUE(bad([](ReplicaSetOptions& o) { o.heartbeat_interval = std::chrono::milliseconds(0); }));
  EXPECT_TRUE(bad([](ReplicaSetOptions& o) { o.probe_interval = std::chrono::milliseconds(20'000); }));
  EXPECT_TRUE(bad([](ReplicaSetOptions& o) { o.max_probe_age = o.probe_interval; }));
  EXPECT_TRUE(bad([](ReplicaSetOptions& o) { o.wait_budget_fraction = 1; }));
  EXPECT_TRUE(bad([](ReplicaSetOptions& o) { o.latency_ewma_alpha = 0; }));
  ReplicaSetOptions qualified;
  qualified.heartbeat_table = "db_1.hb";
  EXPECT_TRUE(qualified.Validate().ok());
  EXPECT_EQ(FallbackReasonName(FallbackReason::kWaitTimedOut), "wait_timed_out");
  EXPECT_EQ(WaitOutcomeName(WaitOutcome::kReached), "reached");
}

}  // namespace
}  // namespace lockstep::routing
