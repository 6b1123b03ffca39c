#pragma once

#include <string>
#include <string_view>

#include "lockstep/base/status.h"

namespace lockstep::tcc {

// The functions declared here are pure: thread-safe, no I/O.

// Longest global transaction id and branch id, in bytes (the barrier's and the log's key
// columns; longer ids are refused with kInvalidArgument, never truncated).
inline constexpr size_t kMaxGidBytes = 128;
inline constexpr size_t kMaxBranchIdBytes = 64;

// What a participant's Try/Confirm/Cancel callback is told about its branch. Value type,
// thread-compatible.
struct BranchContext {
  // The global transaction id (1..kMaxGidBytes bytes).
  std::string gid = {};
  // The branch id, unique within the global transaction (1..kMaxBranchIdBytes bytes).
  std::string branch_id = {};
  // Opaque to the library: what the branch is about (e.g. "account=7 amount=120"). The
  // same bytes reach every phase, also after a crash (they are in the coordinator's log).
  std::string payload = {};
};

// One branch of a global transaction as the coordinator is given it. Value type.
struct BranchSpec {
  std::string branch_id = {};    // 1..kMaxBranchIdBytes bytes, unique within the transaction.
  std::string participant = {};  // Name of a participant registered with the coordinator.
  std::string payload = {};      // Handed to every phase (BranchContext::payload).
};

// The three phases of a branch.
enum class Phase { kTry, kConfirm, kCancel };
// "try", "confirm", "cancel" (the barrier's `op` column).
std::string_view PhaseName(Phase phase);

// What one phase call did at the participant (the barrier's verdict).
enum class BranchOutcome {
  kApplied,        // The business callback ran and committed with the barrier row.
  kDuplicate,      // The phase had already run (and committed) for this branch: nothing done.
  kEmptyRollback,  // Cancel of a branch whose Try never ran: recorded, callback not called;
                   // a Try arriving later is refused (anti-hanging).
  kNothingToUndo,  // Cancel of a branch whose Try was refused by its business check (the Try
                   // rolled back its own effects): recorded, callback not called.
};
// "applied", "duplicate", "empty_rollback", "nothing_to_undo".
std::string_view BranchOutcomeName(BranchOutcome outcome);

// kInvalidArgument unless gid and branch_id have valid lengths (1..kMax*Bytes).
Status ValidateBranchIds(std::string_view gid, std::string_view branch_id);

}  // namespace lockstep::tcc
