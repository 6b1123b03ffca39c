#include "cache/bloom.h"

namespace lockstep::cache::internal {
namespace {

uint64_t Fnv1a(std::string_view s, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::vector<uint64_t> BloomPositions(std::string_view key, uint64_t bits, int hashes) {
  const uint64_t h1 = Fnv1a(key, 14695981039346656037ull);
  const uint64_t h2 = Fnv1a(key, 0x9E3779B97F4A7C15ull) | 1;  // Odd: cycles through all positions.
  std::vector<uint64_t> out;
  out.reserve(static_cast<size_t>(hashes));
  for (int i = 0; i < hashes; ++i) out.push_back((h1 + static_cast<uint64_t>(i) * h2) % bits);
  return out;
}

}  // namespace lockstep::cache::internal
