#pragma once

#include "lockstep/base/circuit_breaker.h"
#include "lockstep/base/status.h"

namespace lockstep::sql::internal {

// How the pool's CircuitBreaker (PoolOptions::breaker) judges MariaDB. Pure functions of
// their arguments plus the breaker's own state; thread-safe.

// Whether `status`, the result of a call that reached the network, says the server is
// sick: unreachable or lost (kUnavailable), too slow for the call's deadline
// (kDeadlineExceeded), a COMMIT whose outcome is unknown (kUnknown). Server answers
// (deadlock, lock wait timeout, duplicate key, bad SQL, access denied, ...) are not.
bool IsServerFailure(const Status& status);

// breaker.Allow() for one network call, its refusal annotated "mariadb".
Status AdmitCall(CircuitBreaker& breaker);
// breaker.Check() (no probe slot taken), its refusal annotated "mariadb".
Status CheckBreaker(CircuitBreaker& breaker);
// Reports the outcome of a call AdmitCall let through.
void RecordServerOutcome(CircuitBreaker& breaker, const Status& status);

}  // namespace lockstep::sql::internal
