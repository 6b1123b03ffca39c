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
  return 1
end
return 0
)lua");
  return *kScript;
}

namespace {

// Lua shared by the queue scripts: `now` from Redis TIME (never the caller's clock), the
// purge of expired registrations (bounded per call) and the wake-up of the head.
constexpr const char* kQueueLib = R"lua(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function purge(queue, expiry, now)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 64)
  for _, m in ipairs(gone) do
    redis.call('ZREM', queue, m)
    redis.call('ZREM', expiry, m)
  end
end
local function wake(member)
  local channel = string.match(member, '^(.*)#%d+$')
  if channel then redis.call('PUBLISH', channel, member) end
end
local function wake_head(queue, expiry)
  purge(queue, expiry, now_ms())
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if head then wake(head) end
end
)lua";

}  // namespace

const redis::Script& QueueAcquireScript() {
  static const redis::Script* const kScript = new redis::Script(std::string(kQueueLib) + R"lua(
local member, fair, ttl = ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local now = now_ms()
purge(KEYS[3], KEYS[4], now)
local head = nil
if redis.call('EXISTS', KEYS[1]) == 0 then
  if fair then
    local first = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
    if first and first ~= member then head = first end
  end
  if not head then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    local ticket = 0
    if member ~= '' then
      ticket = tonumber(redis.call('ZSCORE', KEYS[3], member) or '0')
      redis.call('ZREM', KEYS[3], member)
      redis.call('ZREM', KEYS[4], member)
    end
    return {1, redis.call('INCR', KEYS[2]), ticket}
  end
end
local ticket = 0
if member ~= '' then
  local score = redis.call('ZSCORE', KEYS[3], member)
  if score then
    ticket = tonumber(score)
  else
    ticket = redis.call('INCR', KEYS[5])
    redis.call('ZADD', KEYS[3], ticket, member)
  end
  redis.call('ZADD', KEYS[4], now + ttl, member)
  for i = 3, 5 do
    if redis.call('PTTL', KEYS[i]) < 4 * ttl then redis.call('PEXPIRE', KEYS[i], 4 * ttl) end
  end
end
if head then
  wake(head)
  return {0, -3, ticket}
end
return {0, redis.call('PTTL', KEYS[1]), ticket}
)lua");
  return *kScript;
}

const redis::Script& QueueReleaseScript() {
  static const redis::Script* const kScript = new redis::Script(std::string(kQueueLib) + R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
wake_head(KEYS[2], KEYS[3])
return 1
)lua");
  return *kScript;
}

const redis::Script& LeaveQueueScript() {
  static const redis::Script* const kScript = new redis::Script(std::string(kQueueLib) + R"lua(
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then wake_head(KEYS[2], KEYS[3]) end
return 1
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
