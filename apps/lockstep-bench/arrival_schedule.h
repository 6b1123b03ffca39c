#pragma once

#include <chrono>
#include <cstdint>

namespace lockstep::bench {

// The arrivals of an open-loop run (--rate R): request i is intended at start + i / R,
// whatever happened to the requests before it; thread t of C sends requests t, t + C,
// t + 2C, ... each at its intended time (or at once when it is already late). Latency is
// measured from the intended time, so a thread held up by a slow answer counts the wait
// of every request behind it (no coordinated omission). Value type; thread-compatible.
class ArrivalSchedule {
 public:
  // REQUIRES: rate_per_s > 0, threads > 0.
  ArrivalSchedule(double rate_per_s, int threads);

  // When request `index` is intended, after the run's start.
  std::chrono::nanoseconds Offset(int64_t index) const;

  // The requests of thread `thread`: First(thread), Next(First(thread)), ...
  int64_t First(int thread) const { return thread; }
  int64_t Next(int64_t index) const { return index + threads_; }

  // Requests in a run: those intended before `duration_s` ends when it is > 0 (ceil(R x
  // duration)), else `requests`.
  int64_t Count(double duration_s, int64_t requests) const;

  // The achieved send rate: `sent` requests of which the last left `last_send` after the
  // start. A generator exactly on time sends n requests in (n - 1) / R, so this is
  // n / (last_send + 1 / R) = R; later sends make it smaller. 0 when nothing was sent.
  double OfferedRate(int64_t sent, std::chrono::nanoseconds last_send) const;

  // True when `offered` fell more than 5% short of the target rate: the generator itself
  // fell behind (too few connections for the latency), not only the server.
  bool FellBehind(double offered) const { return offered < 0.95 * rate_; }

  double rate() const { return rate_; }

 private:
  double rate_;
  int threads_;
};

}  // namespace lockstep::bench
