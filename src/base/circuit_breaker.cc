#include "lockstep/base/circuit_breaker.h"

#include <cmath>

namespace lockstep {

std::string_view BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half_open";
  }
  return "closed";
}

CircuitBreakerOptions AlsoNotify(CircuitBreakerOptions options, std::function<void(BreakerState to)> observe) {
  if (!observe) return options;
  options.on_transition = [own = std::move(options.on_transition), observe = std::move(observe)](BreakerState to) {
    if (own) own(to);
    observe(to);
  };
  return options;
}

Result<std::unique_ptr<CircuitBreaker>> CircuitBreaker::Create(const CircuitBreakerOptions& options,
                                                               const Clock& clock) {
  if (options.window <= std::chrono::milliseconds::zero()) return Status::InvalidArgument("window must be > 0");
  if (options.buckets < 1 || options.buckets > 1000) return Status::InvalidArgument("buckets must be in 1..1000");
  if (options.min_requests < 1) return Status::InvalidArgument("min_requests must be >= 1");
  if (!(options.failure_ratio > 0.0 && options.failure_ratio <= 1.0)) {
    return Status::InvalidArgument("failure_ratio must be in (0, 1]");
  }
  if (options.open_duration <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("open_duration must be > 0");
  }
  if (options.half_open_probes < 1) return Status::InvalidArgument("half_open_probes must be >= 1");
  return std::unique_ptr<CircuitBreaker>(new CircuitBreaker(options, clock));
}

CircuitBreaker::CircuitBreaker(const CircuitBreakerOptions& options, const Clock& clock)
    : options_(options),
      clock_(clock),
      bucket_width_(std::max<Clock::duration>(Clock::duration(1),
                                              std::chrono::duration_cast<Clock::duration>(options.window) /
                                                  options.buckets)) {
  MutexLock lock(&mu_);
  window_.resize(static_cast<size_t>(options_.buckets));
  state_since_ = clock_.Now();
}

int64_t CircuitBreaker::BucketIndex(Clock::time_point now) const {
  return static_cast<int64_t>(now.time_since_epoch() / bucket_width_);
}

void CircuitBreaker::TransitionLocked(BreakerState to, Clock::time_point now) {
  if (state_ == to) return;
  state_ = to;
  state_since_ = now;
  if (options_.on_transition) unreported_.push_back(to);
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  switch (to) {
    case BreakerState::kOpen: ++stats_.transitions_to_open; break;
    case BreakerState::kHalfOpen: ++stats_.transitions_to_half_open; break;
    case BreakerState::kClosed:
      ++stats_.transitions_to_closed;
      // A closed breaker judges only outcomes seen after it closed.
      ResetWindowLocked();
      break;
  }
}

void CircuitBreaker::ResetWindowLocked() {
  for (Bucket& b : window_) b = Bucket{};
}

void CircuitBreaker::AdvanceLocked(Clock::time_point now) {
  if (state_ == BreakerState::kOpen && now - state_since_ >= options_.open_duration) {
    TransitionLocked(BreakerState::kHalfOpen, now);
  } else if (state_ == BreakerState::kHalfOpen && probes_in_flight_ > 0 &&
             now - state_since_ >= options_.open_duration) {
    // Probes whose outcome never came: free their slots so the breaker cannot wedge.
    probes_in_flight_ = 0;
    state_since_ = now;
  }
}

Status CircuitBreaker::Rejection(BreakerState state) {
  return Status::Unavailable("circuit breaker is ", BreakerStateName(state)).WithReason("circuit_open");
}

void CircuitBreaker::Notify(const std::vector<BreakerState>& to) const {
  for (BreakerState s : to) options_.on_transition(s);
}

Status CircuitBreaker::Allow() {
  const Clock::time_point now = clock_.Now();
  std::vector<BreakerState> transitions;
  Status result;
  {
    MutexLock lock(&mu_);
    AdvanceLocked(now);
    transitions.swap(unreported_);
    bool allowed = false;
    switch (state_) {
      case BreakerState::kClosed: allowed = true; break;
      case BreakerState::kHalfOpen:
        if (probes_in_flight_ + probe_successes_ < options_.half_open_probes) {
          ++probes_in_flight_;
          allowed = true;
        }
        break;
      case BreakerState::kOpen: break;
    }
    if (!allowed) {
      ++stats_.rejected;
      result = Rejection(state_);
    }
  }
  Notify(transitions);
  return result;
}

Status CircuitBreaker::Check() {
  const Clock::time_point now = clock_.Now();
  MutexLock lock(&mu_);
  bool allowed = false;
  switch (state_) {
    case BreakerState::kClosed: allowed = true; break;
    case BreakerState::kOpen:
      // What AdvanceLocked would do: once open_duration passed, a fresh half-open.
      allowed = now - state_since_ >= options_.open_duration;
      break;
    case BreakerState::kHalfOpen: {
      const bool stuck = probes_in_flight_ > 0 && now - state_since_ >= options_.open_duration;
      allowed = stuck || probes_in_flight_ + probe_successes_ < options_.half_open_probes;
      break;
    }
  }
  if (allowed) return Status::Ok();
  ++stats_.rejected;
  return Rejection(state_);
}

void CircuitBreaker::AddOutcomeLocked(Clock::time_point now, bool success) {
  const int64_t index = BucketIndex(now);
  Bucket& b = window_[static_cast<size_t>(index % options_.buckets)];
  if (b.index != index) b = Bucket{index, 0, 0};
  if (success) {
    ++b.successes;
  } else {
    ++b.failures;
  }
  uint64_t total = 0;
  uint64_t failures = 0;
  for (const Bucket& w : window_) {
    if (w.index < 0 || w.index <= index - options_.buckets) continue;
    total += w.successes + w.failures;
    failures += w.failures;
  }
  if (total >= static_cast<uint64_t>(options_.min_requests) &&
      static_cast<double>(failures) >= options_.failure_ratio * static_cast<double>(total)) {
    TransitionLocked(BreakerState::kOpen, now);
  }
}

void CircuitBreaker::RecordSuccess() {
  const Clock::time_point now = clock_.Now();
  std::vector<BreakerState> transitions;
  {
    MutexLock lock(&mu_);
    ++stats_.successes;
    AdvanceLocked(now);
    switch (state_) {
      case BreakerState::kClosed: AddOutcomeLocked(now, true); break;
      case BreakerState::kHalfOpen:
        if (probes_in_flight_ > 0) --probes_in_flight_;
        if (++probe_successes_ >= options_.half_open_probes) TransitionLocked(BreakerState::kClosed, now);
        break;
      case BreakerState::kOpen: break;  // A straggler from before the breaker opened.
    }
    transitions.swap(unreported_);
  }
  Notify(transitions);
}

void CircuitBreaker::RecordFailure() {
  const Clock::time_point now = clock_.Now();
  std::vector<BreakerState> transitions;
  {
    MutexLock lock(&mu_);
    ++stats_.failures;
    AdvanceLocked(now);
    switch (state_) {
      case BreakerState::kClosed: AddOutcomeLocked(now, false); break;
      case BreakerState::kHalfOpen: TransitionLocked(BreakerState::kOpen, now); break;
      case BreakerState::kOpen: break;
    }
    transitions.swap(unreported_);
  }
  Notify(transitions);
}

void CircuitBreaker::Record(const Status& status) {
  if (IsFailure(status)) {
    RecordFailure();
  } else {
    RecordSuccess();
  }
}

bool CircuitBreaker::IsFailure(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kUnknown:
    case StatusCode::kInternal: return true;
    default: return false;
  }
}

bool CircuitBreaker::IsRejection(const Status& status) {
  return status.code() == StatusCode::kUnavailable && status.reason() == "circuit_open";
}

BreakerState CircuitBreaker::state() const {
  const Clock::time_point now = clock_.Now();
  MutexLock lock(&mu_);
  if (state_ == BreakerState::kOpen && now - state_since_ >= options_.open_duration) return BreakerState::kHalfOpen;
  return state_;
}

CircuitBreakerStats CircuitBreaker::stats() const {
  const BreakerState now_state = state();
  MutexLock lock(&mu_);
  CircuitBreakerStats s = stats_;
  s.state = now_state;
  return s;
}

}  // namespace lockstep
