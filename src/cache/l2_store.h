#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/fill_outcome.h"
#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/cache/options.h"
#include "lockstep/cache/versioned.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/reply.h"
#include "lockstep/redis/script.h"
#include "lockstep/resilience/circuit_breaker.h"

namespace lockstep::cache::internal {

// One L2 read: what the key holds in Redis and the Redis TIME of the read.
struct L2Entry {
  std::string kind;  // "v" value, "n" not-found, "x" tombstone, "" none, "a" never created (Bloom).
  Versioned<std::string> entry;  // Set for "v" and "n".
  int64_t time_us = 0;           // Redis TIME when read.
};

// L2: the cache's side of Redis. Every call runs one script of l2_scripts.h (versioned
// fills, tombstones and their publication on the invalidation bus compared in Lua), or a
// Bloom marker write, through the circuit breaker and within options.redis_timeout.
// Thread-safe: every member is immutable after construction, and the Client, the Script
// objects and the CircuitBreaker are thread-safe themselves. The Client, Clock and
// `options` must outlive the store.
class L2Store {
 public:
  // `bus_channel`: where Invalidate publishes (InvalidationBus::Open subscribes to it).
  L2Store(redis::Client& client, const CacheOptions& options, std::string bus_channel, const Clock& clock,
          std::unique_ptr<resilience::CircuitBreaker> breaker);

  // The L2 entry of `key`, consulting the Bloom filter when options.bloom_bits > 0.
  // Errors: Redis failures (kUnavailable while the breaker is open), kInternal for an
  // unexpected script reply. Thread-safe.
  Result<L2Entry> Read(std::string_view key);

  // Stores `entry` for `ttl` unless (options.versioned_fills) the load, which started at
  // Redis time `load_start_us`, is older than tombstone_ttl (kTooOld), the same version is
  // there (kSame), or a newer version or a tombstone the load did not start after is
  // there (kStale). Errors: Redis failures. Thread-safe.
  Result<FillOutcome> Fill(std::string_view key, const Versioned<std::string>& entry, std::chrono::milliseconds ttl,
                           int64_t load_start_us);

  // Writes a tombstone of `version` (options.l2_enabled; deletes the key instead without
  // versioned_fills) and publishes the invalidation on the bus, in one script. A no-op
  // returning OK when neither L1 nor L2 is enabled. `deadline` is capped at redis_timeout.
  // Errors: Redis failures (kUnavailable while the breaker is open). Thread-safe.
  Status Invalidate(std::string_view key, int64_t version, const Deadline& deadline);
  // Invalidate for each (key, version), in order: one script per up to 100 keys, up to 10
  // scripts per pipeline. OK when every one ran; else the first error (a prefix may have
  // run). Thread-safe.
  Status InvalidateMany(const std::vector<std::pair<std::string, int64_t>>& items, const Deadline& deadline);

  // ByteCache::BloomAdd / BloomMarkReady: kFailedPrecondition when options.bloom_bits is
  // 0, else the Redis outcome. Thread-safe.
  Status BloomAdd(std::string_view key, const Deadline& deadline);
  Status BloomMarkReady(const Deadline& deadline);

  // The breaker's counters. Thread-safe.
  resilience::CircuitBreakerStats breaker_stats() const { return breaker_->stats(); }

 private:
  std::string RedisKey(std::string_view key) const { return key_prefix_ + std::string(key); }
  // `outer` capped at options.redis_timeout.
  Deadline RedisDeadline(const Deadline& outer = Deadline::Infinite()) const;
  std::vector<std::string> BloomArgs(std::string_view key) const;
  // The invalidate script's ARGV for items [first, last).
  std::vector<std::string> InvalidateArgs(const std::vector<std::pair<std::string, int64_t>>& items, size_t first,
                                          size_t last) const;
  // One script call through the breaker.
  Result<redis::Reply> RunScript(const redis::Script& script, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args, const Deadline& deadline);

  redis::Client& client_;
  const CacheOptions& options_;
  const Clock& clock_;
  const std::unique_ptr<resilience::CircuitBreaker> breaker_;
  const std::string key_prefix_;
  const std::string bus_channel_;
  const std::string bloom_key_;
  const std::string bloom_ready_key_;
};

}  // namespace lockstep::cache::internal
