#include "lockstep/base/percent_decode.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

TEST(PercentDecode, DecodesEscapesAndKeepsTheRest) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc%25"), "a b/c%");
  EXPECT_EQ(PercentDecode("p%40ss%3a"), "p@ss:");
  EXPECT_EQ(PercentDecode("%00x").value(), std::string("\0x", 2));
}

TEST(PercentDecode, PlusIsSpaceOnlyWhenAsked) {
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
}

TEST(PercentDecode, RejectsBadEscapes) {
  EXPECT_FALSE(PercentDecode("%").has_value());
  EXPECT_FALSE(PercentDecode("%4").has_value());
  EXPECT_FALSE(PercentDecode("%zz").has_value());
  EXPECT_FALSE(PercentDecode("ab%g1").has_value());
}

}  // namespace
}  // namespace lockstep
