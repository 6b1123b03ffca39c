#include "cache/bloom.h"

#include <gtest/gtest.h>

#include <set>

namespace lockstep::cache::internal {
namespace {

TEST(BloomPositions, DeterministicInRangeAndSpread) {
  const auto a = BloomPositions("product:42", 1'000'003, 7);
  EXPECT_EQ(a, BloomPositions("product:42", 1'000'003, 7));
  ASSERT_EQ(a.size(), 7u);
  for (uint64_t p : a) EXPECT_LT(p, 1'000'003u);
  EXPECT_EQ(std::set<uint64_t>(a.begin(), a.end()).size(), 7u);
  EXPECT_NE(a, BloomPositions("product:43", 1'000'003, 7));
}

}  // namespace
}  // namespace lockstep::cache::internal
