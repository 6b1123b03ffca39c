#include "lockstep/resilience/rate_limiter.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "lockstep/base/thread_name.h"
#include "resilience/rate_limiter_scripts.h"

namespace lockstep::resilience {
namespace {

using internal::DecideScript;
using internal::HeartbeatScript;
using internal::ParseDecision;

std::string DefaultInstanceId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::random_device rd;
  char suffix[17];
  std::snprintf(suffix, sizeof(suffix), "%08x%08x", rd(), rd());
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + suffix;
}

}  // namespace

Result<std::unique_ptr<RateLimiter>> RateLimiter::Create(redis::Client& client, RateLimiterOptions options,
                                                         const Clock& clock) {
  LOCKSTEP_RETURN_IF_ERROR(ValidateRateLimiterOptions(options));
  LOCKSTEP_ASSIGN_OR_RETURN(std::unique_ptr<CircuitBreaker> breaker, CircuitBreaker::Create(options.breaker, clock));
  std::unique_ptr<RateLimiter> limiter(new RateLimiter(client, std::move(options), clock, std::move(breaker)));
  if (limiter->options_.heartbeat_interval.count() > 0) {
    limiter->heartbeat_thread_ = std::thread([l = limiter.get()] { l->HeartbeatLoop(); });
  }
  return limiter;
}

RateLimiter::RateLimiter(redis::Client& client, RateLimiterOptions options, const Clock& clock,
                         std::unique_ptr<CircuitBreaker> breaker)
    : client_(client),
      options_(std::move(options)),
      clock_(clock),
      breaker_(std::move(breaker)),
      instance_id_(options_.instance_id.empty() ? DefaultInstanceId() : options_.instance_id),
      instances_key_(options_.key_prefix + "instances"),
      rate_(options_.rate),
      burst_(options_.burst) {}

RateLimiter::~RateLimiter() {
  {
    MutexLock lock(&hb_mu_);
    stopping_ = true;
  }
  hb_cv_.SignalAll();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  // Best effort: the others stop counting this instance at once instead of after its TTL.
  if (breaker_->state() == BreakerState::kClosed) {
    (void)client_.Command({"ZREM", instances_key_, instance_id_}, Deadline::After(std::chrono::milliseconds(200)));
  }
}

std::vector<std::string> RateLimiter::ScriptArgs(int64_t n) const {
  const double rate = rate_.load(std::memory_order_relaxed);
  const auto interval_us = static_cast<int64_t>(std::ceil(1e6 / rate));
  return {std::to_string(interval_us), std::to_string(burst_.load(std::memory_order_relaxed)), std::to_string(n)};
}

Result<RateDecision> RateLimiter::Decide(std::string_view key, const Deadline& deadline, int64_t n) {
  if (key.empty()) return Status::InvalidArgument("rate limiter: empty key");
  if (n < 1 || n > burst_.load(std::memory_order_relaxed)) {
    return Status::InvalidArgument("rate limiter: n must be in [1, burst], got ", n);
  }
  if (deadline.expired()) return Status::DeadlineExceeded("rate limiter: deadline passed before the decision");
  RateDecision decision;
  if (Status allow = breaker_->Allow(); !allow.ok()) {
    decision = DecideLocally(key, n, allow);
  } else {
    Result<redis::Reply> reply =
        DecideScript().Run(client_, {options_.key_prefix + "k:" + std::string(key)}, ScriptArgs(n), deadline);
    breaker_->Record(reply.ok() ? Status::Ok() : reply.status());
    if (reply.ok()) {
      LOCKSTEP_ASSIGN_OR_RETURN(decision, ParseDecision(*reply));
      LeaveFallback();
    } else if (CircuitBreaker::IsFailure(reply.status())) {
      decision = DecideLocally(key, n, reply.status());
    } else {
      return reply.status();
    }
  }
  Report(key, decision);
  return decision;
}

Result<std::vector<RateDecision>> RateLimiter::DecideMany(const std::vector<std::string>& keys,
                                                          const Deadline& deadline) {
  for (const std::string& k : keys) {
    if (k.empty()) return Status::InvalidArgument("rate limiter: empty key");
  }
  if (deadline.expired()) return Status::DeadlineExceeded("rate limiter: deadline passed before the decision");
  std::vector<RateDecision> decisions(keys.size());
  if (keys.empty()) return decisions;
  Status allow = breaker_->Allow();
  if (!allow.ok()) {
    for (size_t i = 0; i < keys.size(); ++i) decisions[i] = DecideLocally(keys[i], 1, allow);
  } else {
    const std::vector<std::string> args = ScriptArgs(1);
    std::vector<redis::Script::Call> calls;
    calls.reserve(keys.size());
    for (const std::string& k : keys) calls.push_back({{options_.key_prefix + "k:" + k}, args});
    Result<std::vector<Result<redis::Reply>>> replies = DecideScript().RunPipelined(client_, calls, deadline);
    breaker_->Record(replies.ok() ? Status::Ok() : replies.status());
    if (!replies.ok()) {
      if (!CircuitBreaker::IsFailure(replies.status())) return replies.status();
      for (size_t i = 0; i < keys.size(); ++i) decisions[i] = DecideLocally(keys[i], 1, replies.status());
    } else {
      bool from_redis = false;
      for (size_t i = 0; i < keys.size(); ++i) {
        const Result<redis::Reply>& r = (*replies)[i];
        if (r.ok()) {
          LOCKSTEP_ASSIGN_OR_RETURN(decisions[i], ParseDecision(*r));
          from_redis = true;
        } else if (CircuitBreaker::IsFailure(r.status())) {
          decisions[i] = DecideLocally(keys[i], 1, r.status());
        } else {
          return r.status();
        }
      }
      if (from_redis) LeaveFallback();
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) Report(keys[i], decisions[i]);
  return decisions;
}

RateDecision RateLimiter::DecideLocally(std::string_view key, int64_t n, const Status& cause) {
  // exchange only when the flag is off: the steady state (already local) stays a load.
  if (!fallback_active_.load(std::memory_order_relaxed) && !fallback_active_.exchange(true)) {
    if (options_.observer.on_fallback_change) options_.observer.on_fallback_change(true, cause);
  }
  const double instances = fallback_instances();
  std::shared_ptr<TokenBucket> bucket;
  {
    MutexLock lock(&mu_);
    std::shared_ptr<TokenBucket>& slot = local_[std::string(key)];
    if (slot == nullptr) {
      slot = std::make_shared<TokenBucket>(rate_.load(std::memory_order_relaxed) / instances,
                                           std::max(1.0, static_cast<double>(burst_.load()) / instances), clock_);
    }
    bucket = slot;
  }
  RateDecision d = bucket->TryAcquire(n);
  d.local = true;
  return d;
}

void RateLimiter::LeaveFallback() {
  if (!fallback_active_.load(std::memory_order_relaxed) || !fallback_active_.exchange(false)) return;
  {
    MutexLock lock(&mu_);
    local_.clear();
  }
  if (options_.observer.on_fallback_change) options_.observer.on_fallback_change(false, Status::Ok());
}

void RateLimiter::Report(std::string_view key, const RateDecision& decision) const {
  if (options_.observer.on_decision) options_.observer.on_decision(key, decision);
}

Status RateLimiter::SetRate(double rate, int64_t burst) {
  RateLimiterOptions check = options_;
  check.rate = rate;
  check.burst = burst;
  LOCKSTEP_RETURN_IF_ERROR(ValidateRateLimiterOptions(check));
  rate_.store(rate, std::memory_order_relaxed);
  burst_.store(burst, std::memory_order_relaxed);
  const double instances = fallback_instances();
  MutexLock lock(&mu_);
  for (auto& [key, bucket] : local_) {
    bucket->SetRate(rate / instances, std::max(1.0, static_cast<double>(burst) / instances));
  }
  return Status::Ok();
}

Result<int> RateLimiter::Heartbeat(const Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(breaker_->Allow());
  Result<redis::Reply> reply = HeartbeatScript().Run(
      client_, {instances_key_}, {instance_id_, std::to_string(options_.instance_ttl.count())}, deadline);
  breaker_->Record(reply.ok() ? Status::Ok() : reply.status());
  if (!reply.ok()) return reply.status();
  LOCKSTEP_ASSIGN_OR_RETURN(int64_t count, reply->AsInteger());
  const int live = static_cast<int>(std::clamp<int64_t>(count, 1, 1'000'000));
  live_instances_.store(live, std::memory_order_relaxed);
  if (options_.observer.on_instances) options_.observer.on_instances(live);
  return live;
}

int RateLimiter::fallback_instances() const {
  return std::max(options_.min_instances, live_instances_.load(std::memory_order_relaxed));
}

void RateLimiter::HeartbeatLoop() {
  SetCurrentThreadName("rl-heartbeat");
  for (;;) {
    (void)Heartbeat(Deadline::After(options_.heartbeat_interval));
    MutexLock lock(&hb_mu_);
    const Deadline next = Deadline::After(options_.heartbeat_interval);
    while (!stopping_ && hb_cv_.WaitUntil(&hb_mu_, next)) {
    }
    if (stopping_) return;
  }
}

}  // namespace lockstep::resilience
