#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "lockstep/base/clock.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/base/thread_annotations.h"

// The breaker lives in base (it does no I/O) so that sql::Pool and redis::Client can put
// one around their server; lockstep/resilience/circuit_breaker.h keeps the resilience names.
namespace lockstep {

enum class BreakerState {
  kClosed,    // Calls pass; outcomes are counted in the rolling window.
  kOpen,      // Calls fail fast (kUnavailable, reason "circuit_open") until open_duration passed.
  kHalfOpen,  // A limited number of probe calls pass; their outcomes decide.
};

// "closed" | "open" | "half_open".
std::string_view BreakerStateName(BreakerState state);

// Plain value type, thread-compatible. Validated by CircuitBreaker::Create.
struct CircuitBreakerOptions {
  // Length of the rolling window over which outcomes are counted; > 0. Default 10s.
  std::chrono::milliseconds window{10'000};
  // The window is kept as this many buckets (resolution window / buckets); 1..1000. Default 10.
  int buckets = 10;
  // The breaker never opens while the window holds fewer outcomes than this; >= 1. Default 10.
  int min_requests = 10;
  // Opens when failures / outcomes in the window reach this ratio; in (0, 1]. Default 0.5.
  double failure_ratio = 0.5;
  // How long the breaker stays open before it lets probes through; > 0. Default 1s.
  std::chrono::milliseconds open_duration{1'000};
  // Probes allowed at once in half-open; that many successes close the breaker, one
  // failure opens it again. A probe whose outcome is never recorded frees its slot after
  // open_duration. >= 1. Default 1.
  int half_open_probes = 1;
  // Called once per state change with the new state (e.g. to count transitions), after the
  // call that caused it released the breaker's lock, on that call's thread; several may run
  // at once and in any order, so read the current state from state()/stats(). Must be cheap
  // and thread-safe and must not call back into the breaker. Open -> half-open happens (and
  // is reported) on the first Allow/Record after open_duration. Default: none.
  std::function<void(BreakerState to)> on_transition;
};

// Counters since Create. Plain value type.
struct CircuitBreakerStats {
  BreakerState state = BreakerState::kClosed;
  uint64_t transitions_to_open = 0;
  uint64_t transitions_to_half_open = 0;
  uint64_t transitions_to_closed = 0;
  uint64_t rejected = 0;   // Allow() calls refused.
  uint64_t successes = 0;  // RecordSuccess() calls.
  uint64_t failures = 0;   // RecordFailure() calls.
};

// `options` whose on_transition also calls `observe` (after the callback it had, if any),
// e.g. a component's observer. Thread-safe.
CircuitBreakerOptions AlsoNotify(CircuitBreakerOptions options, std::function<void(BreakerState to)> observe);

// Closed / open / half-open circuit breaker over a rolling window of outcomes (DESIGN.md
// `resilience`). Protocol: call Allow() before the protected call; if it returns OK, make
// the call and then report exactly one of RecordSuccess() / RecordFailure(). Outcomes
// recorded without a preceding Allow() (e.g. by a call that bypassed it) count as well.
// Time comes only from the injected Clock, so tests drive it with ManualClock.
// Thread-safe. The Clock must outlive the breaker.
class CircuitBreaker {
 public:
  // kInvalidArgument for invalid options. Thread-safe.
  static Result<std::unique_ptr<CircuitBreaker>> Create(const CircuitBreakerOptions& options,
                                                        const Clock& clock = Clock::Real());

  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // OK when the call may proceed; kUnavailable with reason "circuit_open" when it must
  // fail fast (open, or half-open with every probe slot taken). Never blocks. Thread-safe.
  Status Allow() LOCKSTEP_EXCLUDES(mu_);
  // What Allow() would answer now, without taking a probe slot or changing state: for a
  // caller that fails fast before it waits for a resource (a pooled connection) and calls
  // Allow() later, right before the protected call. A refusal counts in stats().rejected
  // as Allow's do (each refused call is counted once). Never blocks. Thread-safe.
  Status Check() LOCKSTEP_EXCLUDES(mu_);
  // Reports the outcome of a call. Thread-safe.
  void RecordSuccess() LOCKSTEP_EXCLUDES(mu_);
  void RecordFailure() LOCKSTEP_EXCLUDES(mu_);
  // Convenience: RecordFailure() when IsFailure(status), else RecordSuccess(). Thread-safe.
  void Record(const Status& status) LOCKSTEP_EXCLUDES(mu_);
  // Whether `status` counts as a failure of the dependency: kUnavailable,
  // kDeadlineExceeded, kUnknown, kInternal. Business errors (kNotFound, ...) do not.
  // Thread-safe.
  static bool IsFailure(const Status& status);
  // Whether `status` is a breaker's refusal (kUnavailable, reason "circuit_open"), whatever
  // context was prepended to its message. Thread-safe.
  static bool IsRejection(const Status& status);

  // The state now (an open breaker whose open_duration passed reports kHalfOpen). Thread-safe.
  BreakerState state() const LOCKSTEP_EXCLUDES(mu_);
  CircuitBreakerStats stats() const LOCKSTEP_EXCLUDES(mu_);
  // Thread-safe.
  const CircuitBreakerOptions& options() const { return options_; }

 private:
  struct Bucket {
    int64_t index = -1;  // Window slot number this bucket counts for; -1 = empty.
    uint32_t successes = 0;
    uint32_t failures = 0;
  };

  CircuitBreaker(const CircuitBreakerOptions& options, const Clock& clock);
  int64_t BucketIndex(Clock::time_point now) const;
  // Moves open -> half-open once open_duration passed; frees stuck probe slots.
  void AdvanceLocked(Clock::time_point now) LOCKSTEP_REQUIRES(mu_);
  void AddOutcomeLocked(Clock::time_point now, bool success) LOCKSTEP_REQUIRES(mu_);
  void TransitionLocked(BreakerState to, Clock::time_point now) LOCKSTEP_REQUIRES(mu_);
  void ResetWindowLocked() LOCKSTEP_REQUIRES(mu_);
  // The rejection Allow/Check return in `state`.
  static Status Rejection(BreakerState state);
  // Calls options_.on_transition for `to` (outside mu_).
  void Notify(const std::vector<BreakerState>& to) const;

  const CircuitBreakerOptions options_;
  const Clock& clock_;
  const Clock::duration bucket_width_;

  mutable Mutex mu_;
  BreakerState state_ LOCKSTEP_GUARDED_BY(mu_) = BreakerState::kClosed;
  Clock::time_point state_since_ LOCKSTEP_GUARDED_BY(mu_);
  std::vector<Bucket> window_ LOCKSTEP_GUARDED_BY(mu_);
  int probes_in_flight_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  int probe_successes_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  CircuitBreakerStats stats_ LOCKSTEP_GUARDED_BY(mu_);
  // Transitions not yet reported to on_transition (only kept when it is set).
  std::vector<BreakerState> unreported_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace lockstep
