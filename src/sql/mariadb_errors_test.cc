#include "sql/mariadb_errors.h"

#include <gtest/gtest.h>

namespace lockstep::sql::internal {
namespace {

Status Make(unsigned err, CallPhase phase = CallPhase::kStatement, bool deadline_passed = false) {
  return MariaDbStatus(err, "text", ErrorContext{phase, deadline_passed});
}

TEST(MariaDbErrors, RetryableAbortsMapToAborted) {
  for (unsigned err : {1213u, 1205u, 1020u}) {
    EXPECT_EQ(ClassifyMariaDbError(err), ErrorClass::kRetryUnit) << err;
    const Status s = Make(err);
    EXPECT_EQ(s.code(), StatusCode::kAborted) << err;
    EXPECT_EQ(s.driver_error(), static_cast<int>(err));
    EXPECT_FALSE(DiscardsConnection(err));
    EXPECT_TRUE(PoisonsTransaction(s));
  }
  EXPECT_EQ(Make(1213, CallPhase::kCommit).code(), StatusCode::kAborted);  // Galera certification.
}

TEST(MariaDbErrors, LostConnectionIsUnavailableBeforeCommit) {
  for (unsigned err : {2006u, 2013u, 1927u, 1053u, 2055u, 2002u, 2003u, 2014u, 4031u}) {
    EXPECT_TRUE(DiscardsConnection(err)) << err;
    EXPECT_EQ(Make(err).code(), StatusCode::kUnavailable) << err;
    EXPECT_EQ(Make(err, CallPhase::kConnect).code(), StatusCode::kUnavailable) << err;
  }
}

TEST(MariaDbErrors, LostConnectionDuringCommitIsUnknown) {
  for (unsigned err : {2006u, 2013u, 1927u, 1053u, 2055u}) {
    const Status s = Make(err, CallPhase::kCommit);
    EXPECT_EQ(s.code(), StatusCode::kUnknown) << err;
    EXPECT_EQ(s.driver_error(), static_cast<int>(err));
    EXPECT_EQ(Make(err, CallPhase::kCommit, /*deadline_passed=*/true).code(), StatusCode::kUnknown) << err;
  }
  // An unexpected server error at COMMIT: outcome unknown too.
  EXPECT_EQ(Make(1180, CallPhase::kCommit).code(), StatusCode::kUnknown);
}

TEST(MariaDbErrors, WatchdogCutBeforeCommitIsDeadlineExceeded) {
  EXPECT_EQ(Make(2013, CallPhase::kStatement, true).code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(DiscardsConnection(2013));
}

TEST(MariaDbErrors, InterruptedStatementKeepsConnection) {
  EXPECT_EQ(ClassifyMariaDbError(1969), ErrorClass::kStatementInterrupted);
  EXPECT_FALSE(DiscardsConnection(1969));
  EXPECT_FALSE(DiscardsConnection(1317));
  EXPECT_EQ(Make(1969).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Make(3024).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Make(1317).code(), StatusCode::kCancelled);
  EXPECT_EQ(Make(1317, CallPhase::kStatement, true).code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(PoisonsTransaction(Make(1969)));
}

TEST(MariaDbErrors, DuplicateKeyIsAlreadyExists) {
  for (unsigned err : {1062u, 1586u, 1022u}) EXPECT_EQ(Make(err).code(), StatusCode::kAlreadyExists) << err;
  EXPECT_FALSE(PoisonsTransaction(Make(1062)));
  EXPECT_FALSE(DiscardsConnection(1062));
}

TEST(MariaDbErrors, AccessErrors) {
  EXPECT_EQ(Make(1045, CallPhase::kConnect).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Make(1044).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Make(1142).code(), StatusCode::kPermissionDenied);
}

TEST(MariaDbErrors, BadStatementsAndSchema) {
  EXPECT_EQ(Make(1064).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Make(1054).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Make(1146).code(), StatusCode::kInternal);
  EXPECT_EQ(Make(1452).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Make(9999).code(), StatusCode::kInternal);
  EXPECT_FALSE(PoisonsTransaction(Make(1064)));
  EXPECT_FALSE(DiscardsConnection(2057));  // Result metadata changed: re-prepare, keep it.
}

TEST(MariaDbErrors, MessageCarriesErrnoAndText) {
  const Status s = MariaDbStatus(1213, "Deadlock found", ErrorContext{});
  EXPECT_NE(s.ToString().find("1213"), std::string::npos);
  EXPECT_NE(s.ToString().find("Deadlock found"), std::string::npos);
}

}  // namespace
}  // namespace lockstep::sql::internal
