#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <prometheus/metric_family.h>

#include "http/method.h"
#include "http/worker_pool.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"

namespace shopd::http {

// Upper bounds (seconds) of the request latency histogram buckets; +Inf is implicit.
inline constexpr std::array<double, 13> kLatencyBucketsSeconds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};

// Counters of one (method, route, status) series.
struct RouteStats {
  std::string method;
  std::string route;  // The route pattern, or "unmatched" (404/405/protocol errors).
  int status = 0;
  int64_t count = 0;
  double sum_seconds = 0;
  // Cumulative counts per kLatencyBucketsSeconds bound (Prometheus `le` semantics).
  std::array<int64_t, kLatencyBucketsSeconds.size()> cumulative_buckets{};
};

// Everything /metrics shows, taken at one moment.
struct StatsSnapshot {
  WorkerPoolStats pool;
  int64_t open_connections = 0;
  bool draining = false;
  std::vector<RouteStats> routes;  // Sorted by (route, method, status).
};

// Per-route request counters and latency histograms. Hot path: one mutex, one map lookup.
// Thread-safe.
class RequestStats {
 public:
  void Record(Method method, const std::string& route, int status, std::chrono::nanoseconds latency)
      LOCKSTEP_EXCLUDES(mu_);
  // Series sorted by (route, method, status).
  std::vector<RouteStats> Snapshot() const LOCKSTEP_EXCLUDES(mu_);

 private:
  struct Series {
    int64_t count = 0;
    double sum_seconds = 0;
    std::array<int64_t, kLatencyBucketsSeconds.size()> buckets{};  // Not cumulative.
  };
  using Key = std::tuple<std::string, Method, int>;  // route, method, status.
  mutable lockstep::Mutex mu_;
  std::map<Key, Series> series_ LOCKSTEP_GUARDED_BY(mu_);
};

// `snapshot` as Prometheus metric families (worker pool, connections, draining, and the
// request latency histogram shopd_http_request_duration_seconds{method,route,status}), for
// prometheus::TextSerializer. Thread-safe (pure).
std::vector<prometheus::MetricFamily> MetricFamilies(const StatsSnapshot& snapshot);

}  // namespace shopd::http
