#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/base/thread_annotations.h"

namespace lockstep::resilience {

// Who goes first when a resource is overloaded.
enum class Priority {
  kCritical,  // Never shed (health checks, the operator's calls).
  kNormal,    // Shed when the queue is standing or the concurrency limit is reached.
  kBulk,      // Shed first: also while the queue is merely above target, and above half the limit.
};

// Why a request was refused.
enum class ShedReason {
  kConcurrencyLimit,  // Admitted-and-unfinished work reached the adaptive limit.
  kQueueDelay,        // The queue has been standing (delay above target for an interval).
  kDeadline,          // The request's deadline ends before its expected wait in the queue.
};

// "concurrency_limit" | "queue_delay" | "deadline".
std::string_view ShedReasonName(ShedReason reason);
// "critical" | "normal" | "bulk".
std::string_view PriorityName(Priority priority);

// Optional callbacks (the project's one observer shape). Called without the controller's
// lock held, on the thread that caused the event; must be cheap, thread-safe and must not
// call back into the controller. Any of them may be empty.
struct AdmissionObserver {
  // A request was refused.
  std::function<void(Priority priority, ShedReason reason)> on_shed = nullptr;
  // The queue started standing (true) or drained below target (false).
  std::function<void(bool overloaded)> on_overload_change = nullptr;
  // The adaptive concurrency limit changed.
  std::function<void(int limit)> on_limit_change = nullptr;
};

// Plain value type. Validated by AdmissionController::Create (kInvalidArgument).
struct AdmissionOptions {
  // Queueing delay tolerated as standing queue (CoDel's target). > 0. Default 5ms.
  std::chrono::microseconds target_delay{5'000};
  // How long the delay must stay above target before the queue counts as standing, and the
  // least time between two limit decreases (CoDel's interval). > 0. Default 100ms.
  std::chrono::milliseconds interval{100};
  // Adaptive concurrency limit on admitted, unfinished work (queued + running):
  // 1 <= min_limit <= initial_limit <= max_limit. Defaults 4 / 64 / 4096.
  int min_limit = 4;
  int initial_limit = 64;
  int max_limit = 4096;
  // Multiplicative decrease when the delay is above target: limit *= backoff. In (0, 1).
  // Default 0.9. Increase: +1 per `limit` starts below target (additive).
  double backoff = 0.9;
  // How many admitted requests run at once (the workers behind the queue), for the
  // expected wait. >= 1. Default 1.
  int servers = 1;
  AdmissionObserver observer;

  Status Validate() const;
};

// Counters since Create and the state now. Plain value type.
struct AdmissionStats {
  uint64_t admitted = 0;
  uint64_t shed_concurrency_limit = 0;
  uint64_t shed_queue_delay = 0;
  uint64_t shed_deadline = 0;
  uint64_t overload_episodes = 0;  // Transitions into the standing-queue state.
  uint64_t limit_decreases = 0;
  uint64_t limit_increases = 0;
  int limit = 0;           // The adaptive concurrency limit now.
  int64_t in_flight = 0;   // Admitted and not finished (queued + running).
  int64_t queued = 0;      // Admitted and not started.
  bool overloaded = false; // The queue is standing now.
  std::chrono::nanoseconds queue_delay{0};  // Smoothed (EWMA 1/8) delay of recent starts.
  std::chrono::nanoseconds run_time{0};     // Smoothed (EWMA 1/8) start-to-finish time.
};

class AdmissionController;

// One admitted request's slot (like a lock: RAII, move-only). Call Started() when the
// work leaves the queue; destroying it finishes the work and frees the slot. A slot
// destroyed without Started() (the job was dropped) frees it without a delay sample.
// Thread-compatible: one thread at a time uses a slot; the controller is thread-safe.
class Admission {
 public:
  Admission(Admission&& other) noexcept;
  Admission& operator=(Admission&& other) noexcept;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission();

  // Records the time spent queued (now - admission). Once; later calls are ignored.
  void Started();

 private:
  friend class AdmissionController;
  Admission(AdmissionController* controller, Clock::time_point admitted_at)
      : controller_(controller), admitted_at_(admitted_at) {}
  void Finish();

  AdmissionController* controller_;  // Null once moved from or finished.
  Clock::time_point admitted_at_;
  Clock::time_point started_at_{};
  bool started_ = false;
};

// Load shedding in front of a queue (a worker pool, a connection pool checkout, a batch
// queue): decides at arrival, at once and without blocking, whether a request may join.
// Two signals, both from the delays the admitted work actually saw in the queue:
//   - Standing queue (CoDel): when every start for `interval` waited longer than
//     `target_delay`, the queue is standing; while it stands, kNormal requests are refused
//     (kBulk already when the last delay was above target) — unless nothing is queued, so
//     a drained queue always admits and measures again. A start below target ends it.
//   - Adaptive concurrency limit (AIMD): admitted, unfinished work is capped by `limit`,
//     which grows by one per `limit` starts below target and shrinks by `backoff` (at most
//     once per interval) while starts wait above target. kBulk gets half of it.
//   - Deadline: a request whose deadline ends before its expected wait is refused at once
//     instead of expiring in the queue. Expected wait = queued x smoothed run time of
//     recent work / `servers` (the work ahead of it, served `servers` at a time): it follows
//     the queue at once, and neither idle time nor a light load makes it pessimistic.
// kCritical requests are always admitted (and counted). Time comes only from the injected
// Clock (tests drive it with ManualClock).
// Thread-safe. The Clock must outlive the controller; every Admission must be destroyed
// before it.
class AdmissionController {
 public:
  // kInvalidArgument for invalid options. Thread-safe.
  static Result<std::unique_ptr<AdmissionController>> Create(AdmissionOptions options,
                                                             const Clock& clock = Clock::Real());

  AdmissionController(const AdmissionController&) = delete;
  AdmissionController& operator=(const AdmissionController&) = delete;

  // A slot, or kUnavailable with reason "overloaded" and a message naming the ShedReason.
  // Never blocks. Thread-safe.
  Result<Admission> TryAdmit(Priority priority, const Deadline& deadline = Deadline::Infinite())
      LOCKSTEP_EXCLUDES(mu_);

  AdmissionStats stats() const LOCKSTEP_EXCLUDES(mu_);
  const AdmissionOptions& options() const { return options_; }

 private:
  friend class Admission;
  AdmissionController(AdmissionOptions options, const Clock& clock);

  // From Admission: returns the start time.
  Clock::time_point OnStarted(Clock::time_point admitted_at) LOCKSTEP_EXCLUDES(mu_);
  void OnFinished(bool started, Clock::time_point started_at) LOCKSTEP_EXCLUDES(mu_);

  // What a request joining the queue now would wait (see the class comment).
  Clock::duration ExpectedWaitLocked() const LOCKSTEP_REQUIRES(mu_);

  struct Events;  // Observer calls collected under the lock, made after it.
  void Notify(const Events& events) const;

  const AdmissionOptions options_;
  const Clock& clock_;

  mutable Mutex mu_;
  AdmissionStats stats_ LOCKSTEP_GUARDED_BY(mu_);
  double limit_ LOCKSTEP_GUARDED_BY(mu_);  // Fractional for the additive increase.
  bool above_ LOCKSTEP_GUARDED_BY(mu_) = false;  // The last start waited above target.
  Clock::time_point above_since_ LOCKSTEP_GUARDED_BY(mu_);  // Start of that run (if above_).
  Clock::time_point last_decrease_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace lockstep::resilience
