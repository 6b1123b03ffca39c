#include "lockstep/redis/reply.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>

#include "redis/hiredis_conn.h"

namespace lockstep::redis {
namespace {

// Parses RESP bytes with hiredis' own reader and converts the result.
Reply Parse(const std::string& resp) {
  redisReader* reader = redisReaderCreate();
  EXPECT_EQ(redisReaderFeed(reader, resp.data(), resp.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &raw), REDIS_OK);
  EXPECT_NE(raw, nullptr);
  Reply out = internal::ConvertReply(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  redisReaderFree(reader);
  return out;
}

TEST(ConvertReply, ScalarTypes) {
  EXPECT_TRUE(Parse("$-1\r\n").is_nil());
  EXPECT_EQ(Parse("+OK\r\n"), Reply::Status("OK"));
  EXPECT_EQ(Parse("-ERR bad\r\n"), Reply::Error("ERR bad"));
  EXPECT_EQ(Parse(":-42\r\n"), Reply::Integer(-42));
}

TEST(ConvertReply, BulkStringIsBinarySafe) {
  const std::string value("a\0b\r\nc\xff", 7);
  const Reply r = Parse("$7\r\n" + value + "\r\n");
  ASSERT_TRUE(r.is_string());
  EXPECT_EQ(r.str(), value);
  EXPECT_EQ(r.str().size(), 7u);
}

TEST(ConvertReply, NestedArrays) {
  const Reply r = Parse("*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n-WRONGTYPE x\r\n");
  EXPECT_EQ(r, Reply::Array({Reply::Integer(1), Reply::Array({Reply::String("a"), Reply::Nil()}),
                             Reply::Error("WRONGTYPE x")}));
}

TEST(Reply, Accessors) {
  EXPECT_EQ(*Reply::Integer(7).AsInteger(), 7);
  EXPECT_EQ(*Reply::String("-12").AsInteger(), -12);
  EXPECT_EQ(Reply::String("12a").AsInteger().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reply::Nil().AsString().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*Reply::Status("OK").AsString(), "OK");
  EXPECT_TRUE(Reply::Integer(1).array().empty());
  EXPECT_EQ(Reply::Array({Reply::String("x\n")}).DebugString(), "[\"x\\x0a\"]");
}

TEST(ReplyDeathTest, IntegerOnWrongTypeAborts) {
  EXPECT_DEATH((void)Reply::String("1").integer(), "integer");
}

}  // namespace
}  // namespace lockstep::redis
