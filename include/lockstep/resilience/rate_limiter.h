#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/redis/client.h"
#include "lockstep/resilience/circuit_breaker.h"
#include "lockstep/resilience/rate_decision.h"
#include "lockstep/resilience/rate_limiter_options.h"
#include "lockstep/resilience/token_bucket.h"

namespace lockstep::resilience {

// A rate limit shared by every instance that uses the same Redis (DESIGN.md `resilience`):
// at most `rate` tokens per second per key with bursts of `burst`, summed over instances.
//
// Precise mode. Each decision is ONE Lua script on ONE key ("<prefix>k:<key>"): GCRA on
// the key's theoretical arrival time, with `now` from Redis TIME inside the script. No
// caller time is ever sent (the C++ side passes only the interval, the burst and n), so
// a skewed client clock cannot over-admit and a script that runs late decides with the
// time it runs at. (Redis >= 5 replicates scripts by their effects, so TIME before a
// write is allowed; Redis 7.0 here.) Bound: for any window of t seconds, the tokens
// admitted on a key are <= rate*t + burst; callers offering more get >= rate*t (+ burst
// from a full bucket), as precise as Redis TIME. The key expires once its bucket is full.
//
// Fallback. When a call to Redis fails (kUnavailable, kDeadlineExceeded, ...) or the
// CircuitBreaker around Redis is open (then Redis is not even tried), the decision is
// taken by a local TokenBucket per key with rate/N and burst max(1, burst/N), N =
// max(min_instances, the live instances this instance counted at its last successful
// heartbeat) — every instance registers in a ZSET (member -> expiry by Redis TIME) and
// counts the live members. Bound while Redis is unreachable, per key and window of t
// seconds: instance i admits <= rate*t/N_i + max(1, burst/N_i); so if the M live instances
// agreed on N = M (the usual case: heartbeats every second, none started since),
//     total <= rate*t + max(burst, M).
// An instance started during the outage (never saw Redis) uses N = min_instances; with k
// such instances and min_instances = 1 the bound grows by k*(rate*t + burst) — set
// min_instances to the fleet size to keep it. A window that spans a switch between modes
// may see one extra burst (the local bucket starts full). Decisions whose script call timed
// out are decided again locally (the script may have run: that only under-admits).
// When Redis answers again (a half-open probe succeeds) decisions return to Redis and the
// local buckets are dropped.
//
// Thread-safe. The Client and Clock must outlive the limiter; the Clock times only the
// breaker and the local buckets (never a Redis decision).
class RateLimiter {
 public:
  // Validates `options` (kInvalidArgument). Starts the heartbeat thread (unless
  // heartbeat_interval is 0); does not touch Redis here. Thread-safe.
  static Result<std::unique_ptr<RateLimiter>> Create(redis::Client& client, RateLimiterOptions options,
                                                     const Clock& clock = Clock::Real());
  // Stops the heartbeat thread and removes this instance from the heartbeat set (best
  // effort, 200ms). REQUIRES: no call in flight.
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes `n` tokens of `key` (e.g. a group, or group + client) if available. Returns the
  // decision (decision.local: taken by the fallback). Errors: kInvalidArgument (n < 1 or
  // n > burst, empty key), kDeadlineExceeded when `deadline` had passed on entry, and
  // Redis errors that are not a dependency failure (see CircuitBreaker::IsFailure; e.g.
  // OOM); a dependency failure is never returned, it falls back. Blocks at most until
  // `deadline` (one round trip). Thread-safe.
  Result<RateDecision> Decide(std::string_view key, const Deadline& deadline, int64_t n = 1);

  // One token of each key, all in ONE pipelined round trip (each decision still its own
  // script: exact as Decide). decisions[i] answers keys[i]; a key may repeat (decided in
  // order). Errors and fallback as Decide (a failed round trip decides every key
  // locally). Thread-safe.
  // Why a pipeline and not local leasing of token batches: leased tokens that an instance
  // has not used yet are admissions nobody else can make (under-admission at low rates) or,
  // if leases outlive their window, admissions beyond rate*t + burst, and remaining /
  // retry_after become per-instance guesses; a pipeline keeps every decision exact and
  // still amortises the round trip (a caller such as shopd's I/O loop collects the
  // decisions of concurrent requests). BENCHMARKS.md has the figures.
  Result<std::vector<RateDecision>> DecideMany(const std::vector<std::string>& keys, const Deadline& deadline);

  // New rate and burst (config reload): the next decisions use them, in Redis (a key's
  // arrival time carries over, capped at an empty bucket of the new rate and burst — the
  // script caps it on every decision, a no-op while the settings stay — so a loosened
  // limit applies at once instead of paying off the old one's debt) and in the local
  // buckets. kInvalidArgument as Create.
  // Thread-safe.
  Status SetRate(double rate, int64_t burst);

  // Registers this instance in the heartbeat set for instance_ttl and returns the number
  // of live instances (also remembered as N for the fallback). Goes through the breaker
  // (kUnavailable "circuit_open" while open). The heartbeat thread calls it; with
  // heartbeat_interval 0 the owner does. Thread-safe.
  Result<int> Heartbeat(const Deadline& deadline);

  // N as the fallback uses it now: max(min_instances, last counted). Thread-safe.
  int fallback_instances() const;
  // Whether the last decision was local. Thread-safe.
  bool fallback_active() const { return fallback_active_.load(std::memory_order_relaxed); }
  const std::string& instance_id() const { return instance_id_; }
  CircuitBreakerStats breaker_stats() const { return breaker_->stats(); }

 private:
  RateLimiter(redis::Client& client, RateLimiterOptions options, const Clock& clock,
              std::unique_ptr<CircuitBreaker> breaker);
  RateDecision DecideLocally(std::string_view key, int64_t n, const Status& cause) LOCKSTEP_EXCLUDES(mu_);
  void LeaveFallback() LOCKSTEP_EXCLUDES(mu_);
  void Report(std::string_view key, const RateDecision& decision) const;
  std::vector<std::string> ScriptArgs(int64_t n) const;
  void HeartbeatLoop() LOCKSTEP_EXCLUDES(hb_mu_);

  redis::Client& client_;
  const RateLimiterOptions options_;
  const Clock& clock_;
  const std::unique_ptr<CircuitBreaker> breaker_;
  const std::string instance_id_;
  const std::string instances_key_;

  // Relaxed atomics: independent values (a decision racing SetRate may see old and new
  // ones mixed for that one decision, as TokenBucket documents).
  std::atomic<double> rate_;
  std::atomic<int64_t> burst_;
  std::atomic<int> live_instances_{1};        // Last heartbeat's count.
  std::atomic<bool> fallback_active_{false};  // Only for reporting switches.

  // Local buckets of the fallback, per key; shared_ptr so a decision keeps its bucket
  // while LeaveFallback clears the map.
  mutable Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<TokenBucket>> local_ LOCKSTEP_GUARDED_BY(mu_);

  Mutex hb_mu_;
  CondVar hb_cv_;
  bool stopping_ LOCKSTEP_GUARDED_BY(hb_mu_) = false;
  std::thread heartbeat_thread_;
};

}  // namespace lockstep::resilience
