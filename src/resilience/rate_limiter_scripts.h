#pragma once

#include "lockstep/base/result.h"
#include "lockstep/redis/reply.h"
#include "lockstep/redis/script.h"
#include "lockstep/resilience/rate_decision.h"

namespace lockstep::resilience::internal {

// KEYS: the decision key. ARGV: emission interval in microseconds (ceil(1e6 / rate)),
// burst, n. GCRA with now = Redis TIME (microseconds). Admits when max(TAT, now) + n*T <=
// now + burst*T; then stores the new TAT with a PX of the time until the bucket is full
// again (a missing key = a full bucket). Returns {allowed 1/0, remaining, retry_after us,
// reset us}. The caller never sends a time.
const redis::Script& DecideScript();

// KEYS: the instance set. ARGV: member, TTL ms. Drops members whose expiry (Redis TIME,
// ms) passed, sets this member's expiry to now + TTL, and returns the live member count.
const redis::Script& HeartbeatScript();

// Parses DecideScript's reply (kInternal if malformed).
Result<RateDecision> ParseDecision(const redis::Reply& reply);

}  // namespace lockstep::resilience::internal
