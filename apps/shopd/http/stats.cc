#include "http/stats.h"

#include <charconv>

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
// Label values escape backslash, double quote and newline (exposition format).
std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Shortest text that reads back as the same double.
std::string Number(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

void Header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void Sample(std::string& out, const std::string& name, const std::string& labels, const std::string& value) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  out += value;
  out += '\n';
}
}  // namespace

std::string RenderPrometheus(const StatsSnapshot& snapshot) {
  std::string out;
  Header(out, "shopd_worker_queue_depth", "gauge", "Requests waiting for a worker thread.");
  Sample(out, "shopd_worker_queue_depth", "", std::to_string(snapshot.pool.queue_depth));
  Header(out, "shopd_worker_in_flight", "gauge", "Requests running on worker threads.");
  Sample(out, "shopd_worker_in_flight", "", std::to_string(snapshot.pool.in_flight));
  Header(out, "shopd_worker_shed_total", "counter", "Requests refused with 503 because the worker queue was full.");
  Sample(out, "shopd_worker_shed_total", "", std::to_string(snapshot.pool.shed_total));
  Header(out, "shopd_http_open_connections", "gauge", "Open client connections.");
  Sample(out, "shopd_http_open_connections", "", std::to_string(snapshot.open_connections));
  Header(out, "shopd_draining", "gauge", "1 while the server drains for shutdown.");
  Sample(out, "shopd_draining", "", snapshot.draining ? "1" : "0");

  const std::string hist = "shopd_http_request_duration_seconds";
  Header(out, hist.c_str(), "histogram", "HTTP request latency by route and status, from header received to reply ready to write.");
  for (const RouteStats& r : snapshot.routes) {
    const std::string base = "method=\"" + EscapeLabel(r.method) + "\",route=\"" + EscapeLabel(r.route) +
                             "\",status=\"" + std::to_string(r.status) + "\"";
    for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
      Sample(out, hist + "_bucket", base + ",le=\"" + Number(kLatencyBucketsSeconds[i]) + "\"",
             std::to_string(r.cumulative_buckets[i]));
    }
    Sample(out, hist + "_bucket", base + ",le=\"+Inf\"", std::to_string(r.count));
    Sample(out, hist + "_sum", base, Number(r.sum_seconds));
    Sample(out, hist + "_count", base, std::to_string(r.count));
  }
  return out;
}

}  // namespace shopd::http
