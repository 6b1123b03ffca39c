#include "lockstep/prometheus/snapshots.h"

#include <optional>
#include <utility>

#include <prometheus/text_serializer.h>

#include "lockstep/cache/byte_cache.h"
#include "lockstep/redis/client.h"
#include "lockstep/sql/pool.h"

namespace lockstep::prometheus {
namespace {

::prometheus::MetricFamily OneSample(std::string name, std::string help, ::prometheus::MetricType type, double value) {
  ::prometheus::MetricFamily family{std::move(name), std::move(help), type, {}};
  ::prometheus::ClientMetric sample;
  if (type == ::prometheus::MetricType::Counter) {
    sample.counter.value = value;
  } else {
    sample.gauge.value = value;
  }
  family.metric.push_back(std::move(sample));
  return family;
}

// <p>open, <p>in_use and <p>idle of a connection pool to `server` ("MariaDB", "Redis").
void AppendPoolGauges(std::vector<::prometheus::MetricFamily>& out, const std::string& p, const std::string& server,
                      int open, int in_use, int idle) {
  out.push_back(GaugeFamily(p + "open", server + " connections open.", open));
  out.push_back(GaugeFamily(p + "in_use", server + " connections leased out.", in_use));
  out.push_back(GaugeFamily(p + "idle", server + " connections idle in the pool.", idle));
}

// <name>: 0 closed, 1 open, 2 half-open (nothing without a breaker).
void AppendBreakerState(std::vector<::prometheus::MetricFamily>& out, const std::string& name,
                        const std::string& server, const std::optional<CircuitBreakerStats>& breaker) {
  if (!breaker.has_value()) return;
  double value = 0;
  switch (breaker->state) {
    case BreakerState::kClosed: value = 0; break;
    case BreakerState::kOpen: value = 1; break;
    case BreakerState::kHalfOpen: value = 2; break;
  }
  out.push_back(GaugeFamily(name, "State of the " + server + " circuit breaker: 0 closed, 1 open, 2 half-open.", value));
}

}  // namespace

void Snapshots::Add(Callback callback) {
  MutexLock lock(&mu_);
  callbacks_.push_back(std::move(callback));
}

std::vector<::prometheus::MetricFamily> Snapshots::Collect() const {
  std::vector<Callback> callbacks;
  {
    MutexLock lock(&mu_);
    callbacks = callbacks_;  // Run outside the lock: a callback may take its component's locks.
  }
  std::vector<::prometheus::MetricFamily> out;
  for (const Callback& c : callbacks) c(out);
  return out;
}

::prometheus::MetricFamily CounterFamily(std::string name, std::string help, double value) {
  return OneSample(std::move(name), std::move(help), ::prometheus::MetricType::Counter, value);
}

::prometheus::MetricFamily GaugeFamily(std::string name, std::string help, double value) {
  return OneSample(std::move(name), std::move(help), ::prometheus::MetricType::Gauge, value);
}

void AddPoolStats(Snapshots& snapshots, const sql::Pool& pool, const std::string& prefix) {
  snapshots.Add([&pool, prefix, p = prefix + "pool_"](std::vector<::prometheus::MetricFamily>& out) {
    const sql::PoolStats s = pool.stats();
    AppendPoolGauges(out, p, "MariaDB", s.open, s.in_use, s.idle);
    out.push_back(CounterFamily(p + "waits_total", "Acquires that waited for a connection.", s.waits));
    out.push_back(CounterFamily(p + "discarded_total", "MariaDB connections discarded (broken, killed, deadline).",
                                s.discarded));
    out.push_back(CounterFamily(p + "opened_total", "MariaDB connections opened.", s.opened));
    out.push_back(CounterFamily(p + "watchdog_fired_total", "Calls cut by the pool's deadline watchdog.",
                                s.watchdog_fired));
    AppendBreakerState(out, prefix + "breaker_state", "MariaDB", s.breaker);
  });
}

void AddClientStats(Snapshots& snapshots, const redis::Client& client, const std::string& prefix) {
  snapshots.Add([&client, prefix, p = prefix + "pool_"](std::vector<::prometheus::MetricFamily>& out) {
    const redis::ClientStats s = client.stats();
    AppendPoolGauges(out, p, "Redis", s.open, s.in_use, s.idle);
    out.push_back(CounterFamily(p + "connects_total", "Successful Redis (re)connects.", s.connects));
    out.push_back(CounterFamily(p + "discarded_total", "Redis connections discarded.", s.discarded));
    AppendBreakerState(out, prefix + "breaker_state", "Redis", s.breaker);
  });
}

void AddCacheStats(Snapshots& snapshots, const cache::ByteCache& cache, const std::string& prefix) {
  snapshots.Add([&cache, p = prefix](std::vector<::prometheus::MetricFamily>& out) {
    const cache::CacheStats s = cache.stats();
    auto counter = [&](const char* name, const char* help, uint64_t v) {
      out.push_back(CounterFamily(p + name, help, static_cast<double>(v)));
    };
    counter("l1_hits_total", "Reads served from L1.", s.l1_hits);
    counter("l1_misses_total", "Reads L1 could not serve.", s.l1_misses);
    counter("l2_hits_total", "Reads served from L2 (Redis).", s.l2_hits);
    counter("l2_misses_total", "L2 lookups that missed.", s.l2_misses);
    counter("l2_errors_total", "Redis calls of the cache that failed or were refused.", s.l2_errors);
    counter("loads_total", "Loader calls.", s.loads);
    counter("load_errors_total", "Loader calls that failed.", s.load_errors);
    counter("shared_loads_total", "Reads that shared another read's load.", s.shared_loads);
    counter("fills_total", "Fills accepted by L2.", s.fills);
    counter("stale_fills_refused_total", "Fills refused: a newer version or tombstone was there.",
            s.stale_fills_refused);
    counter("old_fills_refused_total", "Fills refused: the load was older than the tombstone TTL.",
            s.old_fills_refused);
    counter("invalidations_total", "Cache invalidations.", s.invalidations);
    counter("invalidation_failures_total", "Invalidations that could not reach Redis.", s.invalidation_failures);
    out.push_back(GaugeFamily(p + "l1_entries", "Entries in L1.", static_cast<double>(s.l1_entries)));
    out.push_back(GaugeFamily(p + "l1_bytes", "Bytes of keys and values in L1.", static_cast<double>(s.l1_bytes)));
    out.push_back(GaugeFamily(p + "bus_healthy", "1 while the invalidation bus is healthy (L1 served).",
                              s.bus_healthy ? 1 : 0));
    out.push_back(GaugeFamily(p + "breaker_open", "1 while the Redis circuit breaker is not closed.",
                              s.breaker.state == resilience::BreakerState::kClosed ? 0 : 1));
    counter("breaker_opened_total", "Transitions of the Redis breaker to open.", s.breaker.transitions_to_open);
  });
}

std::string SerializeText(std::initializer_list<const ::prometheus::Collectable*> collectables) {
  std::vector<::prometheus::MetricFamily> families;
  for (const ::prometheus::Collectable* c : collectables) {
    std::vector<::prometheus::MetricFamily> some = c->Collect();
    families.insert(families.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return ::prometheus::TextSerializer().Serialize(families);
}

}  // namespace lockstep::prometheus
