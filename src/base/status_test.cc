#include "lockstep/base/status.h"

#include <gtest/gtest.h>

#include "lockstep/base/status_mapping.h"

namespace lockstep {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, FactoriesConcatenateArguments) {
  Status s = Status::NotFound("account ", 42, " missing");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "account 42 missing");
}

TEST(Status, ReasonAndDriverErrorTravelWithCopies) {
  Status s = Status::Aborted("deadlock").WithReason("deadlock").WithDriverError(1213);
  Status copy = s;
  EXPECT_EQ(copy.reason(), "deadlock");
  EXPECT_EQ(copy.driver_error(), 1213);
  EXPECT_EQ(copy.ToString(), "ABORTED: deadlock (deadlock) [errno 1213]");
}

TEST(Status, AnnotatePrependsContext) {
  Status s = Status::Unavailable("connection refused").Annotate("redis 127.0.0.1:6379");
  EXPECT_EQ(s.message(), "redis 127.0.0.1:6379: connection refused");
}

Status FailIf(bool fail) { return fail ? Status::Internal("boom") : Status::Ok(); }
Status Chain(bool fail, int* reached) {
  LOCKSTEP_RETURN_IF_ERROR(FailIf(fail));
  ++*reached;
  return Status::Ok();
}

TEST(Status, ReturnIfErrorStopsAtFirstError) {
  int reached = 0;
  EXPECT_TRUE(Chain(false, &reached).ok());
  EXPECT_EQ(reached, 1);
  EXPECT_EQ(Chain(true, &reached).code(), StatusCode::kInternal);
  EXPECT_EQ(reached, 1);
}

struct MappingCase {
  Status status;
  int http;
  std::string error_code;
  RetryPolicy retry;
};

TEST(StatusMapping, FollowsTheStyleTable) {
  const MappingCase cases[] = {
      {Status::Aborted("deadlock"), 503, "unavailable", RetryPolicy::kRetryUnit},
      {Status::FailedPrecondition("short").WithReason("insufficient_funds"), 409, "insufficient_funds", RetryPolicy::kNone},
      {Status::Unavailable("down"), 503, "unavailable", RetryPolicy::kRetryIfIdempotent},
      {Status::Unknown("commit lost"), 504, "deadline_exceeded", RetryPolicy::kNone},
      {Status::DeadlineExceeded("late"), 504, "deadline_exceeded", RetryPolicy::kCallerAfterDelay},
      {Status::ResourceExhausted("slow down"), 429, "rate_limited", RetryPolicy::kCallerAfterDelay},
      {Status::NotFound("x"), 404, "not_found", RetryPolicy::kNone},
      {Status::InvalidArgument("x"), 400, "invalid_argument", RetryPolicy::kNone},
      {Status::Internal("x"), 500, "internal", RetryPolicy::kNone},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status.ToString());
    const HttpError e = HttpErrorFor(c.status);
    EXPECT_EQ(e.http_status, c.http);
    EXPECT_EQ(e.error_code, c.error_code);
    EXPECT_EQ(e.retry_after, c.http == 429 || c.http == 503);
    EXPECT_EQ(RetryPolicyFor(c.status.code()), c.retry);
  }
}

TEST(StatusDeathTest, ReasonOnOkStatusIsAContractBreach) {
  EXPECT_DEATH((void)Status::Ok().WithReason("x"), "LOCKSTEP_CHECK failed");
}

}  // namespace
}  // namespace lockstep
