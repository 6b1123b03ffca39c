#include "lockstep/base/retry_policy.h"

namespace lockstep {

RetryPolicy RetryPolicyFor(StatusCode code) {
  switch (code) {
    case StatusCode::kAborted: return RetryPolicy::kRetryUnit;
    case StatusCode::kUnavailable: return RetryPolicy::kRetryIfIdempotent;
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted: return RetryPolicy::kCallerAfterDelay;
    default: return RetryPolicy::kNone;
  }
}

}  // namespace lockstep
