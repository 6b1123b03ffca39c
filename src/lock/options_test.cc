#include <gtest/gtest.h>

#include <set>

#include "lock/lease.h"
#include "lockstep/lock/lock_guard.h"
#include "lockstep/lock/options.h"

namespace lockstep::lock {
namespace {

using namespace std::chrono_literals;

TEST(LockOptions, ResolvesDefaults) {
  Result<internal::ResolvedOptions> r = internal::ResolveOptions({});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->lease, 10s);
  EXPECT_EQ(r->renew_every, 10'000ms / 3);
  EXPECT_EQ(r->drift, 102ms);
}

TEST(LockOptions, RejectsBadValues) {
  EXPECT_EQ(internal::ResolveOptions({.lease = 5ms}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(internal::ResolveOptions({.lease = 1s, .renew_every = 1s}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(internal::ResolveOptions({.lease = 1s, .drift = 1s}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(internal::ResolveOptions({.poll_interval = 0ms}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(internal::ResolveOptions({.reentrant = true}).status().code(), StatusCode::kInvalidArgument);
}

TEST(LockOwner, TokensAreUnique) {
  std::set<std::string> tokens;
  for (int i = 0; i < 100; ++i) tokens.insert(LockOwner().token());
  EXPECT_EQ(tokens.size(), 100u);
}

TEST(LockGuard, EmptyGuardHoldsNothing) {
  LockGuard guard;
  EXPECT_EQ(guard.Check().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(guard.Check().reason(), "not_held");
  EXPECT_EQ(guard.fence(), 0);
  EXPECT_EQ(guard.hold_count(), 0);
  EXPECT_TRUE(guard.Release().ok());
}

}  // namespace
}  // namespace lockstep::lock
