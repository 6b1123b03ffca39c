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

TEST_F(ScriptTest, PipelinedCallsRunOnceEachInOrderAlsoAfterAFlush) {
  const std::string key = Key("p");
  static const Script fail_on_two(R"(if ARGV[1] == "2" then return redis.error_reply("ERR two") end
                                     return redis.call("RPUSH", KEYS[1], ARGV[1]))");
  for (int round = 0; round < 2; ++round) {
    // Round 1 starts with an empty script cache: every call is answered NOSCRIPT first.
    if (round == 0) {
      ASSERT_TRUE(client().Command({"SCRIPT", "FLUSH"}, Deadline::After(5s)).ok());
    }
    std::vector<Script::Call> calls;
    for (int i = 1; i <= 4; ++i) calls.push_back({{key}, {std::to_string(i)}});
    auto replies = fail_on_two.RunPipelined(client(), calls, Deadline::After(5s));
    ASSERT_TRUE(replies.ok()) << replies.status();
    ASSERT_EQ(replies->size(), 4u);
    EXPECT_FALSE((*replies)[1].ok());  // Its own error, the others unaffected.
    for (int i : {0, 2, 3}) {
      ASSERT_TRUE((*replies)[i].ok()) << i << ": " << (*replies)[i].status();
    }
    EXPECT_EQ((*replies)[3]->integer(), 3 * (round + 1));  // List length after this call.
  }
  Result<Reply> list = client().Command({"LRANGE", key, "0", "-1"}, Deadline::After(5s));
  ASSERT_TRUE(list.ok());
  std::vector<std::string> got;
  for (const Reply& r : list->array()) got.push_back(r.str());
  EXPECT_EQ(got, (std::vector<std::string>{"1", "3", "4", "1", "3", "4"}));
  EXPECT_TRUE(fail_on_two.RunPipelined(client(), {}, Deadline::After(5s))->empty());
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
