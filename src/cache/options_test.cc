#include "lockstep/cache/options.h"

#include <gtest/gtest.h>

namespace lockstep::cache {
namespace {

using namespace std::chrono_literals;

TEST(CacheOptions, DefaultsAreValid) { EXPECT_TRUE(CacheOptions{}.Validate().ok()); }

TEST(CacheOptions, LoaderBudgetMustBeShorterThanTombstoneTtl) {
  CacheOptions o;
  o.loader_budget = o.tombstone_ttl;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(CacheOptions, TtlsMustOutliveTombstones) {
  CacheOptions o;
  o.negative_ttl = o.tombstone_ttl - 1ms;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(CacheOptions, HeartbeatMustBeFasterThanStalenessBound) {
  CacheOptions o;
  o.heartbeat_interval = o.staleness_bound;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = CacheOptions{};
  o.name = "a:b";
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockstep::cache
