#include "lockstep/base/status.h"

#include <gtest/gtest.h>

#include <utility>

#include "lockstep/base/retry_policy.h"

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

TEST(RetryPolicy, FollowsTheStyleTable) {
  const std::pair<Status, RetryPolicy> cases[] = {
      {Status::Aborted("deadlock"), RetryPolicy::kRetryUnit},
      {Status::FailedPrecondition("short").WithReason("insufficient_funds"), RetryPolicy::kNone},
      {Status::Unavailable("down"), RetryPolicy::kRetryIfIdempotent},
      {Status::Unknown("commit lost"), RetryPolicy::kNone},
      {Status::DeadlineExceeded("late"), RetryPolicy::kCallerAfterDelay},
      {Status::ResourceExhausted("slow down"), RetryPolicy::kCallerAfterDelay},
      {Status::NotFound("x"), RetryPolicy::kNone},
      {Status::InvalidArgument("x"), RetryPolicy::kNone},
      {Status::Internal("x"), RetryPolicy::kNone},
  };
  for (const auto& [status, retry] : cases) {
    SCOPED_TRACE(status.ToString());
    EXPECT_EQ(RetryPolicyFor(status.code()), retry);
  }
}

TEST(StatusDeathTest, ReasonOnOkStatusIsAContractBreach) {
  EXPECT_DEATH((void)Status::Ok().WithReason("x"), "LOCKSTEP_CHECK failed");
}

}  // namespace
}  // namespace lockstep
