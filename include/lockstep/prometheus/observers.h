#pragma once

#include <array>
#include <string>

#include "lockstep/base/status.h"
#include "lockstep/lock/options.h"
#include "lockstep/outbox/consumer.h"
#include "lockstep/redis/options.h"
#include "lockstep/routing/options.h"
#include "lockstep/sql/options.h"
#include "lockstep/tcc/observer.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace lockstep::prometheus {

// Upper bounds (seconds) of the latency histograms below; +Inf is implicit.
inline constexpr std::array<double, 13> kLatencyBucketsSeconds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};

// Bind*Observer add counters and histograms named `prefix + <name>` to `registry` and set
// the event callbacks of `observer` to update them. A callback that was already set is
// kept and called first. The registry must outlive every component the observer is handed
// to. Families of the same name are shared, so one registry may bind several observers
// with the same prefix (their counts add up). Thread-safe as the registry (and the
// callbacks they install are thread-safe), but not against concurrent use of `observer`.
// kInvalidArgument (nothing bound) if a name is not a valid metric name or is taken by a
// family of another type.
//
// Values that components count themselves (pool sizes, cache hits) are read at scrape
// time instead: see snapshots.h.

// lock: <prefix>acquired_total, <prefix>acquire_wait_seconds (histogram),
// <prefix>waits_total, <prefix>wakes_total, <prefix>renewals_total{outcome="ok|failed"},
// <prefix>lost_total, <prefix>fenced_rejected_total{table}.
Status BindLockObserver(::prometheus::Registry& registry, lock::LockObserver& observer,
                        const std::string& prefix = "lockstep_lock_");

// sql: <prefix>pool_acquire_wait_seconds (histogram of Acquires that waited),
// <prefix>tx_retries_total{code} (RunInTransaction reruns by the status code that caused
// them), <prefix>breaker_transitions_total{to="closed|open|half_open"} (the pool's circuit
// breaker, if it has one: PoolOptions::breaker). on_discard is counted by stats()
// (snapshots.h); on_log is left as it is.
Status BindPoolObserver(::prometheus::Registry& registry, sql::PoolObserver& observer,
                        const std::string& prefix = "lockstep_mariadb_");

// redis: <prefix>call_duration_seconds{outcome="ok|error"} (histogram of Commands and
// Pipelines), <prefix>breaker_transitions_total{to="closed|open|half_open"} (the client's
// circuit breaker, if it has one: RedisOptions::breaker). on_discard is counted by stats()
// (snapshots.h).
Status BindClientObserver(::prometheus::Registry& registry, redis::ClientObserver& observer,
                          const std::string& prefix = "lockstep_redis_");

// tcc: <prefix>transitions_total{state} (global transactions entering each state, by the
// instance that made the transition), <prefix>recoveries_total{from} (transactions settled
// by recovery, by the state they were found in), <prefix>empty_rollbacks_total{participant},
// <prefix>hanging_tries_refused_total{participant}, <prefix>oldest_unfinished_seconds (gauge,
// set at each recovery scan). on_log is left as it is. Bind one observer for the coordinator
// and hand copies of it (after binding) to the participants, or bind each: counts add up.
Status BindTccObserver(::prometheus::Registry& registry, tcc::TccObserver& observer,
                       const std::string& prefix = "lockstep_tcc_");
// routing: <prefix>reads_total{source="primary|replica:host:port"} (read transactions
// begun, by where), <prefix>primary_fallbacks_total{reason="no_fresh_replica|
// wait_timed_out|replica_failed"}, <prefix>gtid_waits_total{outcome="reached|timed_out|
// failed"}, <prefix>gtid_wait_seconds (histogram), and per replica (label replica="host:port",
// updated at every probe): <prefix>replica_lag_seconds and <prefix>replica_staleness_seconds
// (NaN while unknown; see ReplicaStatus), <prefix>replica_gtid_distance (transactions behind
// the primary), <prefix>replica_in_rotation (1/0). on_log is left as it is.
Status BindRoutingObserver(::prometheus::Registry& registry, routing::RoutingObserver& observer,
                           const std::string& prefix = "lockstep_routing_");

// outbox consumer: <prefix>events_total{outcome="applied|duplicate"} (events this consumer
// committed, or found already processed in the dedup table), <prefix>failures_total
// (failed attempts), <prefix>dead_letters_total (entries moved to the dead-letter stream).
Status BindOutboxConsumerObserver(::prometheus::Registry& registry, outbox::ConsumerObserver& observer,
                                  const std::string& prefix = "lockstep_outbox_consumer_");

}  // namespace lockstep::prometheus
