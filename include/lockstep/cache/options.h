#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "lockstep/base/status.h"
#include "lockstep/resilience/circuit_breaker.h"

namespace lockstep::cache {

// Observer of a cache (CacheOptions::observer). Every callback is optional (empty = not
// called), runs without any of the cache's locks held, possibly on several threads at
// once (the calling or loading thread), must be thread-safe, and must not call back into
// the cache. The cache's counters are read with ByteCache::stats() (lockstep::prometheus
// exports them).
struct CacheObserver {
  // The loader returned for `key`; its fill (L2, then L1) has not started. Called on the
  // loading thread. Fault injection: tests block here to replay the stale-fill race.
  std::function<void(std::string_view key)> on_loaded;
};

// Settings of one cache (ByteCache / Cache<K, V>). Plain value type, thread-compatible.
// Validated by ByteCache::Open (kInvalidArgument). Redis keys are
// `key_prefix + name + ":" + key`; the invalidation channel is `key_prefix + name + ":~bus"`.
struct CacheOptions {
  // Prefix of every Redis key and channel this cache uses (e.g. "shopd:shop:"). Default empty.
  std::string key_prefix;
  // Name of the cache inside the prefix; non-empty, no ':'. Default "cache".
  std::string name = "cache";

  // L1: in-process, sharded, bounded. Served only while the invalidation bus is healthy.
  bool l1_enabled = true;
  // L2: Redis. Also carries the tombstones; without it L1 relies on the bus alone.
  bool l2_enabled = true;
  // L1 bounds: entries (>= 1) and bytes of keys + values (>= 1). Defaults 100,000 / 64 MiB.
  size_t l1_max_entries = 100'000;
  size_t l1_max_bytes = size_t{64} << 20;
  // L1 shards (1..1024). Default 16.
  int l1_shards = 16;
  // Lifetime of a value in L1 / L2 (before jitter). Both >= tombstone_ttl. Defaults 30s / 10min.
  std::chrono::milliseconds l1_ttl{30'000};
  std::chrono::milliseconds l2_ttl{600'000};
  // Lifetime of a cached not-found (version 0); >= tombstone_ttl. Default 5s.
  std::chrono::milliseconds negative_ttl{5'000};
  // Whether L1 keeps not-founds too. Off by default: a create's tombstone reaches L2
  // before the create returns but another instance's L1 only within staleness_bound, so
  // with this on a new key may read as not-found there for up to that bound. Not-founds
  // are always cached in L2. Default false.
  bool l1_not_found = false;
  // Every TTL above is stretched by a uniform random factor in [1, 1 + ttl_jitter]
  // (avalanche protection). In [0, 1]. Default 0.1.
  double ttl_jitter = 0.1;

  // T: lifetime of an invalidation tombstone, and the oldest a load may be when it fills
  // (older fills are refused). > loader_budget. Default 2s.
  std::chrono::milliseconds tombstone_ttl{2'000};
  // Budget of one load (the loader's deadline), independent of the callers' deadlines;
  // > 0 and < tombstone_ttl. Default 1s.
  std::chrono::milliseconds loader_budget{1'000};
  // Deadline of each Redis call the cache makes (L2 read, fill, invalidation). Default 250ms.
  std::chrono::milliseconds redis_timeout{250};

  // L1 is served only while this instance's own heartbeat (published on a channel of its
  // own, received on the bus connection) came back within this bound; it is the staleness
  // bound of L1 (see README). > 0. Default 50ms.
  std::chrono::milliseconds staleness_bound{50};
  // How often the heartbeat is published; > 0 and < staleness_bound. Default 10ms.
  std::chrono::milliseconds heartbeat_interval{10};

  // Versioned fills and tombstones (the consistency protocol). false = classic cache-aside
  // (fills overwrite, invalidation deletes): only for tests that prove the race is real.
  bool versioned_fills = true;
  // When > 0, every Invalidate is repeated after this delay ("delayed double delete"; it
  // rewrites the tombstone). Default 0 = off.
  std::chrono::milliseconds second_delete_delay{0};

  // Optional Bloom filter of existing keys, a Redis bitmap of this many bits (<= 2^32;
  // 0 = none) probed with bloom_hashes (1..32) hash functions. Consulted by the L2 read,
  // only once BloomMarkReady() was called: a key it has never seen reads as not-found
  // without a load. Default 0 (off).
  uint64_t bloom_bits = 0;
  int bloom_hashes = 7;

  // Breaker around Redis: while open, reads go straight to the loader and invalidations
  // fail fast with kUnavailable.
  resilience::CircuitBreakerOptions breaker{
      .window = std::chrono::milliseconds(2'000),
      .buckets = 10,
      .min_requests = 5,
      .failure_ratio = 0.5,
      .open_duration = std::chrono::milliseconds(500),
      .half_open_probes = 1,
      .on_transition = {},
  };

  // Optional callbacks, see CacheObserver. Default: none.
  CacheObserver observer;

  // OK or kInvalidArgument naming the first bad field.
  Status Validate() const;
};

}  // namespace lockstep::cache
