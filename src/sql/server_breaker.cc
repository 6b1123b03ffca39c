#include "sql/server_breaker.h"

namespace lockstep::sql::internal {

bool IsServerFailure(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kUnknown: return true;
    default: return false;
  }
}

Status AdmitCall(CircuitBreaker& breaker) {
  Status s = breaker.Allow();
  return s.ok() ? s : std::move(s).Annotate("mariadb");
}

Status CheckBreaker(CircuitBreaker& breaker) {
  Status s = breaker.Check();
  return s.ok() ? s : std::move(s).Annotate("mariadb");
}

void RecordServerOutcome(CircuitBreaker& breaker, const Status& status) {
  if (IsServerFailure(status)) {
    breaker.RecordFailure();
  } else {
    breaker.RecordSuccess();
  }
}

}  // namespace lockstep::sql::internal
