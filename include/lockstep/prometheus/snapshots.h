#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"

namespace lockstep::sql {
class Pool;
}  // namespace lockstep::sql
namespace lockstep::redis {
class Client;
}  // namespace lockstep::redis
namespace lockstep::cache {
class ByteCache;
}  // namespace lockstep::cache

namespace lockstep::prometheus {

// A Collectable whose metric families are computed at scrape time by callbacks: for values
// a component keeps itself and reports through a stats() snapshot. A prometheus::Registry
// cannot hold such a collectable; serialize both (SerializeText). Thread-safe; every
// callback runs on the scraping thread and must be thread-safe itself.
class Snapshots final : public ::prometheus::Collectable {
 public:
  using Callback = std::function<void(std::vector<::prometheus::MetricFamily>& out)>;

  // Appends `callback`; Collect runs the callbacks in the order they were added.
  void Add(Callback callback) LOCKSTEP_EXCLUDES(mu_);
  std::vector<::prometheus::MetricFamily> Collect() const LOCKSTEP_EXCLUDES(mu_) override;

 private:
  mutable Mutex mu_;
  std::vector<Callback> callbacks_ LOCKSTEP_GUARDED_BY(mu_);
};

// One unlabelled sample as a family of its own ("counter" names should end in _total).
::prometheus::MetricFamily CounterFamily(std::string name, std::string help, double value);
::prometheus::MetricFamily GaugeFamily(std::string name, std::string help, double value);

// Add*Stats make `snapshots` read `component.stats()` at each scrape. The component must
// outlive every scrape of `snapshots`.
// sql: <prefix>pool_open, pool_idle, pool_in_use (gauges), pool_waits_total,
// pool_discarded_total, pool_opened_total, pool_watchdog_fired_total, and with a breaker
// (PoolOptions::breaker) breaker_state (gauge: 0 closed, 1 open, 2 half-open).
void AddPoolStats(Snapshots& snapshots, const sql::Pool& pool, const std::string& prefix = "lockstep_mariadb_");
// redis: <prefix>pool_open, pool_idle, pool_in_use (gauges), pool_connects_total,
// pool_discarded_total, and with a breaker (RedisOptions::breaker) breaker_state (gauge: 0
// closed, 1 open, 2 half-open).
void AddClientStats(Snapshots& snapshots, const redis::Client& client, const std::string& prefix = "lockstep_redis_");
// cache: <prefix>l1_hits_total, l1_misses_total, l2_hits_total, l2_misses_total,
// l2_errors_total, loads_total, load_errors_total, shared_loads_total, fills_total,
// stale_fills_refused_total, old_fills_refused_total, invalidations_total,
// invalidation_failures_total, l1_entries, l1_bytes, bus_healthy (gauges),
// breaker_open (gauge: 1 unless closed), breaker_opened_total.
void AddCacheStats(Snapshots& snapshots, const cache::ByteCache& cache, const std::string& prefix = "lockstep_cache_");

// The Prometheus text exposition (format 0.0.4, prometheus::TextSerializer) of every
// family the collectables hold, in order. Family names must be unique across them.
std::string SerializeText(std::initializer_list<const ::prometheus::Collectable*> collectables);

// The Content-Type of SerializeText's output.
inline constexpr const char* kTextContentType = "text/plain; version=0.0.4";

}  // namespace lockstep::prometheus
