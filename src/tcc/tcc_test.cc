#include <gtest/gtest.h>

#include <string>

#include "lockstep/tcc/branch.h"
#include "lockstep/tcc/global_state.h"
#include "lockstep/tcc/options.h"
#include "lockstep/tcc/participant.h"
#include "tcc/barrier_sql.h"

namespace lockstep::tcc {
namespace {

constexpr GlobalState kAll[] = {GlobalState::kTrying, GlobalState::kConfirming, GlobalState::kCancelling,
                                GlobalState::kConfirmed, GlobalState::kCancelled};

TEST(GlobalState, NamesRoundTrip) {
  for (GlobalState s : kAll) EXPECT_EQ(ParseGlobalState(GlobalStateName(s)), s);
  EXPECT_FALSE(ParseGlobalState("committed").has_value());
  EXPECT_TRUE(IsFinal(GlobalState::kConfirmed));
  EXPECT_TRUE(IsFinal(GlobalState::kCancelled));
  EXPECT_FALSE(IsFinal(GlobalState::kConfirming));
}

TEST(GlobalState, OnlyTheFourTransitionsAreAllowed) {
  int allowed = 0;
  for (GlobalState from : kAll) {
    for (GlobalState to : kAll) allowed += IsAllowedTransition(from, to) ? 1 : 0;
  }
  EXPECT_EQ(allowed, 4);
  EXPECT_TRUE(IsAllowedTransition(GlobalState::kTrying, GlobalState::kConfirming));
  EXPECT_TRUE(IsAllowedTransition(GlobalState::kTrying, GlobalState::kCancelling));
  EXPECT_TRUE(IsAllowedTransition(GlobalState::kConfirming, GlobalState::kConfirmed));
  EXPECT_TRUE(IsAllowedTransition(GlobalState::kCancelling, GlobalState::kCancelled));
  EXPECT_FALSE(IsAllowedTransition(GlobalState::kConfirming, GlobalState::kCancelling));
  EXPECT_FALSE(IsAllowedTransition(GlobalState::kCancelled, GlobalState::kConfirmed));
}

TEST(Branch, IdsAreBoundedNeverTruncated) {
  EXPECT_TRUE(ValidateBranchIds("g", "b").ok());
  EXPECT_EQ(ValidateBranchIds("", "b").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBranchIds("g", "").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateBranchIds(std::string(kMaxGidBytes, 'g'), std::string(kMaxBranchIdBytes, 'b')).ok());
  EXPECT_EQ(ValidateBranchIds(std::string(kMaxGidBytes + 1, 'g'), "b").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBranchIds("g", std::string(kMaxBranchIdBytes + 1, 'b')).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PhaseName(Phase::kCancel), "cancel");
  EXPECT_EQ(BranchOutcomeName(BranchOutcome::kEmptyRollback), "empty_rollback");
}

TEST(CoordinatorOptions, Validate) {
  EXPECT_TRUE(CoordinatorOptions{}.Validate().ok());
  CoordinatorOptions o;
  o.table_prefix = "bad-prefix";
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.phase_two_timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.recovery_after = std::chrono::milliseconds(-1);
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.recovery_after = std::chrono::milliseconds(0);
  EXPECT_TRUE(o.Validate().ok());
  o.recovery_batch = 0;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o = {};
  o.recovery_lock.clear();
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(ParticipantOptions, Validate) {
  ParticipantOptions o;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);  // No name.
  o.name = "payments";
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);  // No callbacks.
  const PhaseCallback ok = [](sql::Transaction&, const BranchContext&) { return Status::Ok(); };
  o.on_try = ok;
  o.on_confirm = ok;
  o.on_cancel = ok;
  EXPECT_TRUE(o.Validate().ok());
  o.barrier_table = "x; DROP TABLE y";
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o.barrier_table = "tcc_barrier";
  o.name = std::string(65, 'n');
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(Barrier, StatementsNeverLockTheBarrierForUpdate) {
  EXPECT_NE(internal::BarrierInsertSql("b").find("INSERT IGNORE INTO `b`"), std::string::npos);
  EXPECT_EQ(internal::BarrierSelectSql("b").find("FOR UPDATE"), std::string::npos);
  EXPECT_NE(internal::BarrierDdl("b").find("PRIMARY KEY (gid, branch_id, op)"), std::string::npos);
}

TEST(Steps, Names) {
  EXPECT_EQ(StepName(Step::kLogged), "logged");
  EXPECT_EQ(StepName(Step::kLeaseChecked), "lease_checked");
}

}  // namespace
}  // namespace lockstep::tcc
