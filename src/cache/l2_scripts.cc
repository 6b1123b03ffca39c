#include "cache/l2_scripts.h"

namespace lockstep::cache::internal {

// Versions and microsecond times stay below 2^53, so Lua's doubles hold them exactly;
// they are written back with %.0f (tostring would use exponent notation).

const redis::Script& ReadScript() {
  static const redis::Script script(R"lua(
local e = redis.call('HMGET', KEYS[1], 'k', 'v', 'd')
local t = redis.call('TIME')
if not e[1] and #KEYS == 3 and redis.call('EXISTS', KEYS[3]) == 1 then
  for i = 1, #ARGV do
    if redis.call('GETBIT', KEYS[2], ARGV[i]) == 0 then
      return {'a', '0', '', t[1], t[2]}
    end
  end
end
return {e[1] or '', e[2] or '', e[3] or '', t[1], t[2]}
)lua");
  return script;
}

const redis::Script& FillScript() {
  static const redis::Script script(R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local start = tonumber(ARGV[5])
if ARGV[7] == '1' then
  if now - start > tonumber(ARGV[6]) then return -3 end
  local cur = redis.call('HMGET', KEYS[1], 'k', 'v', 'ts')
  if cur[1] then
    local fv = tonumber(ARGV[2])
    local cv = tonumber(cur[2])
    if cur[1] == 'x' then
      if fv < cv and start <= tonumber(cur[3]) then return -2 end
    elseif fv < cv then
      return -1
    elseif fv == cv then
      return 0
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'k', ARGV[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
)lua");
  return script;
}

const redis::Script& InvalidateScript() {
  static const redis::Script script(R"lua(
local versioned = ARGV[3] == '1'
local l2 = ARGV[4] == '1'
local now = 0
if l2 and versioned then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
for i = 1, #KEYS do
  local key = KEYS[i]
  if l2 then
    if versioned then
      local v = tonumber(ARGV[3 + 2 * i])
      local cur = redis.call('HMGET', key, 'k', 'v')
      local keep = false
      if cur[1] then
        local cv = tonumber(cur[2])
        if cur[1] == 'x' then
          if cv > v then v = cv end
        elseif cv >= v then
          keep = true
        end
      end
      if not keep then
        redis.call('DEL', key)
        redis.call('HSET', key, 'k', 'x', 'v', string.format('%.0f', v), 'ts', string.format('%.0f', now))
        redis.call('PEXPIRE', key, ARGV[1])
      end
    else
      redis.call('DEL', key)
    end
  end
  redis.call('PUBLISH', ARGV[2], ARGV[4 + 2 * i])
end
return 1
)lua");
  return script;
}

const redis::Script& BloomAddScript() {
  static const redis::Script script(R"lua(
for i = 1, #ARGV do redis.call('SETBIT', KEYS[1], ARGV[i], 1) end
return 1
)lua");
  return script;
}

}  // namespace lockstep::cache::internal
