#pragma once

#include <concepts>
#include <string>
#include <string_view>

#include "lockstep/base/result.h"

namespace lockstep::cache {

// How Cache<K, V> turns keys and values into bytes for L1/L2. Static functions only:
//   struct ProductCodec {
//     static std::string EncodeKey(int64_t id);
//     static std::string Encode(const Product& p);
//     static Result<Product> Decode(std::string_view bytes);
//   };
// EncodeKey must be injective; Decode(Encode(v)) == v. All must be thread-safe.
template <typename C, typename K, typename V>
concept CacheCodec = requires(const K& key, const V& value, std::string_view bytes) {
  { C::EncodeKey(key) } -> std::convertible_to<std::string>;
  { C::Encode(value) } -> std::convertible_to<std::string>;
  { C::Decode(bytes) } -> std::same_as<Result<V>>;
};

}  // namespace lockstep::cache
