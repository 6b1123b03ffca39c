#include "http/json_body.h"

#include <gtest/gtest.h>

namespace shopd::http {
namespace {

using lockstep::StatusCode;

std::string Message(const lockstep::Status& s) { return std::string(s.message()); }

TEST(JsonBodyTest, RejectsMalformedJson) {
  for (const char* body : {"", "{", "{\"a\":}", "nope", "{\"a\":1,}"}) {
    auto r = ParseJsonObject(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(Message(r.status()).find("malformed JSON"), std::string::npos) << Message(r.status());
  }
}

TEST(JsonBodyTest, RejectsNonObject) {
  for (const char* body : {"[]", "1", "\"s\"", "null", "true"}) {
    auto r = ParseJsonObject(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(Message(r.status()), "JSON body must be an object");
  }
}

TEST(JsonBodyTest, Int64RejectsWrongTypesAndOverflow) {
  auto obj = ParseJsonObject(R"({"s":"5","f":1.5,"b":true,"n":null,"big":9223372036854775808,
      "huge":123456789012345678901234567890,"neg":-9223372036854775808,"max":9223372036854775807,"a":[1],
      "exp":1e2})");
  ASSERT_TRUE(obj.ok());
  for (const char* field : {"s", "f", "b", "big", "huge", "a", "exp"}) {
    auto r = GetInt64(*obj, field);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(Message(r.status()).find(std::string("'") + field + "'"), std::string::npos) << Message(r.status());
  }
  EXPECT_EQ(*GetInt64(*obj, "neg"), INT64_MIN);
  EXPECT_EQ(*GetInt64(*obj, "max"), INT64_MAX);
  auto missing = GetInt64(*obj, "amount");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(Message(missing.status()), "missing field 'amount'");
  auto null_field = GetInt64(*obj, "n");
  EXPECT_EQ(Message(null_field.status()), "missing field 'n'");
}

TEST(JsonBodyTest, OptionalFields) {
  auto obj = ParseJsonObject(R"({"price":160,"name":7})");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(GetOptionalInt64(*obj, "price")->value_or(-1), 160);
  EXPECT_FALSE(GetOptionalInt64(*obj, "stock")->has_value());
  EXPECT_FALSE(GetOptionalString(*obj, "name").ok());
  EXPECT_FALSE(GetOptionalString(*obj, "other")->has_value());
}

TEST(JsonBodyTest, StringsAndBools) {
  auto obj = ParseJsonObject(R"({"owner":"alice","n":5,"t":true,"one":1})");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(*GetString(*obj, "owner"), "alice");
  EXPECT_EQ(Message(GetString(*obj, "n").status()), "field 'n' must be a string");
  EXPECT_TRUE(*GetBool(*obj, "t"));
  EXPECT_FALSE(GetBool(*obj, "one").ok());
  EXPECT_TRUE(CheckLength("owner", "alice", 1, 64).ok());
  EXPECT_FALSE(CheckLength("owner", "", 1, 64).ok());
  EXPECT_FALSE(CheckRange("quantity", 0, 1, 1'000'000).ok());
  EXPECT_TRUE(CheckRange("quantity", 1'000'000, 1, 1'000'000).ok());
}

}  // namespace
}  // namespace shopd::http
