#pragma once

#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace lockstep {

// The canonical codes, with abseil's meaning and retry semantics (STYLE.md R4):
//   kAborted            retry the whole unit of work (deadlock, lock-wait timeout).
//   kUnavailable        retry the same call with backoff, only if it is idempotent.
//   kUnknown            the outcome is unknown (e.g. connection lost during COMMIT); never
//                       retry blindly, resolve through an idempotency key.
//   kDeadlineExceeded   the deadline passed before the effect happened (work rolled back).
//   kFailedPrecondition a business rule or a lost lock refused the call; nobody retries.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// "kAborted" -> "ABORTED" style name, for logs and messages.
std::string_view StatusCodeName(StatusCode code);

namespace internal {
template <typename... Args>
std::string StrCat(const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return {};
  } else {
    std::ostringstream out;
    (out << ... << args);
    return std::move(out).str();
  }
}
}  // namespace internal

// A code, a human message and an optional machine-readable `reason` (snake_case, e.g.
// "insufficient_funds") plus an optional driver error number (e.g. MariaDB 1213).
// An OK status allocates nothing. Thread-compatible: const methods may run concurrently.
class [[nodiscard]] Status {
 public:
  Status() = default;  // OK.
  Status(StatusCode code, std::string message);

  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  template <typename... Args> static Status Cancelled(const Args&... a) { return {StatusCode::kCancelled, internal::StrCat(a...)}; }
  template <typename... Args> static Status Unknown(const Args&... a) { return {StatusCode::kUnknown, internal::StrCat(a...)}; }
  template <typename... Args> static Status InvalidArgument(const Args&... a) { return {StatusCode::kInvalidArgument, internal::StrCat(a...)}; }
  template <typename... Args> static Status DeadlineExceeded(const Args&... a) { return {StatusCode::kDeadlineExceeded, internal::StrCat(a...)}; }
  template <typename... Args> static Status NotFound(const Args&... a) { return {StatusCode::kNotFound, internal::StrCat(a...)}; }
  template <typename... Args> static Status AlreadyExists(const Args&... a) { return {StatusCode::kAlreadyExists, internal::StrCat(a...)}; }
  template <typename... Args> static Status PermissionDenied(const Args&... a) { return {StatusCode::kPermissionDenied, internal::StrCat(a...)}; }
  template <typename... Args> static Status ResourceExhausted(const Args&... a) { return {StatusCode::kResourceExhausted, internal::StrCat(a...)}; }
  template <typename... Args> static Status FailedPrecondition(const Args&... a) { return {StatusCode::kFailedPrecondition, internal::StrCat(a...)}; }
  template <typename... Args> static Status Aborted(const Args&... a) { return {StatusCode::kAborted, internal::StrCat(a...)}; }
  template <typename... Args> static Status OutOfRange(const Args&... a) { return {StatusCode::kOutOfRange, internal::StrCat(a...)}; }
  template <typename... Args> static Status Unimplemented(const Args&... a) { return {StatusCode::kUnimplemented, internal::StrCat(a...)}; }
  template <typename... Args> static Status Internal(const Args&... a) { return {StatusCode::kInternal, internal::StrCat(a...)}; }
  template <typename... Args> static Status Unavailable(const Args&... a) { return {StatusCode::kUnavailable, internal::StrCat(a...)}; }
  template <typename... Args> static Status DataLoss(const Args&... a) { return {StatusCode::kDataLoss, internal::StrCat(a...)}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : std::string_view(); }
  // Machine-readable reason, e.g. "out_of_stock"; empty if none was set.
  std::string_view reason() const { return rep_ ? std::string_view(rep_->reason) : std::string_view(); }
  // The driver's error number (MariaDB errno, ...) that produced this status; 0 if none.
  int driver_error() const { return rep_ ? rep_->driver_error : 0; }

  // Builders; return a copy with the field set. REQUIRES: !ok().
  Status WithReason(std::string reason) const&;
  Status WithReason(std::string reason) &&;
  Status WithDriverError(int driver_error) &&;
  // Prepends "context: " to the message.
  Status Annotate(std::string_view context) &&;

  // "ABORTED: Deadlock found ... [mariadb 1213]".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    std::string reason;
    int driver_error = 0;
  };
  std::unique_ptr<Rep> rep_;
};

std::ostream& operator<<(std::ostream& out, const Status& status);
std::ostream& operator<<(std::ostream& out, StatusCode code);

}  // namespace lockstep

// Evaluates `expr` (a Status); returns it from the enclosing function if not OK.
#define LOCKSTEP_RETURN_IF_ERROR(expr)                 \
  do {                                                 \
    ::lockstep::Status lockstep_status_tmp_ = (expr);  \
    if (!lockstep_status_tmp_.ok()) return lockstep_status_tmp_; \
  } while (0)
