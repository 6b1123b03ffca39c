#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "lockstep/base/clock.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/lock/lock_guard.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/lock/options.h"

namespace lockstep::lock {

// Registry of the owner's live leases by key (reentrancy).
struct LockOwner::Registry {
  Mutex mu;
  std::map<std::string, std::weak_ptr<internal::Lease>> held LOCKSTEP_GUARDED_BY(mu);
};

namespace internal {

using std::chrono::milliseconds;

// LockOptions with defaults resolved. kInvalidArgument for bad values.
struct ResolvedOptions {
  milliseconds lease;
  milliseconds renew_every;
  milliseconds drift;
};
Result<ResolvedOptions> ResolveOptions(const LockOptions& options);

// A fresh owner token "<pid>-<random>-<counter>".
std::string NewOwnerToken();

enum class RenewResult { kRenewed, kRefused, kFailed };
struct RenewOutcome {
  RenewResult result = RenewResult::kFailed;
  Status status;  // Why, when not kRenewed.
};

class Lease;

// What a lease needs from the service that granted it. Thread-safe.
class Backend {
 public:
  virtual ~Backend() = default;
  // Renews each lease (compare-and-pexpire; pipelined per node). One outcome per lease.
  virtual std::vector<RenewOutcome> RenewBatch(const std::vector<Lease*>& leases) = 0;
  // Compare-and-deletes the lease's key(s).
  virtual Status ReleaseLease(const Lease& lease) = 0;
  virtual const LockObserver& observer() const = 0;
  virtual void CountLost() = 0;
  virtual void CountRenewed(int batches, int renewals) = 0;
};

// The shared state of one grant; guards of it (reentrancy) share it. Thread-safe.
class Lease {
 public:
  Lease(std::shared_ptr<Backend> backend, std::string name, std::string key, std::string token,
        int64_t fence, const ResolvedOptions& opts, Clock::time_point sent,
        std::function<void(std::string_view, int64_t)> on_lost, std::shared_ptr<LockOwner> owner,
        int64_t queue_ticket);

  const std::string& name() const { return name_; }
  const std::string& key() const { return key_; }
  const std::string& token() const { return token_; }
  int64_t fence() const { return fence_; }
  // The waiter queue ticket the grant was made on (0: not queued).
  int64_t queue_ticket() const { return queue_ticket_; }
  milliseconds lease() const { return opts_.lease; }
  milliseconds renew_every() const { return opts_.renew_every; }

  Status Check() LOCKSTEP_EXCLUDES(mu_);
  bool lost() LOCKSTEP_EXCLUDES(mu_);
  Clock::time_point valid_until() LOCKSTEP_EXCLUDES(mu_);
  int holds() LOCKSTEP_EXCLUDES(mu_);
  // Adds a hold unless the lease is lost or released; false then.
  bool AddHold() LOCKSTEP_EXCLUDES(mu_);
  // Drops a hold; on the last one marks released, unregisters from the owner and
  // compare-and-deletes. OK if holds remain.
  Status DropHold() LOCKSTEP_EXCLUDES(mu_);

  // Scheduler side. When the lease next needs attention; nullopt = never again.
  std::optional<Clock::time_point> NextDue() LOCKSTEP_EXCLUDES(mu_);
  // True if a renewal should be sent now (not released/lost/paused, still valid); marks
  // it lost if its validity has run out.
  // `early`: renew now if due within it (joins the current pipeline).
  bool NeedsRenewal(Clock::time_point now, Clock::duration early) LOCKSTEP_EXCLUDES(mu_);
  void ApplyRenewal(Clock::time_point sent, const RenewOutcome& outcome) LOCKSTEP_EXCLUDES(mu_);
  // Marks the lease lost (once): observer.on_lost + options.on_lost callback, outside the lock.
  void MarkLost() LOCKSTEP_EXCLUDES(mu_);

  void PauseRenewalsForTesting() LOCKSTEP_EXCLUDES(mu_);

  // Registers with the owner (reentrancy). Call once after construction.
  void RegisterWithOwner(const std::shared_ptr<Lease>& self);

 private:
  const std::shared_ptr<Backend> backend_;
  const std::string name_;
  const std::string key_;
  const std::string token_;
  const int64_t fence_;
  const ResolvedOptions opts_;
  const std::function<void(std::string_view, int64_t)> on_lost_;
  const std::shared_ptr<LockOwner> owner_;  // Null when not reentrant.
  const int64_t queue_ticket_;

  Mutex mu_;
  Clock::time_point valid_until_ LOCKSTEP_GUARDED_BY(mu_);
  Clock::time_point last_sent_ LOCKSTEP_GUARDED_BY(mu_);
  Clock::time_point retry_at_ LOCKSTEP_GUARDED_BY(mu_);  // After a failed renewal.
  bool lost_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool released_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool paused_ LOCKSTEP_GUARDED_BY(mu_) = false;
  int holds_ LOCKSTEP_GUARDED_BY(mu_) = 1;
  // Atomic: once-only latch for the loss callbacks, flipped outside mu_ so callbacks never
  // run under it.
  std::atomic<bool> callbacks_fired_{false};
};

// The renewal scheduler: one thread, a timer heap of leases. Leases due within a small
// window of each other are renewed in one Backend::RenewBatch (one pipeline per node).
// Thread-safe. Owned by the service; destroying it stops and joins the thread.
class Renewer {
 public:
  explicit Renewer(Backend* backend);
  ~Renewer();
  Renewer(const Renewer&) = delete;
  Renewer& operator=(const Renewer&) = delete;

  void Add(const std::shared_ptr<Lease>& lease) LOCKSTEP_EXCLUDES(mu_);

 private:
  struct Entry {
    Clock::time_point due;
    std::weak_ptr<Lease> lease;
    bool operator>(const Entry& o) const { return due > o.due; }
  };
  void Run() LOCKSTEP_EXCLUDES(mu_);

  Backend* const backend_;  // Outlives the thread (the service owns both).
  Mutex mu_;
  CondVar cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_ LOCKSTEP_GUARDED_BY(mu_);
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// What RenewOnNode sends for each lease, and the deadline of a renewal round (the earliest
// validity end among them: a reply after it cannot extend anything). Defined in lease.cc.
struct RenewItem;
std::vector<RenewItem> RenewItems(const std::vector<Lease*>& leases);
Deadline RenewDeadline(const std::vector<Lease*>& leases);

// Another hold on the owner's live lease of `key`, if options ask for reentrancy and the
// owner holds a valid one; else null. Defined in lock_service.cc.
std::shared_ptr<Lease> FindReentrant(const LockOptions& options, const std::string& key);

// The counters of one service (LockService or RedLock). Atomics: independent statistics
// counters; no ordering with other state needed. Thread-safe.
struct LockCounters {
  std::atomic<uint64_t> acquired{0}, wakes{0}, polls{0}, renewals{0}, renew_batches{0}, lost{0};
  LockServiceStats Snapshot() const;
};

// The start of every Acquire (LockService and RedLock): options resolved, the key built, a
// grant token minted ("<owner token>#<unique>": unique per grant, so a stale guard of an
// earlier grant to the same owner can never delete or extend this one), and the clock read
// for the wait metric. Value type.
struct AcquireStart {
  ResolvedOptions resolved;
  Clock::time_point start;
  std::string key;
  std::string token;

  // kInvalidArgument for an empty name ("<service>: empty lock name") or bad options.
  static Result<AcquireStart> Begin(std::string_view service, std::string_view key_prefix, std::string_view name,
                                    const LockOptions& options);
  // Counts the grant, reports it to observer.on_acquired and wraps `lease` in a guard.
  LockGuard Granted(std::shared_ptr<Lease> lease, std::string_view name, LockCounters& counters,
                    const LockObserver& observer) const;
  // A new grant (the same steps for LockService and RedLock): the lease of `grant_token`
  // and `fence`, valid from `sent`, registered with its owner (reentrancy), scheduled for
  // renewal (options.auto_renew), then as Granted.
  LockGuard Grant(std::shared_ptr<Backend> backend, Renewer& renewer, std::string_view name,
                  std::string grant_token, int64_t fence, Clock::time_point sent, const LockOptions& options,
                  int64_t queue_ticket, LockCounters& counters, const LockObserver& observer) const;
};

struct LockOwnerAccess {
  static LockOwner::Registry* Registry(LockOwner& owner) { return owner.registry_.get(); }
};

}  // namespace internal
}  // namespace lockstep::lock
