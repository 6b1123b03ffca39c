#include "lockstep/tcc/branch.h"

namespace lockstep::tcc {

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kTry: return "try";
    case Phase::kConfirm: return "confirm";
    case Phase::kCancel: return "cancel";
  }
  return "unknown";
}

std::string_view BranchOutcomeName(BranchOutcome outcome) {
  switch (outcome) {
    case BranchOutcome::kApplied: return "applied";
    case BranchOutcome::kDuplicate: return "duplicate";
    case BranchOutcome::kEmptyRollback: return "empty_rollback";
    case BranchOutcome::kNothingToUndo: return "nothing_to_undo";
  }
  return "unknown";
}

Status ValidateBranchIds(std::string_view gid, std::string_view branch_id) {
  if (gid.empty() || gid.size() > kMaxGidBytes) {
    return Status::InvalidArgument("tcc: gid must be 1..", kMaxGidBytes, " bytes, got ", gid.size());
  }
  if (branch_id.empty() || branch_id.size() > kMaxBranchIdBytes) {
    return Status::InvalidArgument("tcc: branch id must be 1..", kMaxBranchIdBytes, " bytes, got ",
                                   branch_id.size());
  }
  return Status::Ok();
}

}  // namespace lockstep::tcc
