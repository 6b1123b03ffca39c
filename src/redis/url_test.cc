#include "lockstep/redis/url.h"

#include <gtest/gtest.h>

namespace lockstep::redis {
namespace {

TEST(ParseRedisUrl, HostPortDb) {
  Result<RedisOptions> r = ParseRedisUrl("redis://example.com:7000/3");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->host, "example.com");
  EXPECT_EQ(r->port, 7000);
  EXPECT_EQ(r->db, 3);
  EXPECT_TRUE(r->password.empty());
}

TEST(ParseRedisUrl, DefaultsPortAndDbKeepsOtherDefaults) {
  RedisOptions defaults;
  defaults.pool_size = 3;
  defaults.port = 1234;
  Result<RedisOptions> r = ParseRedisUrl("redis://h", defaults);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->port, 6379);
  EXPECT_EQ(r->db, 0);
  EXPECT_EQ(r->pool_size, 3);
}

TEST(ParseRedisUrl, PasswordOnlyForms) {
  Result<RedisOptions> a = ParseRedisUrl("redis://:s3cret@h:1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->password, "s3cret");
  EXPECT_TRUE(a->user.empty());
  Result<RedisOptions> b = ParseRedisUrl("redis://s3cret@h:1");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->password, "s3cret");
}

TEST(ParseRedisUrl, UserPasswordPercentDecoded) {
  Result<RedisOptions> r = ParseRedisUrl("redis://al%69ce:p%40ss%3Aw%2Fd@h:6380/1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user, "alice");
  EXPECT_EQ(r->password, "p@ss:w/d");
  EXPECT_EQ(r->port, 6380);
  EXPECT_EQ(r->db, 1);
}

TEST(ParseRedisUrl, Ipv6Host) {
  Result<RedisOptions> r = ParseRedisUrl("redis://[::1]:6390");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->host, "::1");
  EXPECT_EQ(r->port, 6390);
}

TEST(ParseRedisUrl, RejectsBadInputWithInvalidArgument) {
  for (const char* bad : {"http://h", "rediss://h", "redis://", "redis://:6379", "redis://h:", "redis://h:0",
                          "redis://h:70000", "redis://h:12x", "redis://h/x", "redis://h/-1", "redis://:p%zz@h",
                          "redis://:p%4@h", "redis://[::1", "redis://[::1]x"}) {
    Result<RedisOptions> r = ParseRedisUrl(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseRedisUrl, ErrorsNeverContainThePassword) {
  Result<RedisOptions> r = ParseRedisUrl("redis://:topsecret%zz@h:1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().ToString().find("topsecret"), std::string::npos);
}

TEST(RedisOptions, ToStringMasksPassword) {
  RedisOptions o;
  o.user = "bob";
  o.password = "topsecret";
  const std::string s = o.ToString();
  EXPECT_EQ(s.find("topsecret"), std::string::npos) << s;
  EXPECT_NE(s.find("bob:***@"), std::string::npos) << s;
  EXPECT_NE(s.find("127.0.0.1:6379/0"), std::string::npos) << s;
}

TEST(ParseRedisUrlList, SeveralMasters) {
  Result<std::vector<RedisOptions>> r = ParseRedisUrlList("redis://a:1, redis://b:2 ,redis://:pw@c:3/2");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].host, "a");
  EXPECT_EQ((*r)[1].port, 2);
  EXPECT_EQ((*r)[2].password, "pw");
  EXPECT_EQ((*r)[2].db, 2);
}

TEST(ParseRedisUrlList, RejectsEmptyElementsAndNamesTheBadOne) {
  EXPECT_EQ(ParseRedisUrlList("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRedisUrlList("redis://a,,redis://b").status().code(), StatusCode::kInvalidArgument);
  Result<std::vector<RedisOptions>> r = ParseRedisUrlList("redis://a, redis://b:x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().ToString().find("element 1"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace lockstep::redis
