#include "lockstep/redis/script.h"

#include <gtest/gtest.h>

#include <chrono>

#include "support/redis_test.h"

namespace lockstep::testing {
namespace {

using namespace std::chrono_literals;
using redis::Reply;
using redis::Script;

class ScriptTest : public RedisTest {};

const Script& Incr() {
  static const Script script(R"(return redis.call("INCRBY", KEYS[1], ARGV[1]))");
  return script;
}

TEST_F(ScriptTest, RunsAndReturnsReply) {
  Result<Reply> r = Incr().Run(client(), {Key("c")}, {"5"}, Deadline::After(5s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer(), 5);
  // The server computes the same SHA-1 as our local one.
  Result<Reply> exists = client().Command({"SCRIPT", "EXISTS", Incr().sha1()}, Deadline::After(5s));
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->array().at(0).integer(), 1);
}

TEST_F(ScriptTest, NoScriptAfterFlushRunsExactlyOncePerCall) {
  const std::string key = Key("c");
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(client().Command({"SCRIPT", "FLUSH"}, Deadline::After(5s)).ok());
    Result<Reply> r = client().Eval(Incr(), {key}, {"1"}, Deadline::After(5s));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->integer(), i);  // Moved exactly once: EVALSHA's NOSCRIPT did not run it.
  }
  Result<std::optional<std::string>> v = client().Get(key, Deadline::After(5s));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value_or(""), "3");
}

TEST_F(ScriptTest, ScriptErrorsAreClassified) {
  static const Script fenced(R"(return redis.error_reply("FENCED stale token"))");
  Result<Reply> r = fenced.Run(client(), {Key("x")}, {}, Deadline::After(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().reason(), "fenced");

  static const Script broken("return redis.call('NOSUCH')");
  EXPECT_EQ(broken.Run(client(), {}, {}, Deadline::After(5s)).status().code(), StatusCode::kInternal);
}

TEST_F(ScriptTest, BinaryArgsAndNestedReplies) {
  static const Script echo("return {ARGV[1], tonumber(ARGV[2]), {KEYS[1]}}");
  const std::string blob("a\0b\r\n", 5);
  Result<Reply> r = echo.Run(client(), {Key("k")}, {blob, "7"}, Deadline::After(5s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Reply::Array({Reply::String(blob), Reply::Integer(7), Reply::Array({Reply::String(Key("k"))})}));
}

}  // namespace
}  // namespace lockstep::testing
