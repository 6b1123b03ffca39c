#include "lockstep/sql/url.h"

#include <gtest/gtest.h>

namespace lockstep::sql {
namespace {

TEST(ParseMysqlUrl, FullUrl) {
  auto r = ParseMysqlUrl("mysql://app:s3cret@db.example:3307/shop");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user, "app");
  EXPECT_EQ(r->password, "s3cret");
  EXPECT_EQ(r->host, "db.example");
  EXPECT_EQ(r->port, 3307);
  EXPECT_EQ(r->database, "shop");
}

TEST(ParseMysqlUrl, PercentDecodingAndDefaults) {
  auto r = ParseMysqlUrl("mariadb://a%40b:p%3Aw%2Fd%25@127.0.0.1/my%20db");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user, "a@b");
  EXPECT_EQ(r->password, "p:w/d%");
  EXPECT_EQ(r->port, 3306);
  EXPECT_EQ(r->database, "my db");
}

TEST(ParseMysqlUrl, Ipv6AndNoPassword) {
  auto r = ParseMysqlUrl("mysql://root@[::1]:4000");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->host, "::1");
  EXPECT_EQ(r->port, 4000);
  EXPECT_EQ(r->password, "");
  EXPECT_EQ(r->database, "");
}

TEST(ParseMysqlUrl, RejectsBadInputWithClearMessages) {
  struct Case { const char* url; const char* mentions; };
  for (const Case& c : {Case{"http://u@h/db", "mysql://"}, Case{"mysql://h:3306/db", "user"},
                        Case{"mysql://u@h:0/db", "port"}, Case{"mysql://u@h:99999/db", "port"},
                        Case{"mysql://u@h:abc/db", "port"}, Case{"mysql://u:pw%zz@h/db", "password"},
                        Case{"mysql://u:pw%2@h/db", "password"}, Case{"mysql://u@/db", "host"},
                        Case{"mysql://u@h/db?x=1", "query"}, Case{"mysql://u@h:/db", "port"},
                        Case{"mysql://u@[::1]:/db", "port"}}) {
    auto r = ParseMysqlUrl(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.url;
    EXPECT_NE(r.status().message().find(c.mentions), std::string_view::npos) << r.status() << " for " << c.url;
  }
}

TEST(ParseMysqlUrl, PasswordNeverInErrorsOrToString) {
  auto bad = ParseMysqlUrl("mysql://u:topsecret%zz@h/db");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().ToString().find("topsecret"), std::string::npos);
  auto good = ParseMysqlUrl("mysql://u:topsecret@h/db");
  ASSERT_TRUE(good.ok());
  const std::string text = good->ToString();
  EXPECT_EQ(text.find("topsecret"), std::string::npos);
  EXPECT_NE(text.find("***"), std::string::npos);
  EXPECT_NE(text.find("u@"), std::string::npos - 1);
}

TEST(ConnectionOptions, Validate) {
  ConnectionOptions o;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);  // No user.
  o.user = "u";
  EXPECT_TRUE(o.Validate().ok());
  o.port = 0;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  PoolOptions p;
  EXPECT_TRUE(p.Validate().ok());
  p.max_connections = 0;
  EXPECT_EQ(p.Validate().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockstep::sql
