#include "lockstep/base/status.h"

#include <cstdio>
#include <cstdlib>

#include "lockstep/base/check.h"

namespace lockstep {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kCancelled: return "CANCELLED";
    case StatusCode::kUnknown: return "UNKNOWN";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kAborted: return "ABORTED";
    case StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kDataLoss: return "DATA_LOSS";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "INVALID_CODE";
}

Status::Status(StatusCode code, std::string message) {
  if (code != StatusCode::kOk) {
    rep_ = std::make_unique<Rep>(Rep{code, std::move(message), {}, 0});
  }
}

Status::Status(const Status& other)
    : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
  return *this;
}

Status Status::WithReason(std::string reason) const& {
  Status copy(*this);
  return std::move(copy).WithReason(std::move(reason));
}

Status Status::WithReason(std::string reason) && {
  LOCKSTEP_CHECK(rep_ != nullptr);
  rep_->reason = std::move(reason);
  return std::move(*this);
}

Status Status::WithDriverError(int driver_error) && {
  LOCKSTEP_CHECK(rep_ != nullptr);
  rep_->driver_error = driver_error;
  return std::move(*this);
}

Status Status::Annotate(std::string_view context) && {
  if (rep_ != nullptr && !context.empty()) {
    rep_->message = internal::StrCat(context, ": ", rep_->message);
  }
  return std::move(*this);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code()));
  out += ": ";
  out += message();
  if (!rep_->reason.empty()) out += internal::StrCat(" (", rep_->reason, ")");
  if (rep_->driver_error != 0) out += internal::StrCat(" [errno ", rep_->driver_error, "]");
  return out;
}

std::ostream& operator<<(std::ostream& out, const Status& status) { return out << status.ToString(); }
std::ostream& operator<<(std::ostream& out, StatusCode code) { return out << StatusCodeName(code); }

namespace internal {
void CheckFailed(const char* file, int line, const char* condition, const std::string& message) {
  std::fprintf(stderr, "%s:%d: LOCKSTEP_CHECK failed: %s%s%s\n", file, line, condition,
               message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace internal

}  // namespace lockstep
