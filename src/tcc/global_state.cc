#include "lockstep/tcc/global_state.h"

namespace lockstep::tcc {

std::string_view GlobalStateName(GlobalState state) {
  switch (state) {
    case GlobalState::kTrying: return "trying";
    case GlobalState::kConfirming: return "confirming";
    case GlobalState::kCancelling: return "cancelling";
    case GlobalState::kConfirmed: return "confirmed";
    case GlobalState::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<GlobalState> ParseGlobalState(std::string_view name) {
  for (GlobalState s : {GlobalState::kTrying, GlobalState::kConfirming, GlobalState::kCancelling,
                        GlobalState::kConfirmed, GlobalState::kCancelled}) {
    if (GlobalStateName(s) == name) return s;
  }
  return std::nullopt;
}

bool IsFinal(GlobalState state) { return state == GlobalState::kConfirmed || state == GlobalState::kCancelled; }

bool IsAllowedTransition(GlobalState from, GlobalState to) {
  switch (from) {
    case GlobalState::kTrying: return to == GlobalState::kConfirming || to == GlobalState::kCancelling;
    case GlobalState::kConfirming: return to == GlobalState::kConfirmed;
    case GlobalState::kCancelling: return to == GlobalState::kCancelled;
    case GlobalState::kConfirmed:
    case GlobalState::kCancelled: return false;
  }
  return false;
}

}  // namespace lockstep::tcc
