#include "resilience/rate_limiter_scripts.h"

#include <chrono>

namespace lockstep::resilience::internal {
namespace {

// scripts/bench.sh extracts this text (between the two raw-string markers) to run the
// same script under redis-benchmark. Numbers go back to Redis with %.0f: Lua 5.1 would
// print TAT (~1.7e15 us) in exponent form and lose digits.
constexpr const char kDecideSource[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local limit = now + burst * interval
if tat > limit then
  -- Only after a change of rate or burst: the stored debt of the old settings becomes an
  -- empty bucket of the new ones (stored, so the next decision sees it drain).
  tat = limit
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
local next_tat = tat + n * interval
if next_tat > limit then
  local remaining = math.floor((limit - tat) / interval)
  if remaining < 0 then remaining = 0 end
  return {0, remaining, next_tat - limit, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return {1, math.floor((limit - next_tat) / interval), 0, next_tat - now}
)lua";

constexpr const char kHeartbeatSource[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], string.format('%.0f', now + ttl), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
return redis.call('ZCARD', KEYS[1])
)lua";

}  // namespace

// Function-local statics: initialised once, thread-safe, never destroyed before use.
const redis::Script& DecideScript() {
  static const redis::Script* const kScript = new redis::Script(kDecideSource);
  return *kScript;
}

const redis::Script& HeartbeatScript() {
  static const redis::Script* const kScript = new redis::Script(kHeartbeatSource);
  return *kScript;
}

Result<RateDecision> ParseDecision(const redis::Reply& reply) {
  const auto& a = reply.array();
  if (!reply.is_array() || a.size() != 4 || !a[0].is_integer() || !a[1].is_integer() || !a[2].is_integer() ||
      !a[3].is_integer()) {
    return Status::Internal("rate limiter: unexpected script reply ", reply.DebugString());
  }
  RateDecision d;
  d.allowed = a[0].integer() == 1;
  d.remaining = a[1].integer();
  d.retry_after = std::chrono::microseconds(a[2].integer());
  d.reset = std::chrono::microseconds(a[3].integer());
  return d;
}

}  // namespace lockstep::resilience::internal
