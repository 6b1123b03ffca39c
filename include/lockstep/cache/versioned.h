#pragma once

#include <cstdint>
#include <optional>

namespace lockstep::cache {

// The version to pass to Invalidate when the writer does not know the row's new version:
// the tombstone then refuses every fill whose load started before the invalidation.
inline constexpr int64_t kUnknownVersion = -1;
// Versions are in [0, kMaxVersion]; 0 means "does not exist" (a cached not-found).
inline constexpr int64_t kMaxVersion = (int64_t{1} << 53) - 1;

// A value with the version of the row it came from (bumped in the same UPDATE that
// changes the row), or not-found (no value, version 0). Value type, thread-compatible.
template <typename V>
struct Versioned {
  std::optional<V> value;
  int64_t version = 0;

  bool found() const { return value.has_value(); }
  static Versioned NotFound() { return Versioned{}; }
  static Versioned Of(V v, int64_t version) { return Versioned{std::move(v), version}; }
};

}  // namespace lockstep::cache
