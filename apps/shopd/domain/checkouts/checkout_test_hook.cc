#include "domain/checkouts/checkout_test_hook.h"

#include <atomic>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>

namespace shopd::domain {

using lockstep::tcc::HookAction;
using lockstep::tcc::Step;
using lockstep::tcc::StepInfo;

lockstep::Result<lockstep::tcc::CoordinatorHooks> CheckoutTestHook(const std::string& spec,
                                                                   std::chrono::milliseconds hold) {
  if (spec.empty()) return lockstep::tcc::CoordinatorHooks{};
  const size_t colon = spec.find(':');
  const std::string step_name = spec.substr(0, colon);
  const std::string branch = colon == std::string::npos ? std::string() : spec.substr(colon + 1);
  bool known = false;
  Step step = Step::kLogged;
  for (Step s : {Step::kLogged, Step::kTried, Step::kDecided, Step::kBranchSettled, Step::kFinished}) {
    if (lockstep::tcc::StepName(s) == step_name) {
      step = s;
      known = true;
    }
  }
  if (!known) return lockstep::Status::InvalidArgument("checkout_test_hook: unknown step '", step_name, "'");
  auto fired = std::make_shared<std::atomic<bool>>(false);
  lockstep::tcc::CoordinatorHooks hooks;
  hooks.after_step = [step, branch, hold, fired](const StepInfo& info) {
    if (info.recovery || info.step != step || (!branch.empty() && info.branch_id != branch)) {
      return HookAction::kContinue;
    }
    if (fired->exchange(true)) return HookAction::kContinue;
    spdlog::warn("checkout test hook: holding {} after {}{}{} for {} ms", info.gid, lockstep::tcc::StepName(step),
                 branch.empty() ? "" : ":", branch, hold.count());
    if (hold.count() == 0) {
      for (;;) std::this_thread::sleep_for(std::chrono::hours(1));  // Until kill -9.
    }
    std::this_thread::sleep_for(hold);
    spdlog::warn("checkout test hook: released {}", info.gid);
    return HookAction::kContinue;
  };
  return hooks;
}

}  // namespace shopd::domain
