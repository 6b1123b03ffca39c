#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lockstep/base/status.h"

namespace lockstep::tcc {

// The functions declared here are pure: thread-safe, no I/O.

// States of a global transaction in the coordinator's log. The only transitions are
//   trying -> confirming -> confirmed
//   trying -> cancelling -> cancelled
// each made by one conditional UPDATE (WHERE state = <from>), so each happens once.
enum class GlobalState { kTrying, kConfirming, kCancelling, kConfirmed, kCancelled };

// "trying", "confirming", "cancelling", "confirmed", "cancelled" (the log's `state` column).
std::string_view GlobalStateName(GlobalState state);
// The inverse of GlobalStateName; nullopt for anything else.
std::optional<GlobalState> ParseGlobalState(std::string_view name);
// kConfirmed and kCancelled.
bool IsFinal(GlobalState state);
// True iff `from -> to` is one of the four transitions above.
bool IsAllowedTransition(GlobalState from, GlobalState to);

// Reasons (Status::reason()) the tcc module sets itself.
// A Try refused because the branch was already cancelled (anti-hanging).
inline constexpr std::string_view kReasonTryAfterCancel = "tcc_try_after_cancel";
// Confirm of a branch whose Try did not commit, or that was cancelled; Cancel of a
// confirmed branch. Coordinator bugs: the barrier refuses them.
inline constexpr std::string_view kReasonConfirmWithoutTry = "tcc_confirm_without_try";
inline constexpr std::string_view kReasonConfirmAfterCancel = "tcc_confirm_after_cancel";
inline constexpr std::string_view kReasonCancelAfterConfirm = "tcc_cancel_after_confirm";
// Execute was stopped by a test hook (HookAction::kCrash): it did nothing more.
inline constexpr std::string_view kReasonCrashed = "tcc_crashed";
// A recoverer took the global transaction over (its fence is in the log row): the caller
// of Execute no longer drives it; read the outcome with Coordinator::Get.
inline constexpr std::string_view kReasonTakenOver = "tcc_taken_over";
// Execute was given a gid that is already in the log.
inline constexpr std::string_view kReasonDuplicateGid = "tcc_duplicate_gid";
// A transaction left in `trying` was cancelled by recovery.
inline constexpr std::string_view kReasonRecoveredTimeout = "tcc_timeout";

// One global transaction as the log holds it. Value type.
struct GlobalRecord {
  std::string gid = {};
  GlobalState state = GlobalState::kTrying;
  // Why it was cancelled: the refusing Try's code, reason (e.g. "insufficient_funds", or
  // kReasonRecoveredTimeout) and message. OK if it was not cancelled.
  Status cause = {};
  std::string payload = {};
  // Fence of the last recoverer that claimed it (0 = never recovered).
  int64_t fence = 0;
  // How many times a recoverer claimed it.
  int recoveries = 0;
};

// What Coordinator::Execute decided. Value type.
struct Outcome {
  // kConfirmed or kCancelled; kConfirming / kCancelling when the decision is durable but
  // phase two did not finish within CoordinatorOptions::phase_two_timeout (recovery
  // finishes it: a global transaction in kConfirming WILL be confirmed).
  GlobalState state = GlobalState::kTrying;
  // Why it was cancelled: the first failing Try's status (a business refusal keeps its
  // code and reason, e.g. kFailedPrecondition "insufficient_funds"; a Try whose outcome is
  // unknown or that ran out of time: kUnknown / kDeadlineExceeded / kUnavailable ...).
  // OK when confirmed.
  Status cause = {};
};

}  // namespace lockstep::tcc
