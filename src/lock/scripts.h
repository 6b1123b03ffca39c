#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lockstep/base/result.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/script.h"

namespace lockstep::lock::internal {

// KEYS: lock key, fence key. ARGV: token, lease ms.
// Returns {1, fence} when granted (SET NX PX + INCR, atomically), else {0, PTTL of the
// holder's key} (-1: no TTL, -2: vanished meanwhile).
const redis::Script& AcquireScript();
// KEYS: lock key. ARGV: token, lease ms. 1 if still ours and extended, else 0.
const redis::Script& RenewScript();
// KEYS: lock key. ARGV: token, release channel ("" = do not publish). 1 if deleted (and
// the key published on the channel), else 0.
const redis::Script& ReleaseScript();
// KEYS: lock key, fence key. ARGV: token, fence. If the key still holds our token, sets
// the counter to max(counter, fence) and returns 1; else 0 (Redlock write-back).
const redis::Script& RaiseFenceScript();

// Parses the acquire script's {granted, fence-or-pttl} reply.
Result<std::pair<bool, int64_t>> ParseAcquireReply(const redis::Reply& reply);

// What a renewal sends for one lease (copied out of the lease, so a renewal still in
// flight on a slow node never touches a lease that is gone). Value type.
struct RenewItem {
  std::string key;
  std::string token;
  int64_t lease_ms = 0;
};

// Renews `items` on one node in one pipeline (EVALSHA; NOSCRIPT falls back to EVAL per
// lease), bounded by `deadline`. One result per item: 1 (extended), 0 (not ours any more)
// or the error.
std::vector<Result<int64_t>> RenewOnNode(redis::Client& client, const std::vector<RenewItem>& items,
                                         const Deadline& deadline);

}  // namespace lockstep::lock::internal
