#include "lockstep/lock/redlock.h"

#include <algorithm>
#include <atomic>

#include "lock/lease.h"
#include "lock/scripts.h"
#include "lockstep/base/backoff.h"

namespace lockstep::lock {
namespace internal {

using namespace std::chrono_literals;

// Shared by RedLock and its leases. Thread-safe (clients are; the rest is immutable or
// atomic).
class RedLockCore final : public Backend {
 public:
  RedLockCore(std::vector<redis::Client*> clients, LockServiceOptions options)
      : clients_(std::move(clients)), options_(std::move(options)) {}

  int quorum() const { return static_cast<int>(clients_.size()) / 2 + 1; }
  int nodes() const { return static_cast<int>(clients_.size()); }

  enum class Outcome { kGranted, kBusy, kUnavailable };
  struct Attempt {
    Outcome outcome = Outcome::kBusy;
    int64_t fence = 0;
    Clock::time_point sent;
    std::chrono::milliseconds holder_ttl{-1};  // Smallest PTTL seen on a busy node.
    Status error;
  };

  Attempt TryOnce(const std::string& key, const std::string& token, const ResolvedOptions& opts,
                  const Deadline& deadline) {
    Attempt a;
    a.sent = Clock::Real().Now();
    // A dead node must not eat the lease: cap each node's round trip.
    const Deadline node_deadline = deadline.CappedAt(std::max<Clock::duration>(opts.lease / 5, 100ms));
    std::vector<int> granted;
    int64_t fence = 0;
    int errors = 0;
    for (int i = 0; i < nodes(); ++i) {
      Result<redis::Reply> reply = AcquireScript().Run(*clients_[i], {key, key + ":fence"},
                                                       {token, std::to_string(opts.lease.count())}, node_deadline);
      Result<std::pair<bool, int64_t>> parsed =
          reply.ok() ? ParseAcquireReply(*reply) : Result<std::pair<bool, int64_t>>(reply.status());
      if (!parsed.ok()) {
        ++errors;
        a.error = parsed.status();
      } else if (parsed->first) {
        granted.push_back(i);
        fence = std::max(fence, parsed->second);
      } else if (parsed->second >= 0 &&
                 (a.holder_ttl.count() < 0 || parsed->second < a.holder_ttl.count())) {
        a.holder_ttl = std::chrono::milliseconds(parsed->second);
      }
    }
    const Clock::time_point valid_until = a.sent + opts.lease - opts.drift;
    if (static_cast<int>(granted.size()) >= quorum() && Clock::Real().Now() < valid_until) {
      // Write the chosen fence back on the granting nodes while they still hold our token,
      // so every later quorum (which intersects ours) counts past it. Only then grant.
      int raised = 0;
      for (int i : granted) {
        Result<redis::Reply> r = RaiseFenceScript().Run(*clients_[i], {key, key + ":fence"},
                                                        {token, std::to_string(fence)}, node_deadline);
        if (r.ok() && r->is_integer() && r->integer() == 1) ++raised;
      }
      if (raised >= quorum() && Clock::Real().Now() < valid_until) {
        a.outcome = Outcome::kGranted;
        a.fence = fence;
        return a;
      }
    }
    // Not granted: undo everywhere (also where the reply was lost).
    (void)ReleaseAll(key, token);  // Best effort: what stays expires after one lease.
    if (errors > nodes() - quorum()) {
      a.outcome = Outcome::kUnavailable;
      a.error = Status::Unavailable("redlock: only ", nodes() - errors, " of ", nodes(),
                                    " nodes reachable, quorum is ", quorum(), "; last error: ", a.error.ToString());
    }
    return a;
  }

  Status ReleaseAll(const std::string& key, const std::string& token) {
    Status result;
    for (redis::Client* client : clients_) {
      Status s = ReleaseScript().Run(*client, {key}, {token, ""}, Deadline::Infinite()).status();
      if (!s.ok()) result = std::move(s);
    }
    return result;
  }

  std::vector<RenewOutcome> RenewBatch(const std::vector<Lease*>& leases) override {
    std::vector<int> ok(leases.size(), 0), refused(leases.size(), 0);
    Status last_error;
    for (redis::Client* client : clients_) {
      std::vector<Result<int64_t>> results = RenewOnNode(*client, leases);
      for (size_t i = 0; i < leases.size(); ++i) {
        if (!results[i].ok()) {
          last_error = results[i].status();
        } else if (*results[i] == 1) {
          ++ok[i];
        } else {
          ++refused[i];
        }
      }
    }
    std::vector<RenewOutcome> out;
    for (size_t i = 0; i < leases.size(); ++i) {
      if (ok[i] >= quorum()) {
        out.push_back({RenewResult::kRenewed, Status()});
      } else if (refused[i] > nodes() - quorum()) {
        out.push_back({RenewResult::kRefused,
                       Status::FailedPrecondition("redlock: quorum no longer holds the key").WithReason("lock_lost")});
      } else {
        out.push_back({RenewResult::kFailed, Status::Unavailable("redlock: renewal reached ", ok[i], " of ",
                                                                 nodes(), " nodes: ", last_error.ToString())});
      }
    }
    return out;
  }

  Status ReleaseLease(const Lease& lease) override { return ReleaseAll(lease.key(), lease.token()); }
  const LockMetrics& metrics() const override { return options_.metrics; }
  void CountLost() override { lost_.fetch_add(1, std::memory_order_relaxed); }
  void CountRenewed(int batches, int renewals) override {
    renew_batches_.fetch_add(batches, std::memory_order_relaxed);
    renewals_.fetch_add(renewals, std::memory_order_relaxed);
  }
  const LockServiceOptions& options() const { return options_; }

  // Atomics: independent statistics counters; no ordering with other state needed.
  std::atomic<uint64_t> acquired_{0}, polls_{0}, renewals_{0}, renew_batches_{0}, lost_{0};

 private:
  const std::vector<redis::Client*> clients_;
  const LockServiceOptions options_;
};

}  // namespace internal

Result<std::unique_ptr<RedLock>> RedLock::Create(std::vector<redis::Client*> clients, LockServiceOptions options) {
  if (clients.empty()) return Status::InvalidArgument("redlock: no clients");
  for (const redis::Client* c : clients) {
    if (c == nullptr) return Status::InvalidArgument("redlock: null client");
  }
  auto core = std::make_shared<internal::RedLockCore>(std::move(clients), std::move(options));
  auto renewer = std::make_unique<internal::Renewer>(core.get());
  return std::unique_ptr<RedLock>(new RedLock(std::move(core), std::move(renewer)));
}

RedLock::RedLock(std::shared_ptr<internal::RedLockCore> core, std::unique_ptr<internal::Renewer> renewer)
    : core_(std::move(core)), renewer_(std::move(renewer)) {}

RedLock::~RedLock() { renewer_.reset(); }

int RedLock::quorum() const { return core_->quorum(); }

Result<LockGuard> RedLock::TryAcquire(std::string_view name, const LockOptions& options, const Deadline& deadline) {
  LockOptions o = options;
  o.wait = WaitPolicy::kNoWait;
  return Acquire(name, o, deadline);
}

Result<LockGuard> RedLock::Acquire(std::string_view name, const LockOptions& options, const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(const internal::AcquireStart begin,
                            internal::AcquireStart::Begin("redlock", core_->options().key_prefix, name, options));
  const internal::ResolvedOptions& resolved = begin.resolved;
  const std::string& key = begin.key;
  const std::string& token = begin.token;
  const LockMetrics& metrics = core_->options().metrics;
  auto granted = [&](std::shared_ptr<internal::Lease> lease) {
    return begin.Granted(std::move(lease), name, core_->acquired_, metrics);
  };
  if (std::shared_ptr<internal::Lease> lease = internal::FindReentrant(options, key)) return granted(std::move(lease));

  // Retries are spread with full jitter (contenders de-synchronise) and capped at
  // poll_interval; no pub/sub across independent masters.
  Backoff backoff(BackoffOptions{std::chrono::milliseconds(10), std::max<std::chrono::microseconds>(options.poll_interval, std::chrono::milliseconds(10)), 2.0});
  bool reported_wait = false;
  for (;;) {
    internal::RedLockCore::Attempt a = core_->TryOnce(key, token, resolved, deadline);
    if (a.outcome == internal::RedLockCore::Outcome::kGranted) {
      auto lease = std::make_shared<internal::Lease>(core_, std::string(name), key, token, a.fence, resolved, a.sent,
                                                     options.on_lost, options.reentrant ? options.owner : nullptr);
      lease->RegisterWithOwner(lease);
      if (options.auto_renew) renewer_->Add(lease);
      return granted(std::move(lease));
    }
    if (a.outcome == internal::RedLockCore::Outcome::kUnavailable) return a.error;
    if (options.wait == WaitPolicy::kNoWait) {
      return Status::Aborted("lock '", name, "' is held by another owner").WithReason("lock_busy");
    }
    if (deadline.expired()) {
      return Status::DeadlineExceeded("lock '", name, "' still held at the deadline").WithReason("lock_busy");
    }
    if (!reported_wait) {
      reported_wait = true;
      if (metrics.on_wait) metrics.on_wait(name);
    }
    Clock::duration pause = backoff.NextDelay();
    if (a.holder_ttl.count() >= 0) pause = std::min<Clock::duration>(pause, a.holder_ttl + std::chrono::milliseconds(1));
    pause = std::max<Clock::duration>(pause, std::chrono::milliseconds(1));
    core_->polls_.fetch_add(1, std::memory_order_relaxed);
    Clock::Real().SleepFor(std::min(pause, deadline.remaining()));
    if (deadline.expired()) {
      return Status::DeadlineExceeded("lock '", name, "' still held at the deadline").WithReason("lock_busy");
    }
  }
}

LockServiceStats RedLock::stats() const {
  LockServiceStats s;
  s.acquired = core_->acquired_.load(std::memory_order_relaxed);
  s.polls = core_->polls_.load(std::memory_order_relaxed);
  s.renewals = core_->renewals_.load(std::memory_order_relaxed);
  s.renew_batches = core_->renew_batches_.load(std::memory_order_relaxed);
  s.lost = core_->lost_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace lockstep::lock
