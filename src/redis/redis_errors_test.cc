#include "redis/redis_errors.h"

#include <gtest/gtest.h>

namespace lockstep::redis::internal {
namespace {

struct Case {
  const char* reply;
  StatusCode code;
  const char* reason;
};

TEST(StatusFromErrorReply, ClassifiesServerPrefixes) {
  const Case cases[] = {
      {"LOADING Redis is loading the dataset in memory", StatusCode::kUnavailable, "loading"},
      {"BUSY Redis is busy running a script.", StatusCode::kUnavailable, "busy"},
      {"MASTERDOWN Link with MASTER is down", StatusCode::kUnavailable, "masterdown"},
      {"TRYAGAIN Multiple keys request during rehashing", StatusCode::kUnavailable, "tryagain"},
      {"READONLY You can't write against a read only replica.", StatusCode::kUnavailable, "readonly"},
      {"OOM command not allowed when used memory > 'maxmemory'.", StatusCode::kResourceExhausted, "oom"},
      {"NOSCRIPT No matching script. Please use EVAL.", StatusCode::kNotFound, "noscript"},
      {"NOGROUP No such key 's' or consumer group 'g'", StatusCode::kNotFound, "nogroup"},
      {"BUSYGROUP Consumer Group name already exists", StatusCode::kAlreadyExists, "busygroup"},
      {"NOAUTH Authentication required.", StatusCode::kUnauthenticated, "noauth"},
      {"WRONGPASS invalid username-password pair", StatusCode::kUnauthenticated, "wrongpass"},
      {"NOPERM this user has no permissions", StatusCode::kPermissionDenied, "noperm"},
      {"EXECABORT Transaction discarded because of previous errors.", StatusCode::kAborted, "execabort"},
      {"WRONGTYPE Operation against a key holding the wrong kind of value", StatusCode::kFailedPrecondition,
       "wrongtype"},
      {"ERR value is not an integer or out of range", StatusCode::kInternal, "err"},
      {"ERR The XGROUP subcommand requires the key to exist.", StatusCode::kNotFound, "no_such_key"},
      {"FENCED stale token", StatusCode::kFailedPrecondition, "fenced"},
      {"", StatusCode::kInternal, "err"},
  };
  for (const Case& c : cases) {
    const Status s = StatusFromErrorReply(c.reply);
    EXPECT_EQ(s.code(), c.code) << c.reply;
    EXPECT_EQ(s.reason(), c.reason) << c.reply;
    EXPECT_NE(s.message().find(c.reply), std::string_view::npos) << s;
  }
}

TEST(IsNoScript, OnlyTheNoScriptReply) {
  EXPECT_TRUE(IsNoScript(StatusFromErrorReply("NOSCRIPT No matching script.")));
  EXPECT_FALSE(IsNoScript(StatusFromErrorReply("NOGROUP x")));
  EXPECT_FALSE(IsNoScript(Status::NotFound("other")));
}

}  // namespace
}  // namespace lockstep::redis::internal
