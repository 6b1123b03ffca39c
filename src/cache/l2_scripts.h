#pragma once

#include "lockstep/redis/script.h"

namespace lockstep::cache::internal {

// L2 layout: one hash per key, fields k (kind: v value, n not-found, x tombstone),
// v (version), d (value bytes), ts (tombstones: Redis TIME in microseconds when written).

// KEYS[1] = key [, KEYS[2] = Bloom bitmap, KEYS[3] = Bloom ready marker; ARGV = the key's
// bit positions]. Returns {kind, version, data, time_sec, time_usec}; kind "" = no entry,
// "a" = no entry and the (ready) Bloom filter has never seen the key.
const redis::Script& ReadScript();
// KEYS[1] = key. ARGV: kind (v|n), version, data, ttl_ms, load_start_us, max_age_us,
// versioned (1|0). Returns 1 stored, 0 same version there, -1 newer version there,
// -2 a tombstone the load did not start after, -3 the load started more than max_age ago.
const redis::Script& FillScript();
// KEYS = the keys to invalidate (one or many; same slot if Redis Cluster is ever used).
// ARGV: tombstone_ttl_ms, channel, versioned (1|0), l2 (1|0: write the tombstones; 0 =
// publish only), then per key, in KEYS order: version, message. Each key as if alone, in
// order, under one Redis TIME. Returns 1.
const redis::Script& InvalidateScript();

// KEYS[1] = Bloom bitmap; ARGV = bit positions to set. Returns 1.
const redis::Script& BloomAddScript();

}  // namespace lockstep::cache::internal
