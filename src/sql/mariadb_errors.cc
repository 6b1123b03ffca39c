#include "sql/mariadb_errors.h"

#include <string>

namespace lockstep::sql::internal {

ErrorClass ClassifyMariaDbError(unsigned errnum) {
  switch (errnum) {
    case 1213:  // ER_LOCK_DEADLOCK (also Galera certification failure).
    case 1205:  // ER_LOCK_WAIT_TIMEOUT.
    case 1020:  // ER_CHECKREAD: record changed since last read (snapshot conflict).
      return ErrorClass::kRetryUnit;
    case 1927:  // ER_CONNECTION_KILLED.
    case 1053:  // ER_SERVER_SHUTDOWN.
    case 1152:  // ER_ABORTING_CONNECTION.
    case 1184:  // ER_NEW_ABORTING_CONNECTION.
    case 1040:  // ER_CON_COUNT_ERROR (too many connections).
    case 1043:  // ER_HANDSHAKE_ERROR.
    case 1047:  // ER_UNKNOWN_COM_ERROR (Galera: node not ready).
    case 1290:  // ER_OPTION_PREVENTS_STATEMENT (server is --read-only: failover).
    case 4031:  // ER_CLIENT_INTERACTION_TIMEOUT (wait_timeout disconnect).
      return ErrorClass::kConnectionBroken;
    case 1317:  // ER_QUERY_INTERRUPTED (KILL QUERY).
    case 1969:  // ER_STATEMENT_TIMEOUT (max_statement_time).
    case 3024:  // MySQL ER_QUERY_TIMEOUT (max_execution_time).
      return ErrorClass::kStatementInterrupted;
    case 1062:  // ER_DUP_ENTRY.
    case 1586:  // ER_DUP_ENTRY_WITH_KEY_NAME.
    case 1022:  // ER_DUP_KEY.
      return ErrorClass::kDuplicateKey;
    case 1045:  // ER_ACCESS_DENIED_ERROR (bad user/password).
      return ErrorClass::kUnauthenticated;
    case 1044:  // ER_DBACCESS_DENIED_ERROR.
    case 1142:  // ER_TABLEACCESS_DENIED_ERROR.
    case 1143:  // ER_COLUMNACCESS_DENIED_ERROR.
    case 1227:  // ER_SPECIFIC_ACCESS_DENIED_ERROR.
    case 1370:  // ER_PROCACCESS_DENIED_ERROR.
      return ErrorClass::kPermissionDenied;
    case 1064:  // ER_PARSE_ERROR.
    case 1054:  // ER_BAD_FIELD_ERROR.
    case 1048:  // ER_BAD_NULL_ERROR.
    case 1210:  // ER_WRONG_ARGUMENTS.
    case 1264:  // ER_WARN_DATA_OUT_OF_RANGE.
    case 1292:  // ER_TRUNCATED_WRONG_VALUE.
    case 1366:  // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD.
    case 1406:  // ER_DATA_TOO_LONG.
    case 1136:  // ER_WRONG_VALUE_COUNT_ON_ROW.
    case 1305:  // ER_SP_DOES_NOT_EXIST (also unknown SAVEPOINT).
    case 2031:  // CR_PARAMS_NOT_BOUND.
    case 2034:  // CR_INVALID_PARAMETER_NO.
    case 2036:  // CR_UNSUPPORTED_PARAM_TYPE.
    case 2057:  // CR_NEW_STMT_METADATA: the result set changed (ALTER TABLE); re-prepare.
      return ErrorClass::kBadStatement;
    case 1451:  // ER_ROW_IS_REFERENCED_2.
    case 1452:  // ER_NO_REFERENCED_ROW_2.
    case 4025:  // ER_CONSTRAINT_FAILED (CHECK).
    case 1792:  // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION.
      return ErrorClass::kConstraint;
    case 1146:  // ER_NO_SUCH_TABLE.
    case 1049:  // ER_BAD_DB_ERROR.
      return ErrorClass::kMissingSchema;
    default:
      break;
  }
  // Every other client-library error (CR_*: 2000..2999: server gone 2006, lost 2013/2055,
  // can't connect 2002/2003, out of sync 2014, malformed packet 2027, TLS 2026, ...) leaves
  // the connection in a state we cannot trust.
  if (errnum >= 2000 && errnum < 3000) return ErrorClass::kConnectionBroken;
  return ErrorClass::kOther;
}

bool DiscardsConnection(unsigned errnum) {
  return ClassifyMariaDbError(errnum) == ErrorClass::kConnectionBroken;
}

Status MariaDbStatus(unsigned errnum, std::string_view message, const ErrorContext& context) {
  const std::string text = ::lockstep::internal::StrCat("mariadb error ", errnum, ": ", message);
  const bool commit = context.phase == CallPhase::kCommit;
  Status status;
  switch (ClassifyMariaDbError(errnum)) {
    case ErrorClass::kRetryUnit:
      status = Status::Aborted(text, commit ? " (at COMMIT; the transaction was rolled back)" : "");
      break;
    case ErrorClass::kConnectionBroken:
      if (commit) {
        status = Status::Unknown("outcome of COMMIT unknown: connection lost",
                                 context.deadline_passed ? " (deadline exceeded)" : "", ": ", text);
      } else if (context.deadline_passed) {
        status = Status::DeadlineExceeded("deadline exceeded; connection closed: ", text);
      } else {
        status = Status::Unavailable("connection lost: ", text);
      }
      break;
    case ErrorClass::kStatementInterrupted:
      if (context.deadline_passed || errnum != 1317) {
        status = Status::DeadlineExceeded("statement time limit reached: ", text);
      } else {
        status = Status::Cancelled("statement interrupted: ", text);
      }
      break;
    case ErrorClass::kDuplicateKey: status = Status::AlreadyExists(text); break;
    case ErrorClass::kUnauthenticated: status = Status(StatusCode::kUnauthenticated, text); break;
    case ErrorClass::kPermissionDenied: status = Status::PermissionDenied(text); break;
    case ErrorClass::kBadStatement: status = Status::InvalidArgument(text); break;
    case ErrorClass::kConstraint: status = Status::FailedPrecondition(text); break;
    case ErrorClass::kMissingSchema:
    case ErrorClass::kOther:
      status = commit ? Status::Unknown("outcome of COMMIT unknown: ", text) : Status::Internal(text);
      break;
  }
  return std::move(status).WithDriverError(static_cast<int>(errnum));
}

bool PoisonsTransaction(const Status& status) {
  switch (status.code()) {
    case StatusCode::kAborted:
    case StatusCode::kUnavailable:
    case StatusCode::kUnknown:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

}  // namespace lockstep::sql::internal
