#include "http/response.h"
#include "reply/outcome.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/request_timeout.h"

namespace shopd::http {
namespace {

using lockstep::Status;

TEST(ResponseTest, ErrorBodyHasExactShape) {
  Response r = Response::Error(Status::InvalidArgument("field 'amount' must be a 64-bit integer"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"code":"invalid_argument","message":"field 'amount' must be a 64-bit integer"}})");
  EXPECT_EQ(r.headers.Get("content-type").value_or(""), "application/json");
  EXPECT_FALSE(r.headers.Has("Retry-After"));
}

TEST(ResponseTest, ErrorUsesTheMappingTable) {
  EXPECT_EQ(Response::Error(Status::NotFound("x")).status, 404);
  Response conflict = Response::Error(Status::FailedPrecondition("short").WithReason("insufficient_funds"));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(nlohmann::json::parse(conflict.body)["error"]["code"], "insufficient_funds");
  Response busy = Response::Error(Status::Unavailable("down"));
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.headers.Get("Retry-After").value_or(""), "1");
  Response limited = Response::Error(Status::ResourceExhausted("slow down"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers.Get("retry-after").value_or(""), "1");
  EXPECT_EQ(Response::Error(Status::DeadlineExceeded("late")).status, 504);
}

TEST(ResponseTest, JsonNeverThrowsOnInvalidUtf8) {
  Response r = Response::Json(200, {{"s", std::string("\xff\xfe")}});
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.body.empty());
}

TEST(RequestTimeoutTest, DefaultCapAndErrors) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*RequestTimeoutFromHeader(std::nullopt), kDefaultRequestTimeout);
  EXPECT_EQ(*RequestTimeoutFromHeader("250"), milliseconds(250));
  EXPECT_EQ(*RequestTimeoutFromHeader("600000"), kMaxRequestTimeout);
  EXPECT_EQ(*RequestTimeoutFromHeader("99999999999999999999999"), kMaxRequestTimeout);
  for (const char* bad : {"", "0", "-5", "abc", "1.5", " 10", "10ms", "+5"}) {
    auto r = RequestTimeoutFromHeader(std::string_view(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(Response::Error(r.status()).status, 400);
  }
}

TEST(ResponseTest, ErrorFromStatusCarriesTheApiErrorBody) {
  const Response r = Response::Error(lockstep::Status::NotFound("product 7 \"x\" not found"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.Get("Content-Type").value_or(std::string_view()), kJsonContentType);
  const auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j.at("error").at("code"), "not_found");
  EXPECT_EQ(j.at("error").at("message"), "product 7 \"x\" not found");
}

TEST(ResponseTest, JsonPrintsWhatTheRecordedReplyPrints) {
  // Replayed bodies (reply::Outcome) and live ones (Response::Json) are compared byte for byte.
  const nlohmann::json j = {{"name", "caf\xc3\xa9 \"q\" \xff"}, {"n", -7}, {"a", {1, 2}}};
  EXPECT_EQ(Response::Json(200, j).body, reply::Outcome::Json(200, j).body);
}

}  // namespace
}  // namespace shopd::http
