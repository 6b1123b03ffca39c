#include "lockstep/lock/redlock.h"

#include <algorithm>
#include <atomic>

#include "lock/lease.h"
#include "lock/node_fanout.h"
#include "lock/scripts.h"
#include "lockstep/base/backoff.h"

namespace lockstep::lock {
namespace internal {

using namespace std::chrono_literals;

// Shared by RedLock and its leases. Thread-safe (clients are; the workers are; the rest is
// immutable or atomic).
//
// Every step (grant, fence write-back, renewal, release) goes to all nodes at once through
// per-node workers and waits only until its outcome is decided by a quorum, or a per-node
// budget ends: a stalled node costs a step at most that budget and a slow node costs
// nothing once a quorum answered. The budget is small against the lease (Redlock's rule):
// lease / 10, at least 10 ms, and never past the caller's deadline or the lease's validity.
class RedLockCore final : public Backend {
 public:
  // Workers per node: concurrent calls to one node (the client pools connections).
  static constexpr int kWorkersPerNode = 4;

  RedLockCore(std::vector<redis::Client*> clients, LockServiceOptions options)
      : clients_(std::move(clients)), options_(std::move(options)), workers_(nodes(), kWorkersPerNode) {}

  int quorum() const { return static_cast<int>(clients_.size()) / 2 + 1; }
  int nodes() const { return static_cast<int>(clients_.size()); }

  enum class Outcome { kGranted, kBusy, kUnavailable };
  struct Attempt {
    Outcome outcome = Outcome::kBusy;
    int64_t fence = 0;
    Clock::time_point sent;
    std::chrono::milliseconds holder_ttl{-1};  // Smallest PTTL seen on a busy node.
    Status error;
    // kUnavailable only: some nodes were merely late (no answer within the budget), not
    // failing: a later attempt may well reach a quorum (a loaded machine, a stalled node).
    bool slow = false;
  };

  static Clock::duration NodeBudget(const ResolvedOptions& opts) {
    return std::max<Clock::duration>(opts.lease / 10, 10ms);
  }

  // One grant attempt with a token of its own (`token`, fresh per attempt: a late release
  // of an earlier attempt can never delete this one's key).
  Attempt TryOnce(const std::string& key, const std::string& token, const ResolvedOptions& opts,
                  const Deadline& deadline) {
    Attempt a;
    a.sent = Clock::Real().Now();
    const Clock::time_point valid_until = a.sent + opts.lease - opts.drift;
    const Deadline node_deadline =
        Deadline::Earliest(deadline.CappedAt(NodeBudget(opts)), Deadline::At(valid_until));
    using Grant = Result<std::pair<bool, int64_t>>;
    auto round = FanOut<Grant>(AllNodes(), node_deadline, [key, token, lease = opts.lease](redis::Client& c,
                                                                                         const Deadline& d) -> Grant {
      LOCKSTEP_ASSIGN_OR_RETURN(redis::Reply reply,
                                AcquireScript().Run(c, {key, key + ":fence"}, {token, std::to_string(lease.count())}, d));
      return ParseAcquireReply(reply);
    });
    const int n = nodes(), q = quorum();
    auto slots = round->Wait(
        AllNodes(),
        [n, q](const FanoutRound<Grant>::Slots& s) {
          int granted = 0, other = 0;
          for (const auto& r : s) {
            if (!r) continue;
            (r->ok() && (*r)->first ? granted : other)++;
          }
          return granted >= q || other > n - q;
        },
        node_deadline);
    if (!QuorumGranted(slots, q)) {
      // Failing: hear every node out (within the budget) so each grant made for this
      // attempt is known and undone below, not left to expire.
      slots = round->Wait(AllNodes(), [](const FanoutRound<Grant>::Slots&) { return false; }, node_deadline);
    }
    std::vector<int> granted;
    int64_t fence = 0;
    int errors = 0, late = 0;
    for (int i = 0; i < n; ++i) {
      if (!slots[i]) {
        ++errors;  // Not answered within the budget (or not needed: the outcome was decided).
        ++late;
        if (a.error.ok()) a.error = Status::DeadlineExceeded("node ", i, " did not answer within its budget");
      } else if (!slots[i]->ok()) {
        ++errors;
        a.error = slots[i]->status();
      } else if ((*slots[i])->first) {
        granted.push_back(i);
        fence = std::max(fence, (*slots[i])->second);
      } else if ((*slots[i])->second >= 0 &&
                 (a.holder_ttl.count() < 0 || (*slots[i])->second < a.holder_ttl.count())) {
        a.holder_ttl = std::chrono::milliseconds((*slots[i])->second);
      }
    }
    if (static_cast<int>(granted.size()) >= q && Clock::Real().Now() < valid_until) {
      // Write the chosen fence back on the granting nodes while they still hold our token,
      // so every later quorum (which intersects ours) counts past it. Only then grant.
      const Deadline raise_deadline =
          Deadline::Earliest(deadline.CappedAt(NodeBudget(opts)), Deadline::At(valid_until));
      auto raise = FanOut<Result<redis::Reply>>(granted, raise_deadline, [key, token, fence](redis::Client& c,
                                                                                           const Deadline& d) {
        return RaiseFenceScript().Run(c, {key, key + ":fence"}, {token, std::to_string(fence)}, d);
      });
      auto raised = raise->Wait(
          granted, [q](const FanoutRound<Result<redis::Reply>>::Slots& s) { return CountOnes(s) >= q; },
          raise_deadline);
      if (CountOnes(raised) >= q && Clock::Real().Now() < valid_until) {
        a.outcome = Outcome::kGranted;
        a.fence = fence;
        return a;
      }
    }
    // Not granted: undo everywhere (also where the reply was lost or is still on its way).
    // Awaited only on the nodes that granted (they answered in time), within one node
    // budget, so the next attempt or contender finds them free; a late delete elsewhere is
    // harmless (this attempt's token is never used again) and what stays expires after one
    // lease.
    const Deadline undo_deadline = deadline.CappedAt(NodeBudget(opts));
    ReleaseEverywhere(key, token, Deadline::After(options_.release_timeout))
        ->Wait(granted, [](const FanoutRound<Result<redis::Reply>>::Slots&) { return false; }, undo_deadline);
    if (errors > n - q) {
      a.outcome = Outcome::kUnavailable;
      a.slow = late > 0;
      a.error = Status::Unavailable("redlock: only ", n - errors, " of ", n, " nodes answered in time, quorum is ",
                                    q, "; last error: ", a.error.ToString());
    }
    return a;
  }

  std::vector<RenewOutcome> RenewBatch(const std::vector<Lease*>& leases) override {
    const std::vector<RenewItem> items = RenewItems(leases);
    const Deadline deadline = RenewDeadline(leases);
    using NodeResults = Result<std::vector<Result<int64_t>>>;
    auto round = FanOut<NodeResults>(AllNodes(), deadline, [items](redis::Client& c, const Deadline& d) {
      return NodeResults(RenewOnNode(c, items, d));
    });
    const int n = nodes(), q = quorum();
    const size_t count = leases.size();
    auto tally = [count](const FanoutRound<NodeResults>::Slots& s, std::vector<int>& ok, std::vector<int>& refused) {
      ok.assign(count, 0);
      refused.assign(count, 0);
      for (const auto& node : s) {
        if (!node || !node->ok()) continue;
        for (size_t i = 0; i < count; ++i) {
          const Result<int64_t>& r = (**node)[i];
          if (r.ok()) (*r == 1 ? ok : refused)[i]++;
        }
      }
    };
    auto slots = round->Wait(
        AllNodes(),
        [&](const FanoutRound<NodeResults>::Slots& s) {
          std::vector<int> ok, refused;
          tally(s, ok, refused);
          for (size_t i = 0; i < count; ++i) {
            if (ok[i] < q && refused[i] <= n - q) return false;
          }
          return true;
        },
        deadline);
    std::vector<int> ok, refused;
    tally(slots, ok, refused);
    Status last_error = Status::DeadlineExceeded("no quorum answered before the lease's validity ended");
    for (const auto& node : slots) {
      if (!node) continue;
      if (!node->ok()) {
        last_error = node->status();
        continue;
      }
      for (const auto& r : **node) {
        if (!r.ok()) last_error = r.status();
      }
    }
    std::vector<RenewOutcome> out;
    for (size_t i = 0; i < count; ++i) {
      if (ok[i] >= q) {
        out.push_back({RenewResult::kRenewed, Status()});
      } else if (refused[i] > n - q) {
        out.push_back({RenewResult::kRefused,
                       Status::FailedPrecondition("redlock: quorum no longer holds the key").WithReason("lock_lost")});
      } else {
        out.push_back({RenewResult::kFailed, Status::Unavailable("redlock: renewal reached ", ok[i], " of ", n,
                                                                 " nodes: ", last_error.ToString())});
      }
    }
    return out;
  }

  // The quorum outcome of a release (see LockGuard::Release); sent to every node, awaited
  // until decided or release_timeout.
  Status ReleaseLease(const Lease& lease) override {
    const Deadline deadline = Deadline::After(options_.release_timeout);
    auto round = ReleaseEverywhere(lease.key(), lease.token(), deadline);
    const int n = nodes(), q = quorum();
    auto slots = round->Wait(
        AllNodes(),
        [n, q](const FanoutRound<Result<redis::Reply>>::Slots& s) {
          const int deleted = CountOnes(s);
          return deleted >= q || CountAnswered(s) - deleted > n - q;
        },
        deadline);
    const int deleted = CountOnes(slots);
    const int not_ours = CountAnswered(slots) - deleted;
    if (deleted >= q) return Status::Ok();
    if (not_ours > n - q) {
      return Status::FailedPrecondition("redlock: '", lease.name(), "' was lost before its release (fence ",
                                        lease.fence(), "): only ", deleted, " of ", n, " nodes still held it")
          .WithReason("lock_lost");
    }
    return Status::Unavailable("redlock: release of '", lease.name(), "' confirmed by ", deleted, " of ", n,
                               " nodes (quorum ", q, "); the rest expire after the lease");
  }

  const LockObserver& observer() const override { return options_.observer; }
  void CountLost() override { counters_.lost.fetch_add(1, std::memory_order_relaxed); }
  void CountRenewed(int batches, int renewals) override {
    counters_.renew_batches.fetch_add(batches, std::memory_order_relaxed);
    counters_.renewals.fetch_add(renewals, std::memory_order_relaxed);
  }
  const LockServiceOptions& options() const { return options_; }

  LockCounters counters_;

 private:
  std::vector<int> AllNodes() const {
    std::vector<int> all(clients_.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
    return all;
  }
  // Posts call(client i, deadline) for every i in `to`; the round fills as replies arrive.
  template <typename T, typename Call>
  std::shared_ptr<FanoutRound<T>> FanOut(const std::vector<int>& to, const Deadline& deadline, Call call) {
    auto round = std::make_shared<FanoutRound<T>>(clients_.size());
    for (int i : to) {
      redis::Client* client = clients_[i];
      workers_.Post(i, deadline, [round, client, i, deadline, call](bool expired) {
        if (expired) {
          round->Set(i, T(Status::DeadlineExceeded("redlock: node ", i, " budget ended before the call was sent")));
          return;
        }
        round->Set(i, call(*client, deadline));
      });
    }
    return round;
  }
  std::shared_ptr<FanoutRound<Result<redis::Reply>>> ReleaseEverywhere(const std::string& key, const std::string& token,
                                                                       const Deadline& deadline) {
    return FanOut<Result<redis::Reply>>(AllNodes(), deadline, [key, token](redis::Client& c, const Deadline& d) {
      return ReleaseScript().Run(c, {key}, {token}, d);
    });
  }
  static bool QuorumGranted(const FanoutRound<Result<std::pair<bool, int64_t>>>::Slots& s, int q) {
    int granted = 0;
    for (const auto& r : s) granted += (r && r->ok() && (*r)->first) ? 1 : 0;
    return granted >= q;
  }
  // Replies that are the integer 1 (granted write-back, deleted).
  static int CountOnes(const FanoutRound<Result<redis::Reply>>::Slots& s) {
    int ones = 0;
    for (const auto& r : s) ones += (r && r->ok() && (*r)->is_integer() && (*r)->integer() == 1) ? 1 : 0;
    return ones;
  }
  // Nodes that answered (any reply, not an error).
  static int CountAnswered(const FanoutRound<Result<redis::Reply>>::Slots& s) {
    int answered = 0;
    for (const auto& r : s) answered += (r && r->ok()) ? 1 : 0;
    return answered;
  }

  const std::vector<redis::Client*> clients_;
  const LockServiceOptions options_;
  NodeWorkers workers_;  // Last: joined first, before the clients' users above go.
};

}  // namespace internal

Result<std::unique_ptr<RedLock>> RedLock::Create(std::vector<redis::Client*> clients, LockServiceOptions options) {
  if (clients.empty()) return Status::InvalidArgument("redlock: no clients");
  if (options.release_timeout <= std::chrono::milliseconds(0)) {
    return Status::InvalidArgument("redlock: release_timeout must be > 0");
  }
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
  if (options.fair) {
    return Status::InvalidArgument("redlock: fair mode is not supported (no shared waiter queue across masters)");
  }
  LOCKSTEP_ASSIGN_OR_RETURN(const internal::AcquireStart begin,
                            internal::AcquireStart::Begin("redlock", core_->options().key_prefix, name, options));
  const internal::ResolvedOptions& resolved = begin.resolved;
  const std::string& key = begin.key;
  const std::string& token = begin.token;
  const LockObserver& observer = core_->options().observer;
  auto granted = [&](std::shared_ptr<internal::Lease> lease) {
    return begin.Granted(std::move(lease), name, core_->counters_, observer);
  };
  if (std::shared_ptr<internal::Lease> lease = internal::FindReentrant(options, key)) return granted(std::move(lease));

  // Retries are spread with full jitter (contenders de-synchronise) and capped at
  // poll_interval; no pub/sub across independent masters.
  Backoff backoff(BackoffOptions{std::chrono::milliseconds(10), std::max<std::chrono::microseconds>(options.poll_interval, std::chrono::milliseconds(10)), 2.0});
  bool reported_wait = false;
  int attempt = 0;
  for (;;) {
    // A token of its own per attempt (see TryOnce).
    const std::string attempt_token = token + "." + std::to_string(++attempt);
    internal::RedLockCore::Attempt a = core_->TryOnce(key, attempt_token, resolved, deadline);
    if (a.outcome == internal::RedLockCore::Outcome::kGranted) {
      return begin.Grant(core_, *renewer_, name, attempt_token, a.fence, a.sent, options, 0, core_->counters_,
                         observer);
    }
    // Too few nodes answered: fail fast when they failed (down, refused) or the caller does
    // not wait; when some were only late, retry with backoff until the deadline.
    const bool unavailable = a.outcome == internal::RedLockCore::Outcome::kUnavailable;
    if (unavailable && (!a.slow || options.wait == WaitPolicy::kNoWait || deadline.expired())) return a.error;
    if (options.wait == WaitPolicy::kNoWait) {
      return Status::Aborted("lock '", name, "' is held by another owner").WithReason("lock_busy");
    }
    if (deadline.expired()) {
      return Status::DeadlineExceeded("lock '", name, "' still held at the deadline").WithReason("lock_busy");
    }
    if (!reported_wait) {
      reported_wait = true;
      if (observer.on_wait) observer.on_wait(name);
    }
    Clock::duration pause = backoff.NextDelay();
    if (a.holder_ttl.count() >= 0) pause = std::min<Clock::duration>(pause, a.holder_ttl + std::chrono::milliseconds(1));
    pause = std::max<Clock::duration>(pause, std::chrono::milliseconds(1));
    core_->counters_.polls.fetch_add(1, std::memory_order_relaxed);
    Clock::Real().SleepFor(std::min(pause, deadline.remaining()));
    if (deadline.expired()) {
      if (unavailable) return a.error;
      return Status::DeadlineExceeded("lock '", name, "' still held at the deadline").WithReason("lock_busy");
    }
  }
}

LockServiceStats RedLock::stats() const { return core_->counters_.Snapshot(); }

}  // namespace lockstep::lock
