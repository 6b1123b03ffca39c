#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lockstep/base/status.h"

namespace lockstep::lock {

class LockOwner;

inline constexpr std::chrono::milliseconds kDefaultLease{10'000};

// What Acquire does when the lock is held by someone else.
enum class WaitPolicy {
  kWait,    // Wait (pub/sub wake-up + bounded fallback poll) until the deadline.
  kNoWait,  // Fail at once with kAborted reason "lock_busy" (what TryAcquire does).
};

// Observer of a lock service (LockServiceOptions::observer), e.g. for metrics
// (lockstep::prometheus binds one to a registry). Every callback is optional (empty = not
// called), runs without any of the service's locks held, possibly on several threads at
// once (the calling thread or the renewal scheduler's), must be cheap and thread-safe,
// and must not call back into the lock service.
struct LockObserver {
  // A lock was granted; `waited` is the time spent in Acquire (0 if granted at once).
  std::function<void(std::string_view name, std::chrono::nanoseconds waited)> on_acquired = nullptr;
  // An Acquire found the lock busy and starts waiting (once per Acquire call).
  std::function<void(std::string_view name)> on_wait = nullptr;
  // A waiter was woken by a release message (pub/sub), not by its fallback poll.
  std::function<void(std::string_view name)> on_wake = nullptr;
  // A renewal round of one lock finished: OK (extended), or why not.
  std::function<void(std::string_view name, const Status& status)> on_renewal = nullptr;
  // A held lock was lost (renewal refused, or its validity ran out).
  std::function<void(std::string_view name)> on_lost = nullptr;
  // A fenced write was rejected because a newer fence had already written (table name).
  std::function<void(std::string_view table)> on_fenced_rejected = nullptr;
};

// Per-acquisition options. Plain value type. Validated by Acquire (kInvalidArgument).
struct LockOptions {
  // Lease (TTL of the key); the lock is released by Redis if not renewed. >= 10ms.
  // Default 10s.
  std::chrono::milliseconds lease{kDefaultLease};
  // Interval between renewals; 0ms = lease / 3. Must be < lease - drift. Default 0ms.
  std::chrono::milliseconds renew_every{0};
  // Clock-drift safety margin subtracted from every validity window; 0ms = lease / 100 +
  // 2ms. Must be < lease. Default 0ms.
  std::chrono::milliseconds drift{0};
  // Whether the lease is renewed automatically until the guard is released. Default true.
  bool auto_renew = true;
  // Behaviour when the lock is busy. Default kWait.
  WaitPolicy wait = WaitPolicy::kWait;
  // Waiting: upper bound between two attempts when no release message arrives (lost
  // message, holder crashed). The wait also ends when the holder's lease would expire.
  // A waiter's place in the lock's queue is kept while it retries at least once per
  // registration TTL = max(3 x poll_interval, 500ms). > 0. Default 1s.
  std::chrono::milliseconds poll_interval{1'000};
  // Fair (FIFO) mode, LockService only (RedLock: kInvalidArgument). A fair acquirer is
  // granted a free lock only when no live waiter queued before it: waiters are served in
  // the order they first found the lock busy, across processes (the queue is in Redis), and
  // a releasing thread cannot barge ahead of them. A fair TryAcquire fails while anyone is
  // queued. Bound: a waiter whose process keeps its registration alive is granted after at
  // most one grant per waiter queued ahead of it (plus the current holder); a waiter ahead
  // that died without leaving delays the queue by at most its registration TTL + one
  // poll_interval. Non-fair acquirers of the same name may still barge: use one mode per
  // name. Default false (a free lock goes to whoever asks first; the queue's head is woken).
  bool fair = false;
  // The owner on whose behalf the lock is taken; null = a fresh anonymous owner.
  std::shared_ptr<LockOwner> owner = nullptr;
  // With an owner: a second Acquire of the same name by the same owner while a guard of
  // it is alive returns another guard on the same lease (hold count + 1, same fence)
  // instead of waiting for itself. Default false.
  bool reentrant = false;
  // Called once when the lease is lost (see LockGuard::Check), on the renewal thread or
  // on the thread that noticed it, with the lock name and the fence of the lost grant (the
  // writes that carried it may have been overtaken). Same rules as LockObserver callbacks.
  // May be empty.
  std::function<void(std::string_view name, int64_t fence)> on_lost = nullptr;
};

}  // namespace lockstep::lock
