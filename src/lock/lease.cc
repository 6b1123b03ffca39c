#include "lock/lease.h"

#include "lock/scripts.h"
#include "lockstep/lock/test_peer.h"

#include <unistd.h>

#include <atomic>
#include <optional>
#include <random>
#include <sstream>
#include "lockstep/base/thread_name.h"

namespace lockstep::lock {

LockOwner::LockOwner() : token_(internal::NewOwnerToken()), registry_(std::make_unique<Registry>()) {}

LockOwner::~LockOwner() = default;

namespace internal {

using namespace std::chrono_literals;

Result<ResolvedOptions> ResolveOptions(const LockOptions& options) {
  ResolvedOptions r{options.lease, options.renew_every, options.drift};
  if (r.lease < 10ms) return Status::InvalidArgument("lock: lease must be >= 10ms, got ", r.lease.count(), "ms");
  if (r.drift == 0ms) r.drift = r.lease / 100 + 2ms;
  if (r.drift < 0ms || r.drift >= r.lease) return Status::InvalidArgument("lock: drift must be in [0, lease)");
  if (r.renew_every == 0ms) r.renew_every = r.lease / 3;
  if (r.renew_every <= 0ms || r.renew_every >= r.lease - r.drift) {
    return Status::InvalidArgument("lock: renew_every must be in (0, lease - drift)");
  }
  if (options.poll_interval <= 0ms) return Status::InvalidArgument("lock: poll_interval must be > 0");
  if (options.reentrant && options.owner == nullptr) {
    return Status::InvalidArgument("lock: reentrant requires an owner");
  }
  return r;
}

Result<AcquireStart> AcquireStart::Begin(std::string_view service, std::string_view key_prefix,
                                         std::string_view name, const LockOptions& options) {
  if (name.empty()) return Status::InvalidArgument(service, ": empty lock name");
  LOCKSTEP_ASSIGN_OR_RETURN(ResolvedOptions resolved, ResolveOptions(options));
  const std::string owner_token = options.owner != nullptr ? options.owner->token() : NewOwnerToken();
  return AcquireStart{resolved, Clock::Real().Now(), std::string(key_prefix) + std::string(name),
                      owner_token + "#" + NewOwnerToken()};
}

LockGuard AcquireStart::Granted(std::shared_ptr<Lease> lease, std::string_view name, LockCounters& counters,
                                const LockObserver& observer) const {
  counters.acquired.fetch_add(1, std::memory_order_relaxed);
  if (observer.on_acquired) observer.on_acquired(name, Clock::Real().Now() - start);
  return LockGuard(std::move(lease));
}

LockGuard AcquireStart::Grant(std::shared_ptr<Backend> backend, Renewer& renewer, std::string_view name,
                              std::string grant_token, int64_t fence, Clock::time_point sent,
                              const LockOptions& options, int64_t queue_ticket, LockCounters& counters,
                              const LockObserver& observer) const {
  auto lease = std::make_shared<Lease>(std::move(backend), std::string(name), key, std::move(grant_token), fence,
                                       resolved, sent, options.on_lost, options.reentrant ? options.owner : nullptr,
                                       queue_ticket);
  lease->RegisterWithOwner(lease);
  if (options.auto_renew) renewer.Add(lease);
  return Granted(std::move(lease), name, counters, observer);
}

LockServiceStats LockCounters::Snapshot() const {
  LockServiceStats s;
  s.acquired = acquired.load(std::memory_order_relaxed);
  s.wakes = wakes.load(std::memory_order_relaxed);
  s.polls = polls.load(std::memory_order_relaxed);
  s.renewals = renewals.load(std::memory_order_relaxed);
  s.renew_batches = renew_batches.load(std::memory_order_relaxed);
  s.lost = lost.load(std::memory_order_relaxed);
  return s;
}

std::string NewOwnerToken() {
  // Atomic: a process-wide sequence; uniqueness needs no ordering with anything else.
  static std::atomic<uint64_t> counter{0};
  static const uint64_t random = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  std::ostringstream out;
  out << ::getpid() << '-' << std::hex << random << std::dec << '-'
      << counter.fetch_add(1, std::memory_order_relaxed);
  return out.str();
}

Lease::Lease(std::shared_ptr<Backend> backend, std::string name, std::string key, std::string token,
             int64_t fence, const ResolvedOptions& opts, Clock::time_point sent,
             std::function<void(std::string_view, int64_t)> on_lost, std::shared_ptr<LockOwner> owner,
             int64_t queue_ticket)
    : backend_(std::move(backend)),
      name_(std::move(name)),
      key_(std::move(key)),
      token_(std::move(token)),
      fence_(fence),
      opts_(opts),
      on_lost_(std::move(on_lost)),
      owner_(std::move(owner)),
      queue_ticket_(queue_ticket) {
  MutexLock l(&mu_);
  last_sent_ = sent;
  valid_until_ = sent + opts_.lease - opts_.drift;
  retry_at_ = sent + opts_.renew_every;
}

void Lease::RegisterWithOwner(const std::shared_ptr<Lease>& self) {
  if (owner_ == nullptr) return;
  MutexLock l(&owner_->registry_->mu);
  owner_->registry_->held[key_] = self;
}

Status Lease::Check() {
  bool newly_lost = false;
  {
    MutexLock l(&mu_);
    if (released_) return Status::FailedPrecondition("lock '", name_, "' was released").WithReason("not_held");
    if (!lost_ && Clock::Real().Now() >= valid_until_) {
      lost_ = true;
      newly_lost = true;
    }
    if (!lost_) return Status::Ok();
  }
  if (newly_lost) MarkLost();  // Already flagged; fires the callbacks.
  return Status::FailedPrecondition("lock '", name_, "' was lost (lease not renewed in time)").WithReason("lock_lost");
}

bool Lease::lost() { return !Check().ok(); }

Clock::time_point Lease::valid_until() {
  MutexLock l(&mu_);
  return lost_ ? Clock::time_point::min() : valid_until_;
}

int Lease::holds() {
  MutexLock l(&mu_);
  return holds_;
}

bool Lease::AddHold() {
  MutexLock l(&mu_);
  if (released_ || lost_ || Clock::Real().Now() >= valid_until_) return false;
  ++holds_;
  return true;
}

Status Lease::DropHold() {
  {
    MutexLock l(&mu_);
    if (released_) return Status::Ok();
    if (--holds_ > 0) return Status::Ok();
    released_ = true;
  }
  if (owner_ != nullptr) {
    MutexLock l(&owner_->registry_->mu);
    auto it = owner_->registry_->held.find(key_);
    if (it != owner_->registry_->held.end()) {
      std::shared_ptr<Lease> registered = it->second.lock();
      if (registered == nullptr || registered.get() == this) owner_->registry_->held.erase(it);
    }
  }
  return backend_->ReleaseLease(*this);
}

std::optional<Clock::time_point> Lease::NextDue() {
  MutexLock l(&mu_);
  if (released_ || lost_) return std::nullopt;
  if (paused_) return valid_until_;
  return std::min(retry_at_, valid_until_);
}

bool Lease::NeedsRenewal(Clock::time_point now, Clock::duration early) {
  bool newly_lost = false;
  {
    MutexLock l(&mu_);
    if (released_ || lost_) return false;
    if (now >= valid_until_) {
      lost_ = true;
      newly_lost = true;
    } else {
      return !paused_ && now + early >= retry_at_;
    }
  }
  if (newly_lost) MarkLost();
  return false;
}

void Lease::ApplyRenewal(Clock::time_point sent, const RenewOutcome& outcome) {
  const LockObserver& observer = backend_->observer();
  if (observer.on_renewal) {
    observer.on_renewal(name_, outcome.result == RenewResult::kRenewed ? Status::Ok() : outcome.status);
  }
  bool newly_lost = false;
  {
    MutexLock l(&mu_);
    if (released_ || lost_) return;
    const Clock::time_point now = Clock::Real().Now();
    if (now >= valid_until_ || outcome.result == RenewResult::kRefused) {
      // Past validity before the reply came back (we told the holder it may act until
      // then, so we cannot extend retroactively), or the key is no longer ours.
      lost_ = true;
      newly_lost = true;
    } else if (outcome.result == RenewResult::kRenewed) {
      last_sent_ = sent;
      valid_until_ = std::max(valid_until_, sent + opts_.lease - opts_.drift);
      retry_at_ = sent + opts_.renew_every;
    } else {
      // Transient failure: retry soon, until the validity runs out.
      retry_at_ = now + std::max<Clock::duration>(opts_.renew_every / 4, 5ms);
    }
  }
  if (newly_lost) MarkLost();
}

void Lease::MarkLost() {
  {
    MutexLock l(&mu_);
    lost_ = true;
  }
  // Exactly once: the flag below is only flipped here.
  bool expected = false;
  if (!callbacks_fired_.compare_exchange_strong(expected, true)) return;
  backend_->CountLost();
  if (backend_->observer().on_lost) backend_->observer().on_lost(name_);
  if (on_lost_) on_lost_(name_, fence_);
}

void Lease::PauseRenewalsForTesting() {
  MutexLock l(&mu_);
  paused_ = true;
}

Renewer::Renewer(Backend* backend) : backend_(backend) {
  thread_ = std::thread([this] {
    SetCurrentThreadName("lease-renew");
    Run();
  });
}

Renewer::~Renewer() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

void Renewer::Add(const std::shared_ptr<Lease>& lease) {
  const std::optional<Clock::time_point> due = lease->NextDue();
  if (!due) return;
  {
    MutexLock l(&mu_);
    if (stop_) return;
    heap_.push(Entry{*due, lease});
  }
  cv_.Signal();
}

void Renewer::Run() {
  // Leases due within this window of the first one are looked at together; each joins the
  // pipeline if its renewal is due within a quarter of its renew_every (renewing a little
  // early is harmless and saves round trips).
  constexpr auto kCoalesce = 1s;
  for (;;) {
    std::vector<std::shared_ptr<Lease>> due;
    {
      MutexLock l(&mu_);
      for (;;) {
        if (stop_) return;
        if (heap_.empty()) {
          cv_.Wait(&mu_);
          continue;
        }
        const Clock::time_point next = heap_.top().due;
        if (next > Clock::Real().Now()) {
          cv_.WaitUntil(&mu_, Deadline::At(next));
          continue;
        }
        break;
      }
      const Clock::time_point window = Clock::Real().Now() + kCoalesce;
      while (!heap_.empty() && heap_.top().due <= window) {
        if (std::shared_ptr<Lease> lease = heap_.top().lease.lock()) due.push_back(std::move(lease));
        heap_.pop();
      }
    }
    // Outside mu_: Add() never waits for network I/O. Lock order: never Renewer::mu_ ->
    // Lease::mu_.
    const Clock::time_point now = Clock::Real().Now();
    std::vector<Lease*> batch;
    for (const auto& lease : due) {
      if (lease->NeedsRenewal(now, lease->renew_every() / 4)) batch.push_back(lease.get());
    }
    if (!batch.empty()) {
      const Clock::time_point sent = Clock::Real().Now();
      const std::vector<RenewOutcome> outcomes = backend_->RenewBatch(batch);
      int renewed = 0;
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->ApplyRenewal(sent, outcomes[i]);
        if (outcomes[i].result == RenewResult::kRenewed) ++renewed;
      }
      backend_->CountRenewed(1, renewed);
    }
    std::vector<Entry> next;
    for (const auto& lease : due) {
      if (std::optional<Clock::time_point> when = lease->NextDue()) next.push_back(Entry{*when, lease});
    }
    {
      MutexLock l(&mu_);
      for (Entry& e : next) heap_.push(std::move(e));
    }
    // `due` (shared_ptrs) is dropped here, outside mu_: a last reference may run ~Lease.
  }
}

std::vector<RenewItem> RenewItems(const std::vector<Lease*>& leases) {
  std::vector<RenewItem> items;
  items.reserve(leases.size());
  for (const Lease* lease : leases) items.push_back(RenewItem{lease->key(), lease->token(), lease->lease().count()});
  return items;
}

Deadline RenewDeadline(const std::vector<Lease*>& leases) {
  Clock::time_point earliest = Clock::time_point::max();
  for (Lease* lease : leases) earliest = std::min(earliest, lease->valid_until());
  return Deadline::At(earliest);
}

}  // namespace internal

void LockGuardTestPeer::PauseRenewals(LockGuard& guard) {
  if (guard.lease_ != nullptr) guard.lease_->PauseRenewalsForTesting();
}

const std::string& LockGuardTestPeer::Token(const LockGuard& guard) { return guard.lease_->token(); }

int64_t LockGuardTestPeer::QueueTicket(const LockGuard& guard) { return guard.lease_->queue_ticket(); }

}  // namespace lockstep::lock
