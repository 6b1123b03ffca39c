#include "lockstep/base/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace lockstep {
namespace {

// A per-thread splitmix64 sequence seeded once from std::random_device: opening the
// random device for every Backoff (one per transaction) showed up in shopd's profile.
uint64_t NextSeed() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  }();
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return z != 0 ? z : 1;  // xorshift state must be non-zero.
}

}  // namespace

Backoff::Backoff(BackoffOptions options, const Clock& clock, uint64_t seed)
    : options_(options), clock_(clock), state_(seed) {
  if (state_ == 0) state_ = NextSeed();
  if (options_.initial.count() <= 0) options_.initial = std::chrono::microseconds(1);
  options_.max = std::max(options_.max, options_.initial);
  options_.multiplier = std::max(1.0, options_.multiplier);
}

Clock::duration Backoff::NextDelay() {
  const double cap = static_cast<double>(options_.max.count());
  const double bound =
      std::min(cap, static_cast<double>(options_.initial.count()) *
                        std::pow(options_.multiplier, std::min(attempts_, 64)));
  ++attempts_;
  // xorshift64*: fast, good enough for jitter.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  const uint64_t r = state_ * 0x2545F4914F6CDD1Dull;
  const double unit = static_cast<double>(r >> 11) * (1.0 / 9007199254740992.0);  // [0,1)
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::micro>(unit * bound));
}

Status Backoff::Wait(const Deadline& deadline) {
  const Clock::duration delay = NextDelay();
  if (!deadline.infinite() && delay >= deadline.remaining(clock_)) {
    return Status::DeadlineExceeded("no time left for another attempt after ", attempts_,
                                    " attempt(s)");
  }
  if (delay > Clock::duration::zero()) clock_.SleepFor(delay);
  return Status::Ok();
}

}  // namespace lockstep
