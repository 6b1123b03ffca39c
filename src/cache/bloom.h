#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::cache::internal {

// Bit positions of `key` in a Bloom filter of `bits` bits with `hashes` hash functions
// (double hashing over two FNV-1a 64 variants: stable across processes and builds, as
// every instance must agree on them). REQUIRES: bits > 0, hashes > 0.
std::vector<uint64_t> BloomPositions(std::string_view key, uint64_t bits, int hashes);

}  // namespace lockstep::cache::internal
