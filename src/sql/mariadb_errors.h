#pragma once

#include <string_view>

#include "lockstep/base/status.h"

namespace lockstep::sql::internal {

// The one place that turns MariaDB/MySQL error numbers into lockstep Status codes
// (STYLE.md R4). Everything here is pure and thread-safe.

// What an error number means for the connection and the transaction.
enum class ErrorClass {
  kRetryUnit,             // 1213 deadlock, 1205 lock wait timeout, 1020 snapshot conflict.
  kConnectionBroken,      // Client/network errors, KILL CONNECTION, shutdown: discard it.
  kStatementInterrupted,  // 1317, 1969 (3024): statement aborted, connection reusable.
  kDuplicateKey,          // 1062, 1586, 1022.
  kUnauthenticated,       // 1045.
  kPermissionDenied,      // 1044, 1142, 1143, 1227, ...
  kBadStatement,          // Syntax, unknown column, wrong or bad parameter values.
  kConstraint,            // Foreign key, CHECK constraint, read-only transaction.
  kMissingSchema,         // 1146 no such table, 1049 unknown database.
  kOther,                 // Anything else.
};

ErrorClass ClassifyMariaDbError(unsigned errnum);

// True if the connection must be closed and never returned to the pool after `errnum`.
bool DiscardsConnection(unsigned errnum);

// Where the failed call was.
enum class CallPhase { kConnect, kStatement, kCommit };

struct ErrorContext {
  CallPhase phase = CallPhase::kStatement;
  // Our Deadline had passed when the error was seen (or the watchdog cut the call).
  bool deadline_passed = false;
};

// The Status for a driver error, carrying `errnum` as driver_error():
//   kRetryUnit             -> kAborted (RunInTransaction reruns the unit).
//   kConnectionBroken      -> kUnavailable before COMMIT (work lost, unit may be rerun);
//                             kDeadlineExceeded if our deadline cut the call before COMMIT;
//                             kUnknown during COMMIT (the outcome is unknown; never rerun).
//   kStatementInterrupted  -> kDeadlineExceeded if our deadline passed or the error is the
//                             server-side time limit (1969/3024, which we set from the
//                             deadline); else kCancelled (someone ran KILL QUERY). The
//                             transaction must roll back; the connection stays usable.
//   kDuplicateKey          -> kAlreadyExists;  kUnauthenticated -> kUnauthenticated;
//   kPermissionDenied      -> kPermissionDenied;  kBadStatement -> kInvalidArgument;
//   kConstraint            -> kFailedPrecondition;  kMissingSchema, kOther -> kInternal
//                             (kUnknown during COMMIT: a COMMIT that failed for an
//                             unexpected reason has an unknown outcome).
// `message` is the driver's text (never contains bound parameter values).
Status MariaDbStatus(unsigned errnum, std::string_view message, const ErrorContext& context);

// True if a failed statement leaves the transaction unusable, so only a full rollback may
// follow: retryable aborts (1213 already rolled the transaction back; 1205 only the
// statement, and we roll back the rest), interrupted statements and lost connections.
bool PoisonsTransaction(const Status& status);

}  // namespace lockstep::sql::internal
