#include "api/rate_limit_gate.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

namespace shopd::api {
namespace {

using lockstep::Deadline;
using lockstep::Result;
using lockstep::Status;
using lockstep::resilience::RateDecision;
using lockstep::resilience::RateLimiter;

constexpr std::string_view kClientHeader = "X-Client-Id";
constexpr std::string_view kAnonymous = "anonymous";
constexpr size_t kMaxClientIdLength = 64;
// Retry-After for a request that can never be admitted (n > burst; not reachable with one
// token per request, kept finite for the header).
constexpr int64_t kMaxRetryAfterSeconds = 3600;

std::string_view ScopeName(RateLimitGate::Scope scope) {
  return scope == RateLimitGate::Scope::kGroup ? "group" : "client";
}

bool ValidClientId(std::string_view id) {
  if (id.empty() || id.size() > kMaxClientIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// Whole seconds, rounded up.
int64_t CeilSeconds(std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) return 0;
  if (d >= std::chrono::seconds(kMaxRetryAfterSeconds)) return kMaxRetryAfterSeconds;
  return (d.count() + 999'999'999) / 1'000'000'000;
}

}  // namespace

struct RateLimitGate::Limit {
  Scope scope;
  config::RateLimitSpec spec;
  std::shared_ptr<RateLimiter> limiter;
  prometheus::Counter* admitted;
  prometheus::Counter* limited;
  prometheus::Counter* local;
  prometheus::Gauge* rate;
};

struct RateLimitGate::Table {
  std::map<std::pair<Scope, std::string>, std::shared_ptr<const Limit>> limits;

  const Limit* Find(Scope scope, std::string_view group) const {
    auto it = limits.find({scope, std::string(group)});
    return it == limits.end() ? nullptr : it->second.get();
  }
};

// The decisions of one request: the last one to finish answers it.
struct RateLimitGate::Join {
  Join(int decisions, http::Responder answer, std::string client_id, prometheus::Counter& error_counter)
      : left(decisions), verdict(std::move(answer)), client(std::move(client_id)), errors(error_counter) {}

  void Done(std::shared_ptr<const Limit> limit, const Result<RateDecision>& result) LOCKSTEP_EXCLUDES(mu) {
    {
      lockstep::MutexLock lock(&mu);
      if (!result.ok()) {
        if (error.ok()) error = result.status();
      } else {
        (result->allowed ? limit->admitted : limit->limited)->Increment();
        if (result->local) limit->local->Increment();
        if (!result->allowed && (!worst || result->retry_after > worst->retry_after)) {
          worst = *result;
          worst_limit = std::move(limit);
        }
      }
    }
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) Answer();
  }

  void Answer() LOCKSTEP_EXCLUDES(mu) {
    lockstep::MutexLock lock(&mu);
    if (worst) {
      const config::RateLimitSpec& spec = worst_limit->spec;
      const bool per_client = worst_limit->scope == Scope::kClient;
      http::Response refused = http::Response::Error(Status::ResourceExhausted(
          "rate limit of group '", spec.group, "'", per_client ? " for client '" + client + "'" : std::string(),
          " exceeded (", spec.ToString(), ")"));
      refused.headers.Set("Retry-After", std::to_string(std::max<int64_t>(1, CeilSeconds(worst->retry_after))));
      refused.headers.Set("RateLimit-Limit", std::to_string(static_cast<int64_t>(std::ceil(spec.rate))));
      refused.headers.Set("RateLimit-Remaining", std::to_string(std::max<int64_t>(0, worst->remaining)));
      refused.headers.Set("RateLimit-Reset", std::to_string(CeilSeconds(worst->reset)));
      verdict(std::move(refused));
    } else if (!error.ok()) {
      errors.Increment();
      verdict(http::Response::Error(Status::Unavailable("rate limit decision failed: ", error.message())));
    } else {
      verdict(http::GatePass());
    }
  }

  std::atomic<int> left;
  const http::Responder verdict;
  const std::string client;
  prometheus::Counter& errors;
  lockstep::Mutex mu;
  std::optional<RateDecision> worst LOCKSTEP_GUARDED_BY(mu);
  std::shared_ptr<const Limit> worst_limit LOCKSTEP_GUARDED_BY(mu);
  Status error LOCKSTEP_GUARDED_BY(mu);
};

Result<std::unique_ptr<RateLimitGate>> RateLimitGate::Create(lockstep::redis::Client& client,
                                                             RateLimitGateOptions options,
                                                             prometheus::Registry& registry) {
  if (options.key_prefix.empty()) return Status::InvalidArgument("rate limits: key_prefix must not be empty");
  if (options.min_instances < 1) return Status::InvalidArgument("rate limits: min_instances must be >= 1");
  if (options.decision_budget <= std::chrono::milliseconds::zero() ||
      options.heartbeat_interval <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("rate limits: decision_budget and heartbeat_interval must be > 0");
  }
  std::unique_ptr<RateLimitGate> gate(new RateLimitGate(client, std::move(options), registry));
  lockstep::batch::CoalescerOptions batching;
  batching.name = "rate_limit";
  batching.threads = 2;  // One blocked Redis round trip never stalls the other limits.
  batching.max_batch = 256;
  const std::chrono::milliseconds budget = gate->options_.decision_budget;
  auto batcher = Batcher::Create(batching, [budget](RateLimiter* const&, std::vector<Item*>& batch,
                                                    const Deadline& deadline) -> Result<std::vector<Result<RateDecision>>> {
    std::vector<std::string> keys;
    keys.reserve(batch.size());
    for (const Item* item : batch) keys.push_back(item->key);
    // Redis gets the decision budget; past it the limiter decides locally, well before
    // the requests' own deadlines (the batch's).
    LOCKSTEP_ASSIGN_OR_RETURN(std::vector<RateDecision> decisions,
                              batch.front()->limiter->DecideMany(keys, deadline.CappedAt(budget)));
    return std::vector<Result<RateDecision>>(decisions.begin(), decisions.end());
  });
  if (!batcher.ok()) return batcher.status();
  gate->batcher_ = std::move(batcher).value();
  return gate;
}

RateLimitGate::RateLimitGate(lockstep::redis::Client& client, RateLimitGateOptions options,
                             prometheus::Registry& registry)
    : client_(client),
      options_(std::move(options)),
      decisions_(prometheus::BuildCounter()
                     .Name("shopd_rate_limit_decisions_total")
                     .Help("Rate limit decisions per limit (scope group: summed over instances; client: per "
                           "X-Client-Id) and result.")
                     .Register(registry)),
      local_decisions_(prometheus::BuildCounter()
                           .Name("shopd_rate_limit_local_decisions_total")
                           .Help("Rate limit decisions taken locally (rate/N) because Redis was unreachable.")
                           .Register(registry)),
      fallback_active_(prometheus::BuildGauge()
                           .Name("shopd_rate_limit_fallback_active")
                           .Help("1 while a limit decides locally (Redis unreachable or its breaker open).")
                           .Register(registry)),
      rate_(prometheus::BuildGauge()
                .Name("shopd_rate_limit_rate")
                .Help("The configured rate (requests per second) of each limit; 0 once removed.")
                .Register(registry)),
      instances_(prometheus::BuildGauge()
                     .Name("shopd_rate_limit_instances")
                     .Help("Live instances sharing each limit, counted at the last heartbeat (the N of rate/N).")
                     .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("shopd_rate_limit_errors_total")
                  .Help("Requests answered 503 because a rate limit decision could not be taken (overload).")
                  .Register(registry)
                  .Add({})),
      table_(std::make_shared<Table>()) {}

RateLimitGate::~RateLimitGate() { batcher_.reset(); }

std::shared_ptr<const RateLimitGate::Table> RateLimitGate::Current() const {
  lockstep::MutexLock lock(&mu_);
  return table_;
}

Result<std::shared_ptr<const RateLimitGate::Limit>> RateLimitGate::MakeLimit(
    Scope scope, const config::RateLimitSpec& spec, const std::shared_ptr<const Limit>& previous) {
  auto limit = std::make_shared<Limit>();
  limit->scope = scope;
  limit->spec = spec;
  const std::map<std::string, std::string> labels{{"group", spec.group}, {"scope", std::string(ScopeName(scope))}};
  auto with = [&](const char* result) {
    auto l = labels;
    l.emplace("result", result);
    return l;
  };
  limit->admitted = &decisions_.Add(with("admitted"));
  limit->limited = &decisions_.Add(with("limited"));
  limit->local = &local_decisions_.Add(labels);
  limit->rate = &rate_.Add(labels);
  if (previous != nullptr) {
    limit->limiter = previous->limiter;
    return std::shared_ptr<const Limit>(std::move(limit));
  }
  lockstep::resilience::RateLimiterOptions o;
  o.rate = spec.rate;
  o.burst = spec.burst;
  o.key_prefix = options_.key_prefix + (scope == Scope::kGroup ? "g:" : "c:") + spec.group + ":";
  o.min_instances = options_.min_instances;
  o.heartbeat_interval = options_.heartbeat_interval;
  o.instance_ttl = 3 * options_.heartbeat_interval;
  prometheus::Gauge* fallback = &fallback_active_.Add(labels);
  const std::string name = (scope == Scope::kClient ? "client:" : "") + spec.group;
  o.observer.on_fallback_change = [fallback, name](bool active, const Status& cause) {
    fallback->Set(active ? 1 : 0);
    if (active) {
      spdlog::warn("rate limit {}: Redis unreachable ({}), deciding locally with this instance's share",
                   name, cause.ToString());
    } else {
      spdlog::info("rate limit {}: deciding in Redis again", name);
    }
  };
  prometheus::Gauge* instances = &instances_.Add(labels);
  o.observer.on_instances = [instances](int live) { instances->Set(live); };
  LOCKSTEP_ASSIGN_OR_RETURN(std::unique_ptr<RateLimiter> limiter, RateLimiter::Create(client_, std::move(o)));
  limit->limiter = std::move(limiter);
  return std::shared_ptr<const Limit>(std::move(limit));
}

Status RateLimitGate::Apply(const std::vector<config::RateLimitSpec>& group_limits,
                            const std::vector<config::RateLimitSpec>& client_limits) {
  lockstep::MutexLock apply_lock(&apply_mu_);
  const std::shared_ptr<const Table> old = Current();
  auto next = std::make_shared<Table>();
  // First everything that can fail (validation, new limiters); the old limits stay
  // untouched until nothing can fail any more.
  std::vector<std::pair<const config::RateLimitSpec*, RateLimiter*>> rate_changes;
  for (const auto& [scope, specs] : {std::pair{Scope::kGroup, &group_limits}, std::pair{Scope::kClient, &client_limits}}) {
    for (const config::RateLimitSpec& spec : *specs) {
      lockstep::resilience::RateLimiterOptions check;
      check.rate = spec.rate;
      check.burst = spec.burst;
      LOCKSTEP_RETURN_IF_ERROR(lockstep::resilience::ValidateRateLimiterOptions(check));
      std::shared_ptr<const Limit> previous;
      if (auto it = old->limits.find({scope, spec.group}); it != old->limits.end()) previous = it->second;
      LOCKSTEP_ASSIGN_OR_RETURN(std::shared_ptr<const Limit> limit, MakeLimit(scope, spec, previous));
      if (previous != nullptr && !(previous->spec == spec)) rate_changes.emplace_back(&limit->spec, limit->limiter.get());
      if (!next->limits.emplace(std::pair{scope, spec.group}, std::move(limit)).second) {
        return Status::InvalidArgument("rate limits: group '", spec.group, "' is limited twice");
      }
    }
  }
  for (const auto& [spec, limiter] : rate_changes) {
    LOCKSTEP_RETURN_IF_ERROR(limiter->SetRate(spec->rate, spec->burst));  // Validated above.
  }
  {
    lockstep::MutexLock lock(&mu_);
    table_ = next;
  }
  for (const auto& [key, limit] : old->limits) {
    if (next->limits.count(key) == 0) limit->rate->Set(0);
  }
  for (const auto& [key, limit] : next->limits) limit->rate->Set(limit->spec.rate);
  return Status::Ok();
}

void RateLimitGate::Check(const http::GateRequest& request, http::Responder verdict) {
  std::string client(kAnonymous);
  if (std::optional<std::string_view> id = request.headers.Get(kClientHeader)) {
    if (!ValidClientId(*id)) {
      verdict(http::Response::Error(
          Status::InvalidArgument("X-Client-Id must be 1..64 printable ASCII characters")));
      return;
    }
    client = std::string(*id);
  }
  const std::shared_ptr<const Table> table = Current();
  struct Wanted {
    const Limit* limit;
    std::string key;
  };
  std::vector<Wanted> wanted;
  for (std::string_view group : {request.group, std::string_view("all")}) {
    if (const Limit* l = table->Find(Scope::kGroup, group)) wanted.push_back({l, "-"});
    if (const Limit* l = table->Find(Scope::kClient, group)) wanted.push_back({l, client});
    if (request.group == "all") break;
  }
  if (wanted.empty()) {
    verdict(http::GatePass());
    return;
  }
  auto join = std::make_shared<Join>(static_cast<int>(wanted.size()), std::move(verdict), client, errors_);
  for (Wanted& w : wanted) {
    // The table keeps every limit alive while this request decides.
    std::shared_ptr<const Limit> limit(table, w.limit);
    RateLimiter* key = limit->limiter.get();
    Status submitted = batcher_->Submit(key, Item{limit->limiter, std::move(w.key)}, request.deadline,
                                        [join, limit](Result<RateDecision> decision) { join->Done(limit, decision); });
    if (!submitted.ok()) join->Done(limit, submitted);
  }
}

std::string RateLimitGate::Describe() const {
  const std::shared_ptr<const Table> table = Current();
  std::string out;
  for (const auto& [key, limit] : table->limits) {
    if (!out.empty()) out += " ";
    out += (key.first == Scope::kClient ? "client:" : "") + limit->spec.ToString();
  }
  return out.empty() ? "none" : out;
}

}  // namespace shopd::api
