#include "http/router.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/handler_helpers.h"
#include "http/target.h"
#include "http/testing/run_handler.h"

namespace shopd::http {
namespace {

void Ok(Call& call) { call.Respond(Response::Json(200, {{"ok", true}})); }

Router MakeRouter() {
  Router r;
  r.Add(Method::kPost, "/v1/accounts", Ok);
  r.Add(Method::kGet, "/v1/accounts/{id}", Ok);
  r.Add(Method::kPut, "/v1/accounts/{id}", Ok);
  r.Add(Method::kGet, "/v1/accounts/special", Ok);
  return r;
}

TEST(RouterTest, MatchesLiteralRoute) {
  Router r = MakeRouter();
  RouteMatch m = r.Match(Method::kPost, "/v1/accounts");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/v1/accounts");
}

TEST(RouterTest, ExtractsDecodedPathParams) {
  Router r = MakeRouter();
  RouteMatch m = r.Match(Method::kGet, "/v1/accounts/a%20b");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.path_params.Get("id").value_or(""), "a b");
}

TEST(RouterTest, LiteralSegmentBeatsParameter) {
  Router r = MakeRouter();
  RouteMatch m = r.Match(Method::kGet, "/v1/accounts/special");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/v1/accounts/special");
}

TEST(RouterTest, UnknownPathIs404NotFound) {
  Router r = MakeRouter();
  for (const char* path : {"/v1/nothing", "/v1/accounts/", "/v1/accounts/1/x", "/", "/v1/accounts//"}) {
    RouteMatch m = r.Match(Method::kGet, path);
    EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound) << path;
    Response resp = Router::MismatchResponse(m, Method::kGet, path);
    EXPECT_EQ(resp.status, 404);
    EXPECT_EQ(nlohmann::json::parse(resp.body)["error"]["code"], "not_found");
  }
}

TEST(RouterTest, KnownPathOtherMethodIs405WithAllow) {
  Router r = MakeRouter();
  RouteMatch m = r.Match(Method::kDelete, "/v1/accounts/7");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  Response resp = Router::MismatchResponse(m, Method::kDelete, "/v1/accounts/7");
  EXPECT_EQ(resp.status, 405);
  EXPECT_EQ(resp.headers.Get("allow").value_or(""), "GET, PUT");
  EXPECT_EQ(nlohmann::json::parse(resp.body)["error"]["code"], "method_not_allowed");
  EXPECT_EQ(r.Match(Method::kOther, "/v1/accounts").kind, RouteMatch::Kind::kMethodNotAllowed);
}

TEST(RouterDeathTest, DuplicateRouteAborts) {
  Router r = MakeRouter();
  EXPECT_DEATH(r.Add(Method::kPost, "/v1/accounts", Ok), "duplicate route");
  EXPECT_DEATH(r.Add(Method::kGet, "no-slash", Ok), "must start with");
}

TEST(PathInt64Test, ParsesStrictly) {
  Request req;
  auto with = [&](std::string v) {
    req.path_params = Params();
    req.path_params.Add("id", std::move(v));
    return PathInt64(req, "id");
  };
  EXPECT_EQ(*with("42"), 42);
  EXPECT_EQ(*with("-7"), -7);
  EXPECT_EQ(*with("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(*with("-9223372036854775808"), INT64_MIN);
  for (const char* bad : {"9223372036854775808", "99999999999999999999", "", "+1", " 1", "1 ", "1.0", "0x10", "abc",
                          "-", "1e3"}) {
    auto r = with(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), lockstep::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("'id'"), std::string_view::npos);
    EXPECT_EQ(Response::Error(r.status()).status, 400);
  }
}

TEST(ResultHandlerTest, ErrorStatusBecomesErrorResponse) {
  Handler h = ResultHandler([](Request& req) -> lockstep::Result<Response> {
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, PathInt64(req, "id"));
    return Response::Json(200, {{"id", id}});
  });
  Request req;
  req.path_params.Add("id", "x");
  EXPECT_EQ(testing::RunHandler(h, req).status, 400);
  Request good;
  good.path_params.Add("id", "5");
  EXPECT_EQ(testing::RunHandler(h, good).body, R"({"id":5})");
}

TEST(TargetTest, SplitsPathAndDecodesQuery) {
  auto t = ParseTarget("/v1/orders?request_id=o%2D1&x=a+b&flag");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/v1/orders");
  EXPECT_EQ(t->query.Get("request_id").value_or(""), "o-1");
  EXPECT_EQ(t->query.Get("x").value_or(""), "a b");
  EXPECT_EQ(t->query.Get("flag").value_or("missing"), "");
  EXPECT_FALSE(ParseTarget("/x?a=%zz").ok());
  EXPECT_FALSE(ParseTarget("http://host/x").ok());
  EXPECT_FALSE(ParseTarget("*").ok());
}

}  // namespace
}  // namespace shopd::http
