#pragma once

#include <cstdint>

#include "lockstep/resilience/circuit_breaker.h"

namespace lockstep::cache {

// Counters of one cache since Open. Plain value type.
struct CacheStats {
  uint64_t l1_hits = 0;
  uint64_t l1_misses = 0;   // Includes lookups skipped because the bus was not healthy.
  uint64_t l2_hits = 0;
  uint64_t l2_misses = 0;   // Includes tombstones.
  uint64_t l2_errors = 0;   // Redis calls that failed or were refused by the breaker.
  uint64_t loads = 0;       // Loader calls.
  uint64_t load_errors = 0;
  uint64_t shared_loads = 0;  // Gets that waited for another caller's load.
  uint64_t fills = 0;         // Accepted L2 fills.
  uint64_t stale_fills_refused = 0;  // Fills refused: a newer version or tombstone was there.
  uint64_t old_fills_refused = 0;    // Fills refused: the load started more than T ago.
  uint64_t invalidations = 0;        // Invalidate() calls.
  uint64_t invalidation_failures = 0;  // Invalidate() calls that could not reach Redis.
  uint64_t bus_messages = 0;           // Invalidations received on the bus.
  uint64_t l1_drops = 0;               // Whole-L1 drops (bus disconnect / reconnect).
  uint64_t bloom_rejections = 0;       // L2 misses answered not-found by the Bloom filter.
  uint64_t l1_entries = 0;
  uint64_t l1_bytes = 0;
  bool bus_healthy = false;
  resilience::CircuitBreakerStats breaker;
};

}  // namespace lockstep::cache
