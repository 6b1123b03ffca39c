#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/fill_outcome.h"
#include "lockstep/base/clock.h"
#include "lockstep/base/mutex.h"
#include "lockstep/cache/versioned.h"

namespace lockstep::cache::internal {

// L1: an in-process map from key to value / not-found / tombstone, sharded by key hash,
// each shard an LRU bounded by entries and bytes (limits split evenly over shards).
// Fills follow the same rules as the L2 Lua scripts (l2_scripts.cc, L2Store). Thread-safe.
class L1Store {
 public:
  L1Store(size_t max_entries, size_t max_bytes, int shards);

  // A live value or not-found for `key`; nullopt on a miss, a tombstone or an expired entry.
  std::optional<Versioned<std::string>> Get(std::string_view key, Clock::time_point now);

  // Stores `entry` unless: the load started more than `max_age` before `now` (kTooOld);
  // a live entry has a version >= entry.version (kSame / kStale); a live tombstone has a
  // larger version and was written at or after `load_start`; or a tombstone the load did
  // not start after was evicted for space (kStale). `versioned` false stores
  // unconditionally (classic cache-aside, for tests).
  FillOutcome Fill(std::string_view key, const Versioned<std::string>& entry, Clock::time_point load_start,
                   Clock::time_point now, Clock::duration ttl, Clock::duration max_age, bool versioned);

  // Replaces the entry by a tombstone of `version` written at `now` living `ttl`, unless
  // a live value of a version >= `version` is there (it is newer than the change). A live
  // tombstone keeps the larger version. `versioned` false erases the entry instead.
  void Tombstone(std::string_view key, int64_t version, Clock::time_point now, Clock::duration ttl, bool versioned);

  // Drops every entry; fills of loads that started before now are refused afterwards.
  void Clear(Clock::time_point now);

  size_t entries() const;
  size_t bytes() const;

 private:
  enum class Kind : uint8_t { kValue, kNotFound, kTombstone };
  struct Entry {
    Kind kind = Kind::kValue;
    int64_t version = 0;
    std::string bytes;
    Clock::time_point written;
    Clock::time_point expires;
    std::list<std::string>::iterator lru;
  };
  struct Shard {
    mutable Mutex mu;
    std::unordered_map<std::string, Entry> map LOCKSTEP_GUARDED_BY(mu);
    std::list<std::string> lru LOCKSTEP_GUARDED_BY(mu);  // Front = most recent.
    size_t bytes LOCKSTEP_GUARDED_BY(mu) = 0;
    // Loads that started at or before this are refused: a tombstone that might have
    // covered them was evicted for space, or the shard was cleared.
    Clock::time_point refuse_before LOCKSTEP_GUARDED_BY(mu);
  };

  Shard& ShardFor(std::string_view key);
  static size_t Cost(std::string_view key, const std::string& bytes) { return key.size() + bytes.size() + 96; }
  void EraseLocked(Shard& s, std::unordered_map<std::string, Entry>::iterator it) LOCKSTEP_REQUIRES(s.mu);
  void PutLocked(Shard& s, std::string_view key, Entry entry) LOCKSTEP_REQUIRES(s.mu);
  void EvictLocked(Shard& s) LOCKSTEP_REQUIRES(s.mu);

  const size_t max_entries_per_shard_;
  const size_t max_bytes_per_shard_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace lockstep::cache::internal
