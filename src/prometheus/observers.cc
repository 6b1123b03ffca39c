#include "lockstep/prometheus/observers.h"

#include <chrono>
#include <exception>
#include <limits>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace lockstep::prometheus {
namespace {

using ::prometheus::Counter;
using ::prometheus::Family;
using ::prometheus::Gauge;
using ::prometheus::Histogram;

Family<Counter>& CounterFamily(::prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return ::prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

Histogram& LatencyHistogram(::prometheus::Registry& registry, const std::string& name, const std::string& help,
                            const ::prometheus::Labels& labels = {}) {
  return ::prometheus::BuildHistogram()
      .Name(name)
      .Help(help)
      .Register(registry)
      .Add(labels, Histogram::BucketBoundaries(kLatencyBucketsSeconds.begin(), kLatencyBucketsSeconds.end()));
}

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// Sets `slot` to call what it held before (if anything), then `added`.
template <typename... Args>
void Chain(std::function<void(Args...)>& slot, std::function<void(Args...)> added) {
  if (!slot) {
    slot = std::move(added);
    return;
  }
  slot = [before = std::move(slot), added = std::move(added)](Args... args) {
    before(args...);
    added(args...);
  };
}

// prometheus-cpp reports bad names and type clashes by throwing (std::invalid_argument).
template <typename Fn>
Status Guarded(Fn&& fn) {
  try {
    fn();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::InvalidArgument("prometheus: ", e.what());
  }
}

// Sets `slot` to count transitions of a breaker into <name>{to="closed|open|half_open"}.
void BindBreakerTransitions(::prometheus::Registry& registry, std::function<void(BreakerState)>& slot,
                            const std::string& name, const std::string& server) {
  Family<Counter>& family =
      CounterFamily(registry, name, "Transitions of the " + server + " circuit breaker, by the state entered.");
  Counter& closed = family.Add({{"to", std::string(BreakerStateName(BreakerState::kClosed))}});
  Counter& open = family.Add({{"to", std::string(BreakerStateName(BreakerState::kOpen))}});
  Counter& half_open = family.Add({{"to", std::string(BreakerStateName(BreakerState::kHalfOpen))}});
  Chain(slot, {[&closed, &open, &half_open](BreakerState to) {
          switch (to) {
            case BreakerState::kClosed: closed.Increment(); break;
            case BreakerState::kOpen: open.Increment(); break;
            case BreakerState::kHalfOpen: half_open.Increment(); break;
          }
        }});
}

}  // namespace

Status BindLockObserver(::prometheus::Registry& registry, lock::LockObserver& observer, const std::string& prefix) {
  return Guarded([&] {
    Counter& acquired = CounterFamily(registry, prefix + "acquired_total", "Locks granted.").Add({});
    Histogram& wait = LatencyHistogram(registry, prefix + "acquire_wait_seconds",
                                       "Time granted Acquire calls spent waiting for the lock.");
    Counter& waits = CounterFamily(registry, prefix + "waits_total", "Acquire calls that found the lock busy.").Add({});
    Counter& wakes =
        CounterFamily(registry, prefix + "wakes_total", "Waiters woken by a release message (not by a poll).").Add({});
    Family<Counter>& renewals = CounterFamily(registry, prefix + "renewals_total", "Lease renewal rounds by outcome.");
    Counter& renewed = renewals.Add({{"outcome", "ok"}});
    Counter& renew_failed = renewals.Add({{"outcome", "failed"}});
    Counter& lost = CounterFamily(registry, prefix + "lost_total", "Held locks lost (renewal refused or expired).").Add({});
    Family<Counter>& fenced = CounterFamily(registry, prefix + "fenced_rejected_total",
                                            "Fenced writes rejected because a newer fence had written, by table.");
    Chain(observer.on_acquired, {[&acquired, &wait](std::string_view, std::chrono::nanoseconds waited) {
            acquired.Increment();
            wait.Observe(Seconds(waited));
          }});
    Chain(observer.on_wait, {[&waits](std::string_view) { waits.Increment(); }});
    Chain(observer.on_wake, {[&wakes](std::string_view) { wakes.Increment(); }});
    Chain(observer.on_renewal, {[&renewed, &renew_failed](std::string_view, const Status& s) {
            (s.ok() ? renewed : renew_failed).Increment();
          }});
    Chain(observer.on_lost, {[&lost](std::string_view) { lost.Increment(); }});
    Chain(observer.on_fenced_rejected,
          {[&fenced](std::string_view table) { fenced.Add({{"table", std::string(table)}}).Increment(); }});
  });
}

Status BindPoolObserver(::prometheus::Registry& registry, sql::PoolObserver& observer, const std::string& prefix) {
  return Guarded([&] {
    Histogram& wait = LatencyHistogram(registry, prefix + "pool_acquire_wait_seconds",
                                       "Time Acquire calls that had to wait spent waiting for a connection.");
    Family<Counter>& retries = CounterFamily(registry, prefix + "tx_retries_total",
                                             "Units of work rerun by RunInTransaction, by the status code that caused it.");
    Chain(observer.on_acquire_wait,
          {[&wait](std::chrono::steady_clock::duration waited) { wait.Observe(Seconds(waited)); }});
    Chain(observer.on_retry, {[&retries](const Status& why, int) {
            retries.Add({{"code", std::string(StatusCodeName(why.code()))}}).Increment();
          }});
    BindBreakerTransitions(registry, observer.on_breaker_state, prefix + "breaker_transitions_total", "MariaDB");
  });
}

Status BindClientObserver(::prometheus::Registry& registry, redis::ClientObserver& observer,
                          const std::string& prefix) {
  return Guarded([&] {
    const std::string name = prefix + "call_duration_seconds";
    const std::string help = "Redis commands and pipelines: wall time by outcome.";
    Histogram& ok = LatencyHistogram(registry, name, help, {{"outcome", "ok"}});
    Histogram& error = LatencyHistogram(registry, name, help, {{"outcome", "error"}});
    Chain(observer.on_call, {[&ok, &error](const Status& s, std::chrono::nanoseconds elapsed) {
            (s.ok() ? ok : error).Observe(Seconds(elapsed));
          }});
    BindBreakerTransitions(registry, observer.on_breaker_state, prefix + "breaker_transitions_total", "Redis");
  });
}

Status BindTccObserver(::prometheus::Registry& registry, tcc::TccObserver& observer, const std::string& prefix) {
  return Guarded([&] {
    Family<Counter>& transitions = CounterFamily(registry, prefix + "transitions_total",
                                                 "TCC global transactions entering each state.");
    Family<Counter>& recoveries = CounterFamily(registry, prefix + "recoveries_total",
                                                "TCC global transactions settled by recovery, by the state found in.");
    Family<Counter>& empty = CounterFamily(registry, prefix + "empty_rollbacks_total",
                                           "Cancels that found no Try (empty rollbacks), by participant.");
    Family<Counter>& hanging = CounterFamily(registry, prefix + "hanging_tries_refused_total",
                                             "Tries refused because their branch was cancelled first, by participant.");
    ::prometheus::Gauge& oldest = ::prometheus::BuildGauge()
                                      .Name(prefix + "oldest_unfinished_seconds")
                                      .Help("Age of the oldest unfinished TCC global transaction at the last "
                                            "recovery scan.")
                                      .Register(registry)
                                      .Add({});
    Chain(observer.on_state, {[&transitions](tcc::GlobalState to) {
            transitions.Add({{"state", std::string(tcc::GlobalStateName(to))}}).Increment();
          }});
    Chain(observer.on_recovered, {[&recoveries](tcc::GlobalState from, tcc::GlobalState) {
            recoveries.Add({{"from", std::string(tcc::GlobalStateName(from))}}).Increment();
          }});
    Chain(observer.on_empty_rollback,
          {[&empty](std::string_view participant) { empty.Add({{"participant", std::string(participant)}}).Increment(); }});
    Chain(observer.on_hanging_try_refused, {[&hanging](std::string_view participant) {
            hanging.Add({{"participant", std::string(participant)}}).Increment();
          }});
    Chain(observer.on_oldest_unfinished,
          {[&oldest](std::chrono::microseconds age) { oldest.Set(std::chrono::duration<double>(age).count()); }});
  });
}

Status BindRoutingObserver(::prometheus::Registry& registry, routing::RoutingObserver& observer,
                           const std::string& prefix) {
  return Guarded([&] {
    Family<Counter>& reads =
        CounterFamily(registry, prefix + "reads_total", "Read transactions begun, by the server they ran on.");
    Family<Counter>& fallbacks = CounterFamily(
        registry, prefix + "primary_fallbacks_total", "Reads a replica could have answered that went to the primary, by reason.");
    Family<Counter>& waits = CounterFamily(registry, prefix + "gtid_waits_total", "MASTER_GTID_WAIT calls, by outcome.");
    Histogram& wait_time =
        LatencyHistogram(registry, prefix + "gtid_wait_seconds", "Time reads spent in MASTER_GTID_WAIT on a replica.");
    auto gauge = [&](const std::string& name, const std::string& help) -> Family<Gauge>& {
      return ::prometheus::BuildGauge().Name(prefix + name).Help(help).Register(registry);
    };
    Family<Gauge>& lag = gauge("replica_lag_seconds",
                               "Measured replica lag: age of the oldest heartbeat it had not applied (NaN: unknown).");
    Family<Gauge>& staleness = gauge("replica_staleness_seconds",
                                     "Commits older than this are known to be on the replica (NaN: unknown).");
    Family<Gauge>& distance = gauge("replica_gtid_distance", "Transactions the replica lacked against the primary.");
    Family<Gauge>& rotation = gauge("replica_in_rotation", "1 while reads may be routed to the replica.");
    for (routing::FallbackReason r : {routing::FallbackReason::kNoFreshReplica, routing::FallbackReason::kWaitTimedOut,
                                      routing::FallbackReason::kReplicaFailed}) {
      fallbacks.Add({{"reason", std::string(routing::FallbackReasonName(r))}});
    }
    Chain(observer.on_read, {[&reads](const routing::ReadSource& source) {
            reads.Add({{"source", source.ToString()}}).Increment();
          }});
    Chain(observer.on_primary_fallback, {[&fallbacks](routing::FallbackReason reason) {
            fallbacks.Add({{"reason", std::string(routing::FallbackReasonName(reason))}}).Increment();
          }});
    Chain(observer.on_gtid_wait,
          {[&waits, &wait_time](routing::WaitOutcome outcome, std::chrono::steady_clock::duration waited) {
            waits.Add({{"outcome", std::string(routing::WaitOutcomeName(outcome))}}).Increment();
            wait_time.Observe(Seconds(waited));
          }});
    Chain(observer.on_replica_probe, {[&lag, &staleness, &distance, &rotation](const routing::ReplicaStatus& s) {
            const ::prometheus::Labels labels = {{"replica", s.address}};
            constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();
            lag.Add(labels).Set(s.lag ? Seconds(*s.lag) : kUnknown);
            staleness.Add(labels).Set(s.staleness ? Seconds(*s.staleness) : kUnknown);
            distance.Add(labels).Set(static_cast<double>(s.gtid_distance));
            rotation.Add(labels).Set(s.in_rotation ? 1 : 0);
          }});
  });
}

Status BindOutboxConsumerObserver(::prometheus::Registry& registry, outbox::ConsumerObserver& observer,
                                  const std::string& prefix) {
  return Guarded([&] {
    Family<Counter>& events =
        CounterFamily(registry, prefix + "events_total", "Events handled by an outbox consumer, by outcome.");
    Counter& applied = events.Add({{"outcome", "applied"}});
    Counter& duplicate = events.Add({{"outcome", "duplicate"}});
    Counter& failures =
        CounterFamily(registry, prefix + "failures_total", "Failed attempts of an outbox consumer.").Add({});
    Counter& dead = CounterFamily(registry, prefix + "dead_letters_total",
                                  "Entries an outbox consumer moved to its dead-letter stream.")
                        .Add({});
    Chain(observer.on_applied, {[&applied](const outbox::StoredEvent&) { applied.Increment(); }});
    Chain(observer.on_duplicate, {[&duplicate](const outbox::StoredEvent&) { duplicate.Increment(); }});
    Chain(observer.on_failure, {[&failures](const Status&) { failures.Increment(); }});
    Chain(observer.on_dead_letter, {[&dead](const std::string&, const Status&) { dead.Increment(); }});
  });
}

}  // namespace lockstep::prometheus
