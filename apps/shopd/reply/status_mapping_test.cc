#include "reply/status_mapping.h"

#include <gtest/gtest.h>

namespace shopd::reply {
namespace {

using lockstep::Status;

struct MappingCase {
  Status status;
  int http;
  std::string_view error_code;
};

TEST(StatusMapping, FollowsTheApiTable) {
  const MappingCase cases[] = {
      {Status::Aborted("deadlock"), 503, "unavailable"},
      {Status::FailedPrecondition("short").WithReason("insufficient_funds"), 409, "insufficient_funds"},
      {Status::FailedPrecondition("short"), 409, "conflict"},
      {Status::Unavailable("down"), 503, "unavailable"},
      {Status::Unknown("commit lost"), 504, "deadline_exceeded"},
      {Status::DeadlineExceeded("late"), 504, "deadline_exceeded"},
      {Status::ResourceExhausted("slow down"), 429, "rate_limited"},
      {Status::NotFound("x"), 404, "not_found"},
      {Status::InvalidArgument("x"), 400, "invalid_argument"},
      {Status::Internal("x"), 500, "internal"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status.ToString());
    const HttpError e = HttpErrorFor(c.status);
    EXPECT_EQ(e.http_status, c.http);
    EXPECT_EQ(e.error_code, c.error_code);
    EXPECT_EQ(e.retry_after, c.http == 429 || c.http == 503);
  }
}

}  // namespace
}  // namespace shopd::reply
