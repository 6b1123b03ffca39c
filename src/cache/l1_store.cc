#include "cache/l1_store.h"

#include <algorithm>
#include <functional>

namespace lockstep::cache::internal {

L1Store::L1Store(size_t max_entries, size_t max_bytes, int shards)
    : max_entries_per_shard_(std::max<size_t>(1, max_entries / static_cast<size_t>(shards))),
      max_bytes_per_shard_(std::max<size_t>(1, max_bytes / static_cast<size_t>(shards))) {
  shards_.reserve(static_cast<size_t>(shards));
  for (int i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

L1Store::Shard& L1Store::ShardFor(std::string_view key) {
  return *shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

void L1Store::EraseLocked(Shard& s, std::unordered_map<std::string, Entry>::iterator it) {
  s.bytes -= Cost(it->first, it->second.bytes);
  s.lru.erase(it->second.lru);
  s.map.erase(it);
}

void L1Store::PutLocked(Shard& s, std::string_view key, Entry entry) {
  auto it = s.map.find(std::string(key));
  if (it != s.map.end()) EraseLocked(s, it);
  s.lru.emplace_front(key);
  entry.lru = s.lru.begin();
  s.bytes += Cost(key, entry.bytes);
  s.map.emplace(std::string(key), std::move(entry));
  EvictLocked(s);
}

void L1Store::EvictLocked(Shard& s) {
  while (!s.lru.empty() && (s.map.size() > max_entries_per_shard_ || s.bytes > max_bytes_per_shard_)) {
    auto it = s.map.find(s.lru.back());
    if (it->second.kind == Kind::kTombstone) {
      // The tombstone's protection must survive its eviction: refuse every fill whose
      // load did not start after it was written.
      s.refuse_before = std::max(s.refuse_before, it->second.written);
    }
    EraseLocked(s, it);
  }
}

std::optional<Versioned<std::string>> L1Store::Get(std::string_view key, Clock::time_point now) {
  Shard& s = ShardFor(key);
  MutexLock lock(&s.mu);
  auto it = s.map.find(std::string(key));
  if (it == s.map.end()) return std::nullopt;
  Entry& e = it->second;
  if (e.expires <= now) {
    EraseLocked(s, it);
    return std::nullopt;
  }
  if (e.kind == Kind::kTombstone) return std::nullopt;
  s.lru.splice(s.lru.begin(), s.lru, e.lru);
  if (e.kind == Kind::kNotFound) return Versioned<std::string>{std::nullopt, e.version};
  return Versioned<std::string>{e.bytes, e.version};
}

FillOutcome L1Store::Fill(std::string_view key, const Versioned<std::string>& entry, Clock::time_point load_start,
                          Clock::time_point now, Clock::duration ttl, Clock::duration max_age, bool versioned) {
  Shard& s = ShardFor(key);
  MutexLock lock(&s.mu);
  if (versioned) {
    if (now - load_start > max_age) return FillOutcome::kTooOld;
    if (load_start <= s.refuse_before) return FillOutcome::kStale;
    auto it = s.map.find(std::string(key));
    if (it != s.map.end() && it->second.expires > now) {
      const Entry& cur = it->second;
      if (cur.kind == Kind::kTombstone) {
        if (entry.version < cur.version && load_start <= cur.written) return FillOutcome::kStale;
      } else if (entry.version < cur.version) {
        return FillOutcome::kStale;
      } else if (entry.version == cur.version) {
        return FillOutcome::kSame;
      }
    }
  }
  Entry e;
  e.kind = entry.found() ? Kind::kValue : Kind::kNotFound;
  e.version = entry.version;
  if (entry.found()) e.bytes = *entry.value;
  e.written = now;
  e.expires = now + ttl;
  PutLocked(s, key, std::move(e));
  return FillOutcome::kStored;
}

void L1Store::Tombstone(std::string_view key, int64_t version, Clock::time_point now, Clock::duration ttl,
                        bool versioned) {
  Shard& s = ShardFor(key);
  MutexLock lock(&s.mu);
  auto it = s.map.find(std::string(key));
  if (!versioned) {
    if (it != s.map.end()) EraseLocked(s, it);
    return;
  }
  if (it != s.map.end() && it->second.expires > now) {
    const Entry& cur = it->second;
    if (cur.kind != Kind::kTombstone && cur.version >= version) return;  // Already as new as the change.
    if (cur.kind == Kind::kTombstone) version = std::max(version, cur.version);
  }
  Entry e;
  e.kind = Kind::kTombstone;
  e.version = version;
  e.written = now;
  e.expires = now + ttl;
  PutLocked(s, key, std::move(e));
}

void L1Store::Clear(Clock::time_point now) {
  for (auto& shard : shards_) {
    MutexLock lock(&shard->mu);
    shard->map.clear();
    shard->lru.clear();
    shard->bytes = 0;
    shard->refuse_before = std::max(shard->refuse_before, now);
  }
}

size_t L1Store::entries() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    MutexLock lock(&shard->mu);
    n += shard->map.size();
  }
  return n;
}

size_t L1Store::bytes() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    MutexLock lock(&shard->mu);
    n += shard->bytes;
  }
  return n;
}

}  // namespace lockstep::cache::internal
