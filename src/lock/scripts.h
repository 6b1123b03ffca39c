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
// KEYS: lock key. ARGV: token. 1 if the key held our token and was deleted, else 0
// (compare-and-delete; RedLock, which has no waiter queue).
const redis::Script& ReleaseScript();
// KEYS: lock key, fence key. ARGV: token, fence. If the key still holds our token, sets
// the counter to max(counter, fence) and returns 1; else 0 (Redlock write-back).
const redis::Script& RaiseFenceScript();

// LockService's scripts keep a waiter queue per lock (wake one waiter per release, FIFO
// for fair acquirers). Keys of lock key K: K (holder token), K:fence, K:q (ZSET waiter ->
// ticket: queue order), K:qt (ZSET waiter -> registration expiry, Redis TIME in ms), K:qseq
// (ticket counter). A waiter is "<its service's wake channel>#<seq>"; waking it PUBLISHes
// that member on that channel. Expired registrations are purged by every script that
// reads the queue. The queue keys expire 4 registration TTLs after the last registration.
struct QueueKeys {
  std::string lock, fence, queue, expiry, seq;
  explicit QueueKeys(const std::string& key)
      : lock(key), fence(key + ":fence"), queue(key + ":q"), expiry(key + ":qt"), seq(key + ":qseq") {}
};

// KEYS: lock, fence, queue, expiry, seq. ARGV: token, lease ms, waiter ("" = not waiting),
// fair ("1"/"0"), registration TTL ms.
// Granted when the key is free and (not fair, or no live waiter is queued ahead of this
// one): {1, fence, ticket (0 = was not queued)}; the waiter leaves the queue. Else the
// waiter is queued (keeping its place if already queued; a fresh ticket if not) with its
// registration refreshed, and the reply is {0, PTTL of the holder (-1 no TTL, -2 vanished
// meanwhile), ticket}, or {0, -3, ticket} when the key is free but a fair acquirer must
// leave it to the queue's head (who is woken again).
const redis::Script& QueueAcquireScript();
// KEYS: lock, queue, expiry. ARGV: token. If the key holds our token: deletes it, wakes the
// queue's head (if any) and returns 1; else 0.
const redis::Script& QueueReleaseScript();
// KEYS: lock, queue, expiry. ARGV: waiter. Removes the waiter from the queue (an Acquire
// that gives up); if the lock is free, wakes the new head. Returns 1.
const redis::Script& LeaveQueueScript();

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
