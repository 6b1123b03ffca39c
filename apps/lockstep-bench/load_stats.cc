#include "load_stats.h"

#include <algorithm>

namespace lockstep::bench {

void LoadStats::Merge(Shard&& shard) {
  MutexLock lock(&mu_);
  latencies_us_.insert(latencies_us_.end(), shard.latencies_us.begin(), shard.latencies_us.end());
  for (const auto& [status, count] : shard.statuses) statuses_[status] += count;
}

LoadStats::Summary LoadStats::Summarize(std::chrono::steady_clock::duration elapsed) {
  MutexLock lock(&mu_);
  Summary s;
  std::sort(latencies_us_.begin(), latencies_us_.end());
  s.requests = static_cast<int64_t>(latencies_us_.size());
  s.seconds = std::chrono::duration<double>(elapsed).count();
  s.throughput = s.seconds > 0 ? static_cast<double>(s.requests) / s.seconds : 0;
  auto pct = [&](double p) -> int64_t {
    if (latencies_us_.empty()) return 0;
    const size_t i = std::min(latencies_us_.size() - 1, static_cast<size_t>(p * static_cast<double>(latencies_us_.size())));
    return latencies_us_[i];
  };
  s.p50_us = pct(0.50);
  s.p95_us = pct(0.95);
  s.p99_us = pct(0.99);
  s.max_us = latencies_us_.empty() ? 0 : latencies_us_.back();
  s.statuses = statuses_;
  return s;
}

}  // namespace lockstep::bench
