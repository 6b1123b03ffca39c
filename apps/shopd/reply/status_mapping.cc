#include "reply/status_mapping.h"

namespace shopd::reply {

HttpError HttpErrorFor(const lockstep::Status& status) {
  using lockstep::StatusCode;
  switch (status.code()) {
    case StatusCode::kOk: return {200, "", false};
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange: return {400, "invalid_argument", false};
    case StatusCode::kNotFound: return {404, "not_found", false};
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return {409, status.reason().empty() ? std::string_view("conflict") : status.reason(), false};
    case StatusCode::kResourceExhausted: return {429, "rate_limited", true};
    // Retries of a deadlock ran out inside the service: the client may try again.
    case StatusCode::kAborted:
    case StatusCode::kUnavailable: return {503, "unavailable", true};
    case StatusCode::kUnknown:
    case StatusCode::kDeadlineExceeded: return {504, "deadline_exceeded", false};
    case StatusCode::kCancelled: return {503, "unavailable", true};
    case StatusCode::kPermissionDenied: return {403, "permission_denied", false};
    case StatusCode::kUnauthenticated: return {401, "unauthenticated", false};
    case StatusCode::kUnimplemented: return {501, "unimplemented", false};
    case StatusCode::kInternal:
    case StatusCode::kDataLoss: return {500, "internal", false};
  }
  return {500, "internal", false};
}

}  // namespace shopd::reply
