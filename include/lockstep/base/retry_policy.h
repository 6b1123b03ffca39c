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

// The retry policy of a failed call with `code`. Thread-safe (pure).
RetryPolicy RetryPolicyFor(StatusCode code);

}  // namespace lockstep
