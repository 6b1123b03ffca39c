#pragma once

#include <cstdint>

namespace lockstep::bench {

// A per-request random source, cheap to seed (std::mt19937_64 initialises 312 words per
// seeding, a visible share of the load generator's CPU at 30k requests/s). SplitMix64
// (Steele, Lea, Flood 2014). A UniformRandomBitGenerator. Not thread-safe.
class SplitMix64 {
 public:
  using result_type = uint64_t;
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // The source of request `index` of a run seeded with `base_seed`: the same request gets
  // the same numbers whichever thread sends it.
  static SplitMix64 ForRequest(uint64_t base_seed, int64_t index) {
    return SplitMix64(base_seed ^ (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull));
  }

 private:
  uint64_t state_;
};

}  // namespace lockstep::bench
