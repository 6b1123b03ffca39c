#pragma once

#include <atomic>
#include <chrono>

namespace lockstep {

// Monotonic time source. Inject `Clock&` where time decides behaviour (TTLs, breaker
// windows, backoff) so tests can drive it with ManualClock. Implementations are thread-safe.
class Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual time_point Now() const = 0;
  // Blocks the calling thread for `d` (ManualClock: advances time instead).
  virtual void SleepFor(duration d) const = 0;

  // The process-wide steady clock. Never destroyed.
  static const Clock& Real();
};

// A clock that moves only when told to. SleepFor advances it. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(time_point start = time_point{} + std::chrono::hours(1)) : now_(start.time_since_epoch().count()) {}
  time_point Now() const override { return time_point(duration(now_.load(std::memory_order_acquire))); }
  void SleepFor(duration d) const override { Advance(d); }
  // Moves time forward by `d` (>= 0).
  void Advance(duration d) const { now_.fetch_add(d.count(), std::memory_order_acq_rel); }

 private:
  // Atomic: the only state; readers and Advance need no ordering beyond the value itself.
  mutable std::atomic<duration::rep> now_;
};

}  // namespace lockstep
