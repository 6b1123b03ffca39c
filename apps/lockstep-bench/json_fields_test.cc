#include "json_fields.h"

#include <gtest/gtest.h>

namespace lockstep::bench {
namespace {

TEST(IntField, ReadsTopLevelIntegers) {
  const std::string order = R"({"id":123,"product_id":1,"quantity":1,"request_id":"f1-2","status":"pending","user_id":7})";
  EXPECT_EQ(IntField(order, "id"), 123);
  EXPECT_EQ(IntField(order, "user_id"), 7);
  EXPECT_EQ(IntField(R"({"name":"x","price":100,"version":42})", "version"), 42);
  EXPECT_EQ(IntField(R"({ "version" : -3 })", "version"), -3);
}

TEST(IntField, SkipsNestedFieldsOfTheSameName) {
  EXPECT_EQ(IntField(R"({"a":{"id":5},"id":7})", "id"), 7);
  EXPECT_EQ(IntField(R"({"a":[{"id":5}],"id":8})", "id"), 8);
  EXPECT_EQ(IntField(R"({"a":{"id":5}})", "id"), 0);
}

TEST(IntField, ZeroWhenMissingNotANumberOrNotJson) {
  EXPECT_EQ(IntField("{}", "id"), 0);
  EXPECT_EQ(IntField(R"({"id":"7"})", "id"), 0);
  EXPECT_EQ(IntField(R"({"id":null})", "id"), 0);
  EXPECT_EQ(IntField("not json", "id"), 0);
  EXPECT_EQ(IntField("", "id"), 0);
  EXPECT_EQ(IntField("[1,2]", "id"), 0);
  EXPECT_EQ(IntField(R"({"id":2.5})", "id"), 2);
}

TEST(ErrorCode, ReadsTheCodeOfAnErrorBody) {
  EXPECT_EQ(ErrorCode(R"({"error":{"code":"out_of_stock","message":"no stock"}})"), "out_of_stock");
  EXPECT_EQ(ErrorCode(R"({"error":{"message":"out_of_stock","code":"conflict"}})"), "conflict");
  EXPECT_EQ(ErrorCode(R"({"code":"out_of_stock"})"), "");
  EXPECT_EQ(ErrorCode(R"({"id":1})"), "");
  EXPECT_EQ(ErrorCode("<html>out_of_stock</html>"), "");
}

TEST(ScalarAt, FollowsTheKeyPath) {
  const auto v = ScalarAt(R"({"a":{"b":{"c":true}},"b":{"c":false}})", {"a", "b", "c"});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, true);
  EXPECT_FALSE(ScalarAt(R"({"a":{"b":{"c":true}}})", {"a", "b"}).has_value());  // An object, not a scalar.
}

}  // namespace
}  // namespace lockstep::bench
