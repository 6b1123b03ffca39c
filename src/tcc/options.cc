#include <cctype>

#include "lockstep/lock/fenced_write.h"
#include "lockstep/tcc/options.h"
#include "lockstep/tcc/participant.h"

namespace lockstep::tcc {

std::string_view StepName(Step step) {
  switch (step) {
    case Step::kLogged: return "logged";
    case Step::kTried: return "tried";
    case Step::kDecided: return "decided";
    case Step::kBranchSettled: return "branch_settled";
    case Step::kFinished: return "finished";
    case Step::kRecoveryLocked: return "recovery_locked";
    case Step::kLeaseChecked: return "lease_checked";
  }
  return "unknown";
}

Status CoordinatorOptions::Validate() const {
  if (Status s = lock::internal::ValidateIdentifier(table_prefix + "global"); !s.ok()) {
    return Status::InvalidArgument("tcc: table_prefix: ", s.message());
  }
  if (phase_two_timeout <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("tcc: phase_two_timeout must be > 0");
  }
  if (recovery_after < std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("tcc: recovery_after must be >= 0");
  }
  if (recovery_interval <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("tcc: recovery_interval must be > 0");
  }
  if (recovery_batch <= 0) return Status::InvalidArgument("tcc: recovery_batch must be > 0");
  if (recovery_lock.empty()) return Status::InvalidArgument("tcc: recovery_lock must not be empty");
  if (run.max_attempts < 1) return Status::InvalidArgument("tcc: run.max_attempts must be >= 1");
  return Status::Ok();
}

Status ParticipantOptions::Validate() const {
  if (name.empty() || name.size() > 64) return Status::InvalidArgument("tcc: participant name must be 1..64 chars");
  for (unsigned char c : name) {
    if (!std::isprint(c)) return Status::InvalidArgument("tcc: participant name must be printable ASCII");
  }
  if (!on_try || !on_confirm || !on_cancel) {
    return Status::InvalidArgument("tcc: participant '", name, "' needs on_try, on_confirm and on_cancel");
  }
  if (Status s = lock::internal::ValidateIdentifier(barrier_table); !s.ok()) {
    return Status::InvalidArgument("tcc: barrier_table: ", s.message());
  }
  if (run.max_attempts < 1) return Status::InvalidArgument("tcc: run.max_attempts must be >= 1");
  return Status::Ok();
}

}  // namespace lockstep::tcc
