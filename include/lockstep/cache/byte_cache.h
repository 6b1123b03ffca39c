#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <span>
#include <string_view>

#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/cache/options.h"
#include "lockstep/cache/stats.h"
#include "lockstep/cache/versioned.h"

namespace lockstep::redis {
class Client;
}

namespace lockstep::cache {

// The untyped engine behind Cache<K, V>: keys are strings, values are bytes. Most users
// want Cache<K, V> (cache.h), which adds a codec.
//
// Get: L1 (in-process; only while the invalidation bus is healthy) -> L2 (Redis) -> the
// loader, through singleflight (one load per key per process; callers that arrive while
// it runs wait for it within their own deadline and share its result or error). The load
// runs under options.loader_budget, not the first caller's deadline; that caller returns
// when the load does, so it may return up to loader_budget after its own deadline.
//
// Consistency (see README "cache"): every fill carries its row version and the Redis TIME
// taken before the load; a Lua compare refuses a fill older than the version or the
// tombstone in L2, or whose load started more than tombstone_ttl ago. Invalidate writes a
// tombstone and publishes on the bus; every instance drops its L1 entry. L1 applies the
// same rules locally.
//
// Redis failures go through a circuit breaker: Get falls back to the loader (one fast
// failure while the breaker is open) and Invalidate returns kUnavailable.
// Thread-safe. The Client and Clock must outlive the cache.
class ByteCache {
 public:
  // The loader reads the source of truth within the deadline it is given: a value with
  // its version, Versioned::NotFound(), or an error (not cached, handed to every waiter).
  using Loader = std::function<Result<Versioned<std::string>>(const Deadline& deadline)>;

  // Validates options (kInvalidArgument), starts the bus subscriber and heartbeat (when
  // L1 is enabled). Does not wait for Redis. Thread-safe.
  static Result<std::unique_ptr<ByteCache>> Open(redis::Client& client, const CacheOptions& options,
                                                 const Clock& clock = Clock::Real());

  // Stops the background threads. REQUIRES: no call in flight.
  virtual ~ByteCache() = default;

  // The cached or loaded entry for `key`. Errors: the loader's error; kDeadlineExceeded
  // when `deadline` passed while waiting for another caller's load. Redis failures are
  // never returned (the loader answers instead). Thread-safe.
  virtual Result<Versioned<std::string>> Get(std::string_view key, const Loader& loader, const Deadline& deadline) = 0;

  // The L1 entry of `key` if L1 may serve it now (bus healthy, live value), without
  // blocking and without touching Redis or the loader; nullopt otherwise (then use Get).
  // Counts as an L1 hit when found. Cheap enough for an I/O thread. Thread-safe.
  virtual std::optional<Versioned<std::string>> PeekL1(std::string_view key) = 0;

  // Call after the source of truth changed `key` to `new_version` (kUnknownVersion if not
  // known; also after a create, with the new row's version, so a cached not-found cannot
  // hide it): drops the L1 entry and any in-flight load's claim on it at once, then writes
  // an L2 tombstone and publishes it to every instance. OK once Redis applied it;
  // kUnavailable / kDeadlineExceeded when Redis could not be reached (the caller must
  // retry it later, see README). Thread-safe.
  virtual Status Invalidate(std::string_view key, int64_t new_version, const Deadline& deadline) = 0;

  // One key's Invalidate, for InvalidateMany.
  struct Invalidation {
    std::string key;
    int64_t new_version = kUnknownVersion;
  };
  // The same as Invalidate for each item in order (a key may repeat), with one Redis round
  // trip per up to 1,000 items (one pipeline of tombstone scripts of 100 keys each) instead of one per
  // key: what a change feed uses for a batch of changes. OK once Redis applied every item;
  // on an error any prefix may have been applied (each item by itself is atomic) and the
  // caller must retry all of them, which is harmless (an invalidation is idempotent).
  // kInvalidArgument (nothing done) when a version is out of range. Thread-safe.
  virtual Status InvalidateMany(std::span<const Invalidation> items, const Deadline& deadline) = 0;

  // Bloom filter (options.bloom_bits > 0; kFailedPrecondition otherwise). BloomAdd records
  // that `key` exists: call it after the create committed and before it returns (and
  // before its Invalidate); on failure the caller must retry it until it succeeds, since
  // until then the key may read as not-found. BloomMarkReady declares that every existing
  // key was added (after a full population); before it the filter is not consulted. A Redis
  // that lost the bitmap lost the marker with it (one key is the bitmap, the other the
  // marker; both persist or neither). Thread-safe.
  virtual Status BloomAdd(std::string_view key, const Deadline& deadline) = 0;
  virtual Status BloomMarkReady(const Deadline& deadline) = 0;

  // Whether L1 may be served now (this instance's heartbeat came back within
  // staleness_bound). Thread-safe.
  virtual bool bus_healthy() const = 0;
  // Waits until bus_healthy() or the deadline (then kDeadlineExceeded). Thread-safe.
  virtual Status WaitBusHealthy(const Deadline& deadline) const = 0;
  // Drops every L1 entry. Thread-safe.
  virtual void DropL1() = 0;

  virtual CacheStats stats() const = 0;
  virtual const CacheOptions& options() const = 0;
};

}  // namespace lockstep::cache
