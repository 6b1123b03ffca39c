#pragma once

// The circuit breaker is part of base (sql::Pool and redis::Client use it, and resilience
// sits above them); these are its names in the resilience module.
#include "lockstep/base/circuit_breaker.h"

namespace lockstep::resilience {

using ::lockstep::BreakerState;
using ::lockstep::BreakerStateName;
using ::lockstep::CircuitBreaker;
using ::lockstep::CircuitBreakerOptions;
using ::lockstep::CircuitBreakerStats;

}  // namespace lockstep::resilience
