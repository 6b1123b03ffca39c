#pragma once

#include <string_view>

#include "lockstep/base/status.h"

namespace shopd::reply {

// The one table that decides an HTTP status and API error code for a Status (API.md,
// STYLE.md R4). The library speaks no HTTP; this is shopd's mapping.
struct HttpError {
  int http_status;              // 200 for OK.
  std::string_view error_code;  // snake_case API code ("invalid_argument"); for 409 the
                                // status's reason (e.g. "out_of_stock") when it has one.
  bool retry_after;             // Whether the reply carries Retry-After (429, 503).
};

// Thread-safe (pure). The returned error_code may point into `status`; keep it alive.
HttpError HttpErrorFor(const lockstep::Status& status);

}  // namespace shopd::reply
