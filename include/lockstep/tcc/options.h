#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "lockstep/base/backoff.h"
#include "lockstep/base/status.h"
#include "lockstep/lock/options.h"
#include "lockstep/sql/run_in_transaction.h"
#include "lockstep/tcc/global_state.h"
#include "lockstep/tcc/observer.h"

namespace lockstep::tcc {

// Steps after which the coordinator calls CoordinatorHooks::after_step.
enum class Step {
  kLogged,         // The global transaction and its branches are in the log as `trying`.
  kTried,          // One branch's Try succeeded (branch_id set).
  kDecided,        // `confirming` or `cancelling` is durable in the log (state set).
  kBranchSettled,  // One branch's Confirm or Cancel succeeded (branch_id, state set).
  kFinished,       // `confirmed` or `cancelled` is durable (state set).
  // Recovery only:
  kRecoveryLocked,  // RecoverOnce holds the recovery lease (gid empty).
  kLeaseChecked,    // The lease was checked valid; the fenced log write of the final
                    // state follows (the window that only the fence protects).
};
std::string_view StepName(Step step);

struct StepInfo {
  Step step = Step::kLogged;
  std::string_view gid = {};
  std::string_view branch_id = {};        // kTried, kBranchSettled.
  GlobalState state = GlobalState::kTrying;  // The log state at this step.
  bool recovery = false;                  // Called from RecoverOnce (not Execute).
};

enum class HookAction {
  kContinue,
  // Abandon at this step, as if the process had died: Execute returns kAborted reason
  // kReasonCrashed and does nothing more (no log write, no participant call); RecoverOnce
  // stops and returns the same (its lease is released by the guard).
  kCrash,
};

// Test hooks. after_step runs on the thread doing the step, after it; it may block (to hold
// the coordinator at a step while a test acts) and decides whether to go on. Production
// code leaves it empty.
struct CoordinatorHooks {
  std::function<HookAction(const StepInfo& info)> after_step = nullptr;
};

struct CoordinatorOptions {
  // Prefix of the log's tables: "<prefix>global" and "<prefix>branch" (plain identifiers).
  // Default "tcc_".
  std::string table_prefix = "tcc_";
  // Phase two (the Confirms or Cancels and the final log write) runs until done or until
  // this long after the decision became durable; then Execute returns the decided state
  // (kConfirming / kCancelling) and recovery finishes. > 0. Default 10s.
  std::chrono::milliseconds phase_two_timeout{10'000};
  // Backoff between retries of a failed Confirm/Cancel or log write. Default 5ms..500ms.
  BackoffOptions retry_backoff = {};
  // Log transactions (deadlock reruns). Default: sql::RunOptions.
  sql::RunOptions run = {};

  // Recovery: a global transaction unfinished (trying, confirming, cancelling) whose log
  // row was last written more than this long ago (log server clock) is finished by
  // RecoverOnce: trying -> cancelled, confirming -> confirmed, cancelling -> cancelled.
  // Make it longer than any Execute takes (Try deadline + phase_two_timeout), else recovery
  // takes live transactions over (safe, but the caller of Execute then gets
  // kReasonTakenOver). >= 0. Default 30s.
  std::chrono::milliseconds recovery_after{30'000};
  // The background recoverer (StartRecoverer) runs RecoverOnce this often. > 0. Default 1s.
  std::chrono::milliseconds recovery_interval{1'000};
  // At most this many global transactions per RecoverOnce. > 0. Default 100.
  int recovery_batch = 100;
  // Name of the recovery lease lock (in the LockService's key prefix). Non-empty.
  // Default "tcc:recovery".
  std::string recovery_lock = "tcc:recovery";
  // The recovery lease. Default: lock::LockOptions (10s lease, renewed, waits).
  lock::LockOptions recovery_lock_options = {};

  // Optional callbacks (metrics). Default: none.
  TccObserver observer = {};
  // Test hooks. Default: none.
  CoordinatorHooks hooks = {};

  // OK or kInvalidArgument naming the first bad field.
  Status Validate() const;
};

// What one RecoverOnce did.
struct RecoveryStats {
  int found = 0;       // Unfinished transactions past recovery_after in this scan.
  int confirmed = 0;   // Settled into confirmed by this call.
  int cancelled = 0;   // Settled into cancelled by this call.
  int skipped = 0;     // Moved on by someone else before this call claimed them.
  int fenced = 0;      // A log write refused: a newer recoverer (higher fence) had taken over.
  int unfinished = 0;  // Phase two did not finish (a participant kept failing): retried later.
  bool lease_lost = false;  // The recovery lease was lost mid-scan: stopped early.
};

}  // namespace lockstep::tcc
