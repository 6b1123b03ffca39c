#pragma once

#include <algorithm>
#include <chrono>

#include "lockstep/base/clock.h"

namespace lockstep {

// The point in (monotonic) time by which a call must finish. Passed explicitly down every
// call chain; every blocking call takes one. Value type, thread-compatible.
//   Deadline d = Deadline::After(std::chrono::milliseconds(500));
//   if (d.expired()) return Status::DeadlineExceeded(...);
class Deadline {
 public:
  using time_point = Clock::time_point;
  using duration = Clock::duration;

  // No deadline: remaining() is duration::max().
  static Deadline Infinite() { return Deadline(time_point::max()); }
  static Deadline After(duration d, const Clock& clock = Clock::Real()) {
    const time_point now = clock.Now();
    if (d >= time_point::max() - now) return Infinite();
    return Deadline(now + std::max(d, duration::zero()));
  }
  static Deadline At(time_point when) { return Deadline(when); }

  bool infinite() const { return when_ == time_point::max(); }
  time_point when() const { return when_; }
  // Time left, never negative.
  duration remaining(const Clock& clock = Clock::Real()) const {
    if (infinite()) return duration::max();
    const time_point now = clock.Now();
    return now >= when_ ? duration::zero() : when_ - now;
  }
  bool expired(const Clock& clock = Clock::Real()) const { return !infinite() && clock.Now() >= when_; }

  // The earlier of this deadline and now + d.
  Deadline CappedAt(duration d, const Clock& clock = Clock::Real()) const {
    return Earliest(*this, After(d, clock));
  }
  static Deadline Earliest(Deadline a, Deadline b) { return a.when_ <= b.when_ ? a : b; }

  friend bool operator==(Deadline a, Deadline b) { return a.when_ == b.when_; }

 private:
  explicit Deadline(time_point when) : when_(when) {}
  time_point when_;
};

// Remaining time in whole milliseconds, rounded up so that a non-expired deadline never
// yields 0; clamps infinite to `cap`.
inline std::chrono::milliseconds RemainingMillis(const Deadline& deadline,
                                                 std::chrono::milliseconds cap = std::chrono::hours(24),
                                                 const Clock& clock = Clock::Real()) {
  const auto left = deadline.remaining(clock);
  if (left >= cap) return cap;
  return std::chrono::ceil<std::chrono::milliseconds>(left);
}

}  // namespace lockstep
