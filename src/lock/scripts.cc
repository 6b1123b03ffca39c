#include "lock/scripts.h"

namespace lockstep::lock::internal {

// Function-local statics: initialised once, thread-safe, never destroyed before use.
const redis::Script& AcquireScript() {
  static const redis::Script* const kScript = new redis::Script(R"lua(
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('INCR', KEYS[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
)lua");
  return *kScript;
}

const redis::Script& RenewScript() {
  static const redis::Script* const kScript = new redis::Script(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
)lua");
  return *kScript;
}

const redis::Script& ReleaseScript() {
  static const redis::Script* const kScript = new redis::Script(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], KEYS[1]) end
  return 1
end
return 0
)lua");
  return *kScript;
}

const redis::Script& RaiseFenceScript() {
  static const redis::Script* const kScript = new redis::Script(R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
return 1
)lua");
  return *kScript;
}

}  // namespace lockstep::lock::internal
