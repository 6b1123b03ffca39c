#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "lockstep/tcc/global_state.h"

namespace lockstep::tcc {

// Observer of a coordinator or participant (CoordinatorOptions::observer,
// ParticipantOptions::observer), e.g. for metrics (lockstep::prometheus binds one to a
// registry: BindTccObserver). Every callback is optional (empty = not called), runs
// without any of the module's locks held, possibly on several threads at once (callers of
// Execute, the recoverer thread), must be cheap and thread-safe, and must not call back
// into the coordinator or participant.
struct TccObserver {
  // Coordinator: a global transaction entered `to` (kTrying when it was logged); once per
  // transition, reported by the instance whose conditional UPDATE made it.
  std::function<void(GlobalState to)> on_state = nullptr;
  // Coordinator: recovery settled a global transaction found unfinished in `from`
  // (kTrying, kConfirming or kCancelling) into `to` (kConfirmed or kCancelled).
  std::function<void(GlobalState from, GlobalState to)> on_recovered = nullptr;
  // Coordinator: each recovery scan reports the age of the oldest unfinished global
  // transaction (zero if none), measured on the log server's clock.
  std::function<void(std::chrono::microseconds age)> on_oldest_unfinished = nullptr;
  // Participant: a Cancel found no Try (empty rollback, recorded).
  std::function<void(std::string_view participant)> on_empty_rollback = nullptr;
  // Participant: a Try arrived after its branch's Cancel and was refused (anti-hanging).
  std::function<void(std::string_view participant)> on_hanging_try_refused = nullptr;
  // Rare events worth a log line (a phase-two call failed and will be retried, a recoverer
  // was fenced out, ...). Default: not logged.
  std::function<void(std::string_view message)> on_log = nullptr;
};

}  // namespace lockstep::tcc
