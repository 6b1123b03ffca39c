#include "lockstep/lock/lock_service.h"

#include <atomic>
#include <map>

#include "lock/lease.h"
#include "lock/scripts.h"
#include "lockstep/redis/subscriber.h"
#include "lockstep/redis/script.h"

namespace lockstep::lock {
namespace internal {

using namespace std::chrono_literals;

// Parses the acquire script's {granted, fence-or-pttl} reply.
Result<std::pair<bool, int64_t>> ParseAcquireReply(const redis::Reply& reply) {
  if (!reply.is_array() || reply.array().size() != 2 || !reply.array()[0].is_integer() ||
      !reply.array()[1].is_integer()) {
    return Status::Internal("lock: unexpected acquire reply ", reply.DebugString());
  }
  return std::make_pair(reply.array()[0].integer() == 1, reply.array()[1].integer());
}

std::vector<Result<int64_t>> RenewOnNode(redis::Client& client, const std::vector<RenewItem>& items,
                                         const Deadline& deadline) {
  const redis::Script& script = RenewScript();
  std::vector<std::vector<std::string>> commands;
  commands.reserve(items.size());
  for (const RenewItem& item : items) {
    commands.push_back({"EVALSHA", script.sha1(), "1", item.key, item.token, std::to_string(item.lease_ms)});
  }
  std::vector<Result<int64_t>> out;
  out.reserve(items.size());
  Result<std::vector<Result<redis::Reply>>> replies = client.Pipeline(commands, deadline);
  for (size_t i = 0; i < items.size(); ++i) {
    if (!replies.ok()) {
      out.push_back(replies.status());
      continue;
    }
    Result<redis::Reply> reply = (*replies)[i];
    if (!reply.ok() && reply.status().code() == StatusCode::kNotFound && reply.status().reason() == "noscript") {
      // Script cache flushed (restart): Run falls back to EVAL and reloads it.
      reply = script.Run(client, {items[i].key}, {items[i].token, std::to_string(items[i].lease_ms)}, deadline);
    }
    if (!reply.ok()) {
      out.push_back(reply.status());
      continue;
    }
    out.push_back(reply->AsInteger());
  }
  return out;
}

// Registration TTL of a waiter in the lock's queue: it refreshes it on every attempt, at
// least once per poll_interval.
std::chrono::milliseconds RegistrationTtl(const LockOptions& options) {
  return std::max<std::chrono::milliseconds>(3 * options.poll_interval, 500ms);
}

// One Acquire call that waits: its queue member in Redis ("<wake channel>#<seq>") and the
// wake-ups addressed to it. Guarded by ServiceCore::mu_ (members below `member`).
struct Waiter {
  uint64_t seq = 0;
  std::string member;
  CondVar cv;
  uint64_t wakes = 0;
};

// Parsed reply of QueueAcquireScript. Value type.
struct Attempt {
  bool granted = false;
  int64_t fence_or_pttl = 0;  // Fence when granted; else the holder's PTTL, or -3.
  int64_t ticket = 0;         // Queue ticket (0 = not queued).
};
inline constexpr int64_t kQueuedBehindOthers = -3;

// Shared by LockService and its leases. Thread-safe.
class ServiceCore final : public Backend {
 public:
  ServiceCore(redis::Client& client, LockServiceOptions options)
      : client_(client),
        options_(std::move(options)),
        wake_channel_(options_.release_channel + ":" + NewOwnerToken()) {}
  ~ServiceCore() override { subscriber_.reset(); }  // No callback into us after this.

  Status StartSubscriber() {
    redis::SubscriberOptions so;
    so.redis = client_.options();
    so.on_message = [this](const redis::Message& m) { OnWake(m.payload); };
    so.on_state = [this](redis::ConnectionState s) { OnState(s); };
    LOCKSTEP_ASSIGN_OR_RETURN(subscriber_, redis::Subscriber::Open(std::move(so)));
    return subscriber_->Subscribe(wake_channel_);
  }

  // One grant attempt (see QueueAcquireScript). `waiter` null: not queued.
  Result<Attempt> TryOnce(const std::string& key, const std::string& token, const LockOptions& options,
                          std::chrono::milliseconds lease, const Waiter* waiter, const Deadline& deadline) {
    const QueueKeys keys(key);
    LOCKSTEP_ASSIGN_OR_RETURN(
        redis::Reply reply,
        QueueAcquireScript().Run(client_, {keys.lock, keys.fence, keys.queue, keys.expiry, keys.seq},
                                 {token, std::to_string(lease.count()), waiter != nullptr ? waiter->member : "",
                                  options.fair ? "1" : "0", std::to_string(RegistrationTtl(options).count())},
                                 deadline));
    if (!reply.is_array() || reply.array().size() != 3 || !reply.array()[0].is_integer() ||
        !reply.array()[1].is_integer() || !reply.array()[2].is_integer()) {
      return Status::Internal("lock: unexpected acquire reply ", reply.DebugString());
    }
    return Attempt{reply.array()[0].integer() == 1, reply.array()[1].integer(), reply.array()[2].integer()};
  }

  // Takes `waiter` out of the lock's queue (an Acquire that gives up), waking the next
  // one if the lock is free. Best effort, bounded: a registration left behind expires.
  void Leave(const std::string& key, const Waiter& waiter) {
    const QueueKeys keys(key);
    const auto budget = std::min<std::chrono::milliseconds>(options_.release_timeout, 100ms);
    (void)LeaveQueueScript().Run(client_, {keys.lock, keys.queue, keys.expiry}, {waiter.member},
                                 Deadline::After(budget));
  }

  std::vector<RenewOutcome> RenewBatch(const std::vector<Lease*>& leases) override {
    std::vector<RenewOutcome> out;
    for (Result<int64_t>& r : RenewOnNode(client_, RenewItems(leases), RenewDeadline(leases))) {
      if (!r.ok()) {
        out.push_back({RenewResult::kFailed, r.status()});
      } else if (*r == 1) {
        out.push_back({RenewResult::kRenewed, Status()});
      } else {
        out.push_back({RenewResult::kRefused, Status::FailedPrecondition("lock key no longer ours").WithReason("lock_lost")});
      }
    }
    return out;
  }

  Status ReleaseLease(const Lease& lease) override {
    const QueueKeys keys(lease.key());
    LOCKSTEP_ASSIGN_OR_RETURN(redis::Reply reply,
                              QueueReleaseScript().Run(client_, {keys.lock, keys.queue, keys.expiry}, {lease.token()},
                                                       Deadline::After(options_.release_timeout)));
    if (reply.is_integer() && reply.integer() == 1) return Status::Ok();
    return Status::FailedPrecondition("lock '", lease.name(), "' was lost before its release (fence ", lease.fence(),
                                      "): the key had expired or belongs to another owner")
        .WithReason("lock_lost");
  }

  const LockObserver& observer() const override { return options_.observer; }
  void CountLost() override { counters_.lost.fetch_add(1, std::memory_order_relaxed); }
  void CountRenewed(int batches, int renewals) override {
    counters_.renew_batches.fetch_add(batches, std::memory_order_relaxed);
    counters_.renewals.fetch_add(renewals, std::memory_order_relaxed);
  }

  // Waiter registry: a release wakes the one waiter it names; a reconnect of the
  // subscriber wakes all (messages may have been missed).
  void AddWaiter(Waiter* waiter) LOCKSTEP_EXCLUDES(mu_) {
    MutexLock l(&mu_);
    waiter->seq = ++next_seq_;
    waiter->member = wake_channel_ + "#" + std::to_string(waiter->seq);
    waiters_[waiter->seq] = waiter;
  }
  void RemoveWaiter(const Waiter* waiter) LOCKSTEP_EXCLUDES(mu_) {
    MutexLock l(&mu_);
    waiters_.erase(waiter->seq);
  }
  struct Epochs {
    uint64_t wakes = 0;   // Wake-ups addressed to the waiter.
    uint64_t global = 0;  // Subscriber (re)connects: messages may have been missed.
    bool operator==(const Epochs&) const = default;
  };
  Epochs Epoch(const Waiter& waiter) LOCKSTEP_EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return Epochs{waiter.wakes, global_epoch_};
  }
  enum class Woken { kTimeout, kReleased, kReconnected };
  // Waits until a wake-up for `waiter` or a reconnect moves past `seen`, or the deadline.
  Woken WaitForRelease(Waiter& waiter, const Epochs& seen, const Deadline& deadline) LOCKSTEP_EXCLUDES(mu_) {
    MutexLock l(&mu_);
    for (;;) {
      if (waiter.wakes != seen.wakes) return Woken::kReleased;
      if (global_epoch_ != seen.global) return Woken::kReconnected;
      if (!waiter.cv.WaitUntil(&mu_, deadline) && waiter.wakes == seen.wakes && global_epoch_ == seen.global) {
        return Woken::kTimeout;
      }
    }
  }
  Status WaitSubscribed(const Deadline& deadline) { return subscriber_->WaitSubscribed(deadline); }

  redis::Client& client() { return client_; }
  const LockServiceOptions& options() const { return options_; }

  LockCounters counters_;

 private:
  // A wake-up message: the member "<wake channel>#<seq>" of the waiter it is for.
  void OnWake(const std::string& member) LOCKSTEP_EXCLUDES(mu_) {
    const size_t hash = member.rfind('#');
    if (hash == std::string::npos) return;
    uint64_t seq = 0;
    for (size_t i = hash + 1; i < member.size(); ++i) {
      if (member[i] < '0' || member[i] > '9') return;
      seq = seq * 10 + static_cast<uint64_t>(member[i] - '0');
    }
    MutexLock l(&mu_);
    auto it = waiters_.find(seq);
    if (it == waiters_.end()) return;  // Gave up meanwhile (it left the queue, waking the next).
    ++it->second->wakes;
    it->second->cv.Signal();
  }
  void OnState(redis::ConnectionState state) LOCKSTEP_EXCLUDES(mu_) {
    if (state != redis::ConnectionState::kConnected) return;
    MutexLock l(&mu_);
    ++global_epoch_;
    for (auto& [seq, waiter] : waiters_) waiter->cv.Signal();
  }

  redis::Client& client_;
  const LockServiceOptions options_;
  const std::string wake_channel_;  // "<release_channel>:<service token>": this service's waiters.
  std::unique_ptr<redis::Subscriber> subscriber_;

  Mutex mu_;
  std::map<uint64_t, Waiter*> waiters_ LOCKSTEP_GUARDED_BY(mu_);
  uint64_t next_seq_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  uint64_t global_epoch_ LOCKSTEP_GUARDED_BY(mu_) = 0;
};

// RAII registration of a waiting Acquire: in the service's registry for its whole life;
// in the lock's Redis queue from its first failed attempt until it is granted (the
// script dequeues it) or gives up (the destructor leaves the queue).
class WaiterScope {
 public:
  WaiterScope(ServiceCore* core, const std::string& key) : core_(core), key_(key) {
    if (core_ != nullptr) core_->AddWaiter(&waiter_);
  }
  ~WaiterScope() {
    if (core_ == nullptr) return;
    if (queued_) core_->Leave(key_, waiter_);
    core_->RemoveWaiter(&waiter_);
  }
  WaiterScope(const WaiterScope&) = delete;
  WaiterScope& operator=(const WaiterScope&) = delete;

  // Null when the Acquire does not wait.
  Waiter* waiter() { return core_ != nullptr ? &waiter_ : nullptr; }
  // Whether the lock's queue holds this waiter after the last attempt.
  void set_queued(bool queued) { queued_ = queued; }

 private:
  ServiceCore* core_;
  const std::string& key_;
  Waiter waiter_;
  bool queued_ = false;
};

std::shared_ptr<Lease> FindReentrant(const LockOptions& options, const std::string& key) {
  if (!options.reentrant || options.owner == nullptr) return nullptr;
  std::shared_ptr<Lease> lease;
  {
    auto& reg = *LockOwnerAccess::Registry(*options.owner);
    MutexLock l(&reg.mu);
    auto it = reg.held.find(key);
    if (it != reg.held.end()) lease = it->second.lock();
  }
  if (lease != nullptr && lease->AddHold()) return lease;
  return nullptr;
}

}  // namespace internal

Result<std::unique_ptr<LockService>> LockService::Create(redis::Client& client, LockServiceOptions options) {
  if (options.release_channel.empty()) return Status::InvalidArgument("lock: release_channel must be non-empty");
  if (options.release_timeout <= std::chrono::milliseconds(0)) {
    return Status::InvalidArgument("lock: release_timeout must be > 0");
  }
  auto core = std::make_shared<internal::ServiceCore>(client, std::move(options));
  LOCKSTEP_RETURN_IF_ERROR(core->StartSubscriber());
  auto renewer = std::make_unique<internal::Renewer>(core.get());
  return std::unique_ptr<LockService>(new LockService(std::move(core), std::move(renewer)));
}

LockService::LockService(std::shared_ptr<internal::ServiceCore> core, std::unique_ptr<internal::Renewer> renewer)
    : core_(std::move(core)), renewer_(std::move(renewer)) {}

LockService::~LockService() { renewer_.reset(); }  // Stop renewing before the core may go.

Result<LockGuard> LockService::TryAcquire(std::string_view name, const LockOptions& options,
                                          const Deadline& deadline) {
  LockOptions o = options;
  o.wait = WaitPolicy::kNoWait;
  return Acquire(name, o, deadline);
}

Result<LockGuard> LockService::Acquire(std::string_view name, const LockOptions& options, const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(const internal::AcquireStart begin,
                            internal::AcquireStart::Begin("lock", core_->options().key_prefix, name, options));
  const internal::ResolvedOptions& resolved = begin.resolved;
  const std::string& key = begin.key;
  const std::string& token = begin.token;
  const LockObserver& observer = core_->options().observer;
  auto granted = [&](std::shared_ptr<internal::Lease> lease) {
    return begin.Granted(std::move(lease), name, core_->counters_, observer);
  };
  if (std::shared_ptr<internal::Lease> lease = internal::FindReentrant(options, key)) return granted(std::move(lease));

  const bool wait = options.wait == WaitPolicy::kWait;
  internal::WaiterScope scope(wait ? core_.get() : nullptr, key);
  if (wait) {
    // Subscribed before the first attempt, so a wake-up after a failed attempt is never
    // missed. If the subscriber cannot connect, waiting degrades to the fallback poll.
    (void)core_->WaitSubscribed(deadline.CappedAt(options.poll_interval));
  }
  bool reported_wait = false;
  for (;;) {
    const internal::ServiceCore::Epochs epoch =
        wait ? core_->Epoch(*scope.waiter()) : internal::ServiceCore::Epochs{};
    const Clock::time_point sent = Clock::Real().Now();
    LOCKSTEP_ASSIGN_OR_RETURN(const internal::Attempt attempt,
                              core_->TryOnce(key, token, options, resolved.lease, scope.waiter(), deadline));
    scope.set_queued(wait && !attempt.granted);
    if (attempt.granted) {
      return begin.Grant(core_, *renewer_, name, token, attempt.fence_or_pttl, sent, options, attempt.ticket,
                         core_->counters_, observer);
    }
    if (!wait) return Status::Aborted("lock '", name, "' is held by another owner").WithReason("lock_busy");
    if (deadline.expired()) {
      return Status::DeadlineExceeded("lock '", name, "' still held at the deadline").WithReason("lock_busy");
    }
    if (!reported_wait) {
      reported_wait = true;
      if (observer.on_wait) observer.on_wait(name);
    }
    // Wake on a release addressed to this waiter (the queue's head), else when the holder's
    // lease would run out, else after poll_interval (which also refreshes the queue
    // registration). PTTL -2 (the key vanished meanwhile): retry after 1ms, never spin.
    std::chrono::milliseconds pause = options.poll_interval;
    if (attempt.fence_or_pttl >= 0) pause = std::min(pause, std::chrono::milliseconds(attempt.fence_or_pttl + 1));
    if (attempt.fence_or_pttl == -2) pause = std::chrono::milliseconds(1);
    const auto woken = core_->WaitForRelease(*scope.waiter(), epoch, deadline.CappedAt(pause));
    if (woken == internal::ServiceCore::Woken::kReleased) {
      core_->counters_.wakes.fetch_add(1, std::memory_order_relaxed);
      if (observer.on_wake) observer.on_wake(name);
    } else if (woken == internal::ServiceCore::Woken::kReconnected) {
      // Retry at once: a release may have been published while we were disconnected.
    } else if (deadline.expired()) {
      return Status::DeadlineExceeded("lock '", name, "' still held at the deadline").WithReason("lock_busy");
    } else {
      core_->counters_.polls.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

LockServiceStats LockService::stats() const { return core_->counters_.Snapshot(); }

}  // namespace lockstep::lock
