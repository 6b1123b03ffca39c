#include "lockstep/resilience/admission_controller.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace lockstep::resilience {

std::string_view ShedReasonName(ShedReason reason) {
  switch (reason) {
    case ShedReason::kConcurrencyLimit:
      return "concurrency_limit";
    case ShedReason::kQueueDelay:
      return "queue_delay";
    case ShedReason::kDeadline:
      return "deadline";
  }
  return "unknown";
}

std::string_view PriorityName(Priority priority) {
  switch (priority) {
    case Priority::kCritical:
      return "critical";
    case Priority::kNormal:
      return "normal";
    case Priority::kBulk:
      return "bulk";
  }
  return "unknown";
}

Status AdmissionOptions::Validate() const {
  if (target_delay.count() <= 0) return Status::InvalidArgument("admission target_delay must be > 0");
  if (interval.count() <= 0) return Status::InvalidArgument("admission interval must be > 0");
  if (min_limit < 1 || initial_limit < min_limit || max_limit < initial_limit) {
    return Status::InvalidArgument("admission limits must satisfy 1 <= min_limit (", min_limit, ") <= initial_limit (",
                                   initial_limit, ") <= max_limit (", max_limit, ")");
  }
  if (!(backoff > 0 && backoff < 1)) return Status::InvalidArgument("admission backoff must be in (0, 1)");
  if (servers < 1) return Status::InvalidArgument("admission servers must be >= 1");
  return Status::Ok();
}

// ---- Admission ----

Admission::Admission(Admission&& other) noexcept
    : controller_(std::exchange(other.controller_, nullptr)),
      admitted_at_(other.admitted_at_),
      started_at_(other.started_at_),
      started_(other.started_) {}

Admission& Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    Finish();
    controller_ = std::exchange(other.controller_, nullptr);
    admitted_at_ = other.admitted_at_;
    started_at_ = other.started_at_;
    started_ = other.started_;
  }
  return *this;
}

Admission::~Admission() { Finish(); }

void Admission::Started() {
  if (controller_ == nullptr || started_) return;
  started_ = true;
  started_at_ = controller_->OnStarted(admitted_at_);
}

void Admission::Finish() {
  if (controller_ == nullptr) return;
  std::exchange(controller_, nullptr)->OnFinished(started_, started_at_);
}

// ---- AdmissionController ----

struct AdmissionController::Events {
  std::optional<ShedReason> shed;
  Priority priority = Priority::kNormal;
  std::optional<bool> overload_change;
  std::optional<int> limit_change;
};

Result<std::unique_ptr<AdmissionController>> AdmissionController::Create(AdmissionOptions options,
                                                                         const Clock& clock) {
  LOCKSTEP_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<AdmissionController>(new AdmissionController(std::move(options), clock));
}

AdmissionController::AdmissionController(AdmissionOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock), limit_(options_.initial_limit) {
  MutexLock lock(&mu_);
  stats_.limit = options_.initial_limit;
}

void AdmissionController::Notify(const Events& events) const {
  const AdmissionObserver& o = options_.observer;
  if (events.shed && o.on_shed) o.on_shed(events.priority, *events.shed);
  if (events.overload_change && o.on_overload_change) o.on_overload_change(*events.overload_change);
  if (events.limit_change && o.on_limit_change) o.on_limit_change(*events.limit_change);
}

Result<Admission> AdmissionController::TryAdmit(Priority priority, const Deadline& deadline) {
  const Clock::time_point now = clock_.Now();
  Events events;
  events.priority = priority;
  {
    MutexLock lock(&mu_);
    if (priority != Priority::kCritical) {
      const int limit = priority == Priority::kBulk ? std::max(1, stats_.limit / 2) : stats_.limit;
      // A drained queue always admits: nothing else would measure the delay again.
      const bool queue_bad = stats_.queued > 0 && (stats_.overloaded || (priority == Priority::kBulk && above_));
      if (queue_bad) {
        events.shed = ShedReason::kQueueDelay;
      } else if (stats_.in_flight >= limit) {
        events.shed = ShedReason::kConcurrencyLimit;
      } else if (stats_.queued > 0 && !deadline.infinite() && deadline.when() - now <= ExpectedWaitLocked()) {
        events.shed = ShedReason::kDeadline;
      }
    }
    if (events.shed) {
      switch (*events.shed) {
        case ShedReason::kConcurrencyLimit:
          ++stats_.shed_concurrency_limit;
          break;
        case ShedReason::kQueueDelay:
          ++stats_.shed_queue_delay;
          break;
        case ShedReason::kDeadline:
          ++stats_.shed_deadline;
          break;
      }
    } else {
      ++stats_.admitted;
      ++stats_.in_flight;
      ++stats_.queued;
    }
  }
  Notify(events);
  if (events.shed) {
    return Status::Unavailable("overloaded: ", ShedReasonName(*events.shed)).WithReason("overloaded");
  }
  return Admission(this, now);
}

Clock::duration AdmissionController::ExpectedWaitLocked() const {
  return std::chrono::duration_cast<Clock::duration>(stats_.run_time * stats_.queued / options_.servers);
}

Clock::time_point AdmissionController::OnStarted(Clock::time_point admitted_at) {
  const Clock::time_point now = clock_.Now();
  const Clock::duration delay = std::max(Clock::duration::zero(), now - admitted_at);
  Events events;
  {
    MutexLock lock(&mu_);
    --stats_.queued;
    // EWMA with weight 1/8 (as TCP's SRTT): smooth enough, and follows a change within a
    // few dozen starts.
    stats_.queue_delay += (std::chrono::duration_cast<std::chrono::nanoseconds>(delay) - stats_.queue_delay) / 8;
    const int old_limit = stats_.limit;
    if (delay > options_.target_delay) {
      if (!above_) {
        above_ = true;
        above_since_ = now;
      }
      if (!stats_.overloaded && now - above_since_ >= options_.interval) {
        stats_.overloaded = true;
        ++stats_.overload_episodes;
        events.overload_change = true;
      }
      if (now - last_decrease_ >= options_.interval && limit_ > options_.min_limit) {
        limit_ = std::max<double>(options_.min_limit, limit_ * options_.backoff);
        last_decrease_ = now;
        ++stats_.limit_decreases;
      }
    } else {
      above_ = false;
      if (stats_.overloaded) {
        stats_.overloaded = false;
        events.overload_change = false;
      }
      // Grow only while the limit is what holds the work back (more than half used).
      if (stats_.in_flight * 2 >= stats_.limit && limit_ < options_.max_limit) {
        limit_ = std::min<double>(options_.max_limit, limit_ + 1.0 / limit_);
      }
    }
    stats_.limit = static_cast<int>(limit_);
    if (stats_.limit > old_limit) ++stats_.limit_increases;
    if (stats_.limit != old_limit) events.limit_change = stats_.limit;
  }
  Notify(events);
  return now;
}

void AdmissionController::OnFinished(bool started, Clock::time_point started_at) {
  const Clock::time_point now = started ? clock_.Now() : Clock::time_point{};
  MutexLock lock(&mu_);
  --stats_.in_flight;
  if (!started) {
    --stats_.queued;
    return;
  }
  const auto ran = std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(Clock::duration::zero(), now - started_at));
  stats_.run_time += (ran - stats_.run_time) / 8;
}

AdmissionStats AdmissionController::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

}  // namespace lockstep::resilience
