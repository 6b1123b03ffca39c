#pragma once

#include <chrono>
#include <string>

#include "lockstep/base/result.h"
#include "lockstep/tcc/options.h"

namespace shopd::domain {

// Test hook (shopd's checkout_test_hook): `spec` "<step>[:<branch>]" names a
// lockstep::tcc::StepName of Execute (logged, tried, decided, branch_settled, finished) and
// optionally a branch ("shop" or "pay"). The first checkout of this process that reaches it
// (outside recovery) is held there for `hold` (0 = until the process dies) and then goes
// on; every other step passes. A line on stderr ("checkout test hook: holding ...") says
// when it holds. Empty `spec`: no hook. kInvalidArgument for an unknown step. Thread-safe.
lockstep::Result<lockstep::tcc::CoordinatorHooks> CheckoutTestHook(const std::string& spec,
                                                                   std::chrono::milliseconds hold);

}  // namespace shopd::domain
