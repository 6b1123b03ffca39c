#include "http/stats.h"

#include <limits>
#include <utility>

#include "lockstep/prometheus/snapshots.h"

namespace shopd::http {

void RequestStats::Record(Method method, const std::string& route, int status, std::chrono::nanoseconds latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  lockstep::MutexLock lock(&mu_);
  Series& s = series_[Key(route, method, status)];
  ++s.count;
  s.sum_seconds += seconds;
  for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
    if (seconds <= kLatencyBucketsSeconds[i]) {
      ++s.buckets[i];
      break;
    }
  }
}

std::vector<RouteStats> RequestStats::Snapshot() const {
  std::vector<RouteStats> out;
  lockstep::MutexLock lock(&mu_);
  out.reserve(series_.size());
  for (const auto& [key, s] : series_) {
    RouteStats r;
    r.route = std::get<0>(key);
    r.method = std::string(MethodName(std::get<1>(key)));
    r.status = std::get<2>(key);
    r.count = s.count;
    r.sum_seconds = s.sum_seconds;
    int64_t running = 0;
    for (size_t i = 0; i < s.buckets.size(); ++i) {
      running += s.buckets[i];
      r.cumulative_buckets[i] = running;
    }
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

using lockstep::prometheus::CounterFamily;
using lockstep::prometheus::GaugeFamily;

// Admission control in front of the worker pool (ServerOptions::admission).
void AppendAdmission(const lockstep::resilience::AdmissionStats& a, std::vector<prometheus::MetricFamily>& out) {
  prometheus::MetricFamily shed{"shopd_admission_shed_total",
                                "Requests refused at once by admission control, per reason.",
                                prometheus::MetricType::Counter,
                                {}};
  for (const auto& [reason, count] :
       {std::pair{lockstep::resilience::ShedReason::kConcurrencyLimit, a.shed_concurrency_limit},
        std::pair{lockstep::resilience::ShedReason::kQueueDelay, a.shed_queue_delay},
        std::pair{lockstep::resilience::ShedReason::kDeadline, a.shed_deadline}}) {
    prometheus::ClientMetric m;
    m.label.push_back({"reason", std::string(lockstep::resilience::ShedReasonName(reason))});
    m.counter.value = static_cast<double>(count);
    shed.metric.push_back(std::move(m));
  }
  out.push_back(std::move(shed));
  out.push_back(CounterFamily("shopd_admission_admitted_total", "Requests admitted to the worker queue.",
                              static_cast<double>(a.admitted)));
  out.push_back(CounterFamily("shopd_admission_overload_episodes_total",
                              "Times the worker queue started standing (delay above target for an interval).",
                              static_cast<double>(a.overload_episodes)));
  out.push_back(GaugeFamily("shopd_admission_overloaded", "1 while the worker queue stands.", a.overloaded ? 1 : 0));
  out.push_back(GaugeFamily("shopd_admission_limit", "Adaptive limit on admitted, unfinished requests.",
                            static_cast<double>(a.limit)));
  out.push_back(GaugeFamily("shopd_admission_queue_delay_seconds",
                            "Smoothed time recent requests waited for a worker.",
                            std::chrono::duration<double>(a.queue_delay).count()));
}

}  // namespace

std::vector<prometheus::MetricFamily> MetricFamilies(const StatsSnapshot& snapshot) {
  std::vector<prometheus::MetricFamily> out;
  out.push_back(GaugeFamily("shopd_worker_queue_depth", "Requests waiting for a worker thread.",
                            static_cast<double>(snapshot.pool.queue_depth)));
  out.push_back(GaugeFamily("shopd_worker_in_flight", "Requests running on worker threads.",
                            static_cast<double>(snapshot.pool.in_flight)));
  out.push_back(CounterFamily("shopd_worker_shed_total",
                              "Requests refused with 503 at once: worker queue full, or load shed by admission control.",
                              static_cast<double>(snapshot.pool.shed_total)));
  if (snapshot.pool.admission) AppendAdmission(*snapshot.pool.admission, out);
  out.push_back(GaugeFamily("shopd_http_open_connections", "Open client connections.",
                            static_cast<double>(snapshot.open_connections)));
  out.push_back(GaugeFamily("shopd_draining", "1 while the server drains for shutdown.", snapshot.draining ? 1 : 0));

  prometheus::MetricFamily hist{
      "shopd_http_request_duration_seconds",
      "HTTP request latency by route and status, from header received to reply ready to write.",
      prometheus::MetricType::Histogram,
      {}};
  for (const RouteStats& r : snapshot.routes) {
    prometheus::ClientMetric m;
    m.label = {{"method", r.method}, {"route", r.route}, {"status", std::to_string(r.status)}};
    m.histogram.sample_count = static_cast<uint64_t>(r.count);
    m.histogram.sample_sum = r.sum_seconds;
    for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
      m.histogram.bucket.push_back({static_cast<uint64_t>(r.cumulative_buckets[i]), kLatencyBucketsSeconds[i]});
    }
    m.histogram.bucket.push_back({static_cast<uint64_t>(r.count), std::numeric_limits<double>::infinity()});
    hist.metric.push_back(std::move(m));
  }
  out.push_back(std::move(hist));
  return out;
}

}  // namespace shopd::http
