#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/registry.h>

#include "config/rate_limit_spec.h"
#include "http/request_gate.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/batch/coalescer.h"
#include "lockstep/redis/client.h"
#include "lockstep/resilience/rate_limiter.h"

namespace shopd::api {

struct RateLimitGateOptions {
  // Prefix of the limiters' Redis keys ("<redis_key_prefix>rl:"): instances that share it
  // share their limits. Non-empty.
  std::string key_prefix;
  // RateLimiterOptions::min_instances of every limit (the fallback's smallest N). >= 1.
  int min_instances = 1;
  // Longest wait for one decision (capped by the request's deadline): past it the
  // RateLimiter decides locally (rate_limiter.h). > 0. Default 100 ms.
  std::chrono::milliseconds decision_budget{100};
  // How often each limit's heartbeat counts the live instances. > 0. Default 1 s.
  std::chrono::milliseconds heartbeat_interval{1'000};
};

// shopd's rate limits (API.md "Rate limits and overload"), asked by the server before a
// request's body is read (http::RequestGate).
//
// One lockstep::resilience::RateLimiter per configured limit: `GROUP=RATE[:BURST]` of
// --rate-limit decides on one key per group, summed over every instance sharing the
// Redis; --client-rate-limit on one key per group and X-Client-Id (absent: "anonymous").
// A request of group G is checked against G's and `all`'s limits of both kinds (at most
// four decisions, run concurrently); it passes if every one admits it. A request refused
// by one limit may have taken a token of another (the decisions are independent scripts):
// under a refusal the other limits admit slightly less, never more.
// Decisions of concurrent requests on one limit go to Redis together (a Coalescer batch =
// one pipelined RateLimiter::DecideMany), off the I/O thread.
//
// Answers: 400 invalid_argument for an X-Client-Id that is not 1..64 printable ASCII
// characters; 429 rate_limited with Retry-After (whole seconds >= 1), RateLimit-Limit (the
// limit's rate per second, rounded up), RateLimit-Remaining and RateLimit-Reset (whole
// seconds until the bucket is full) of the refusing limit (the one with the longest
// Retry-After); 503 unavailable when a decision could not be taken at all (the decision
// queue is full or its deadline passed: overload). Redis being unreachable is not an error:
// the limiter decides locally with the documented bound (rate_limiter.h).
//
// Metrics (in the registry given to Create): shopd_rate_limit_decisions_total{group,
// scope="group"|"client", result="admitted"|"limited"}, shopd_rate_limit_local_decisions_total
// {group,scope} (taken by the fallback), shopd_rate_limit_fallback_active{group,scope},
// shopd_rate_limit_rate{group,scope} (the configured rate; 0 once removed),
// shopd_rate_limit_instances{group,scope} (live instances counted at the last heartbeat: the
// N of the fallback's rate/N),
// shopd_rate_limit_errors_total (decisions answered 503).
//
// Thread-safe.
class RateLimitGate final : public http::RequestGate {
 public:
  // No limits yet (Apply sets them): every request passes, X-Client-Id is still checked.
  // kInvalidArgument for bad options. `client` and `registry` must outlive the gate.
  static lockstep::Result<std::unique_ptr<RateLimitGate>> Create(lockstep::redis::Client& client,
                                                                  RateLimitGateOptions options,
                                                                  prometheus::Registry& registry);
  // Requests still deciding are answered 503 (cancelled). REQUIRES: the server that asks
  // this gate stopped calling Check.
  ~RateLimitGate() override;

  // Replaces the limits (startup, SIGHUP reload): a limit whose group and kind stay keeps
  // its state in Redis and only changes rate and burst; removed ones stop; new ones start.
  // All or nothing: on error (kInvalidArgument) the old limits stay. Thread-safe
  // (concurrent Apply calls are serialized; requests deciding meanwhile use either set).
  lockstep::Status Apply(const std::vector<config::RateLimitSpec>& group_limits,
                         const std::vector<config::RateLimitSpec>& client_limits) LOCKSTEP_EXCLUDES(apply_mu_, mu_);

  // http::RequestGate. Never blocks. Thread-safe.
  void Check(const http::GateRequest& request, http::Responder verdict) override LOCKSTEP_EXCLUDES(mu_);

  // "orders=100:10 client:all=5:1" (for the log). Thread-safe.
  std::string Describe() const LOCKSTEP_EXCLUDES(mu_);

  enum class Scope { kGroup, kClient };

 private:
  struct Limit;
  struct Table;
  struct Join;
  struct Item {
    std::shared_ptr<lockstep::resilience::RateLimiter> limiter;
    std::string key;
  };
  using Batcher = lockstep::batch::Coalescer<lockstep::resilience::RateLimiter*, Item,
                                             lockstep::resilience::RateDecision>;

  RateLimitGate(lockstep::redis::Client& client, RateLimitGateOptions options, prometheus::Registry& registry);
  std::shared_ptr<const Table> Current() const LOCKSTEP_EXCLUDES(mu_);
  lockstep::Result<std::shared_ptr<const Limit>> MakeLimit(Scope scope, const config::RateLimitSpec& spec,
                                                           const std::shared_ptr<const Limit>& previous);

  lockstep::redis::Client& client_;
  const RateLimitGateOptions options_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& local_decisions_;
  prometheus::Family<prometheus::Gauge>& fallback_active_;
  prometheus::Family<prometheus::Gauge>& rate_;
  prometheus::Family<prometheus::Gauge>& instances_;
  prometheus::Counter& errors_;

  lockstep::Mutex apply_mu_;  // Serializes Apply; taken before mu_.
  mutable lockstep::Mutex mu_;
  std::shared_ptr<const Table> table_ LOCKSTEP_GUARDED_BY(mu_);
  std::unique_ptr<Batcher> batcher_;  // Last: destroyed first, while the limiters live.
};

}  // namespace shopd::api
