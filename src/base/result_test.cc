#include "lockstep/base/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace lockstep {
namespace {

Result<int> Parse(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("not a number: '", s, "'");
  }
  return std::stoi(s);
}

Result<int> Doubled(const std::string& s) {
  LOCKSTEP_ASSIGN_OR_RETURN(int v, Parse(s));
  return v * 2;
}

TEST(Result, HoldsValue) {
  Result<int> r = Parse("21");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 21);
  EXPECT_TRUE(r.status().ok());
}

TEST(Result, HoldsError) {
  Result<int> r = Parse("x1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.value_or(-1), -1);
}

TEST(Result, AssignOrReturnPropagates) {
  EXPECT_EQ(*Doubled("21"), 42);
  EXPECT_EQ(Doubled("nope").status().code(), StatusCode::kInvalidArgument);
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Result, AssignOrReturnIntoExistingVariable) {
  auto f = [](const std::string& s) -> Status {
    int v = 0;
    LOCKSTEP_ASSIGN_OR_RETURN(v, Parse(s));
    return v == 5 ? Status::Ok() : Status::Internal("unexpected");
  };
  EXPECT_TRUE(f("5").ok());
  EXPECT_EQ(f("?").code(), StatusCode::kInvalidArgument);
}

TEST(ResultDeathTest, ValueOnErrorAborts) {
  Result<int> r = Status::NotFound("gone");
  EXPECT_DEATH((void)r.value(), "NOT_FOUND: gone");
}

TEST(ResultDeathTest, OkStatusIsNotAnError) {
  EXPECT_DEATH(Result<int>{Status::Ok()}, "LOCKSTEP_CHECK failed");
}

}  // namespace
}  // namespace lockstep
