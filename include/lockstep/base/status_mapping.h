#pragma once

#include <string_view>

#include "lockstep/base/status.h"

namespace lockstep {

// Who retries a failed call (STYLE.md R4).
enum class RetryPolicy {
  kNone,               // Do not retry (business refusal, bad input, unknown outcome).
  kRetryUnit,          // Rerun the whole unit of work (transaction) with backoff: kAborted.
  kRetryIfIdempotent,  // Same call with backoff, only if it is idempotent: kUnavailable.
  kCallerAfterDelay,   // The caller, after Retry-After / with the same request id.
};

RetryPolicy RetryPolicyFor(StatusCode code);

// The one table that decides an HTTP status and API error code for a Status.
struct HttpError {
  int http_status;              // 200 for OK.
  std::string_view error_code;  // snake_case API code ("invalid_argument"); for 409 the
                                // status's reason (e.g. "out_of_stock") when it has one.
  bool retry_after;             // Whether the reply carries Retry-After (429, 503).
};

// Thread-safe (pure). The returned error_code may point into `status`; keep it alive.
HttpError HttpErrorFor(const Status& status);

}  // namespace lockstep
