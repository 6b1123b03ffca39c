#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/cache/byte_cache.h"
#include "lockstep/cache/codec.h"
#include "lockstep/cache/versioned.h"

namespace lockstep::cache {

// A consistent two-level cache of V by K (ByteCache plus a codec); see byte_cache.h for
// the protocol and errors. Thread-safe.
//   Cache<int64_t, Product, ProductCodec> products(std::move(engine));
//   auto p = products.Get(id, [&](const Deadline& d) { return repo.Load(id, d); }, deadline);
template <typename K, typename V, typename Codec>
  requires CacheCodec<Codec, K, V>
class Cache {
 public:
  using Loader = std::function<Result<Versioned<V>>(const Deadline& deadline)>;

  explicit Cache(std::unique_ptr<ByteCache> engine) : engine_(std::move(engine)) {}

  // Thread-safe. A value that fails to decode is reported as kInternal.
  Result<Versioned<V>> Get(const K& key, const Loader& loader, const Deadline& deadline) {
    const std::string k = Codec::EncodeKey(key);
    Result<Versioned<std::string>> bytes = engine_->Get(
        k,
        [&](const Deadline& d) -> Result<Versioned<std::string>> {
          LOCKSTEP_ASSIGN_OR_RETURN(Versioned<V> loaded, loader(d));
          if (!loaded.found()) return Versioned<std::string>::NotFound();
          return Versioned<std::string>::Of(std::string(Codec::Encode(*loaded.value)), loaded.version);
        },
        deadline);
    if (!bytes.ok()) return std::move(bytes).status();
    if (!bytes->found()) return Versioned<V>{std::nullopt, bytes->version};
    Result<V> decoded = Codec::Decode(*bytes->value);
    if (!decoded.ok()) return std::move(decoded).status().Annotate("cache decode");
    return Versioned<V>{std::move(decoded).value(), bytes->version};
  }

  // See ByteCache::PeekL1; nullopt also when the cached bytes do not decode. Thread-safe.
  std::optional<Versioned<V>> PeekL1(const K& key) {
    std::optional<Versioned<std::string>> bytes = engine_->PeekL1(Codec::EncodeKey(key));
    if (!bytes) return std::nullopt;
    if (!bytes->found()) return Versioned<V>{std::nullopt, bytes->version};
    Result<V> decoded = Codec::Decode(*bytes->value);
    if (!decoded.ok()) return std::nullopt;
    return Versioned<V>{std::move(decoded).value(), bytes->version};
  }

  // See ByteCache::Invalidate. Thread-safe.
  Status Invalidate(const K& key, int64_t new_version, const Deadline& deadline) {
    return engine_->Invalidate(Codec::EncodeKey(key), new_version, deadline);
  }

  // See ByteCache::InvalidateMany: (key, new_version) pairs, in order. Thread-safe.
  Status InvalidateMany(std::span<const std::pair<K, int64_t>> items, const Deadline& deadline) {
    std::vector<ByteCache::Invalidation> encoded;
    encoded.reserve(items.size());
    for (const auto& [key, version] : items) encoded.push_back({Codec::EncodeKey(key), version});
    return engine_->InvalidateMany(encoded, deadline);
  }

  ByteCache& engine() { return *engine_; }
  const ByteCache& engine() const { return *engine_; }

 private:
  std::unique_ptr<ByteCache> engine_;
};

}  // namespace lockstep::cache
