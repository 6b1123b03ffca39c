#include "load_stats.h"

#include <algorithm>

namespace lockstep::bench {

AnswerClass ClassifyAnswer(int status) {
  if (status == 503) return AnswerClass::kShed;
  if (status == 429) return AnswerClass::kRateLimited;
  if (status >= 200 && status < 500) return AnswerClass::kCompleted;
  return AnswerClass::kOther;
}

int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())));
  return sorted[i];
}

void LoadStats::Shard::Add(int status, int64_t latency_us) {
  latencies_us.push_back(latency_us);
  statuses[status]++;
  switch (ClassifyAnswer(status)) {
    case AnswerClass::kCompleted: completed_us.push_back(latency_us); break;
    case AnswerClass::kShed: shed_us.push_back(latency_us); break;
    case AnswerClass::kRateLimited:
    case AnswerClass::kOther: break;
  }
}

void LoadStats::Merge(Shard&& shard) {
  MutexLock lock(&mu_);
  auto append = [](std::vector<int64_t>& to, const std::vector<int64_t>& from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  append(all_.latencies_us, shard.latencies_us);
  append(all_.completed_us, shard.completed_us);
  append(all_.shed_us, shard.shed_us);
  for (const auto& [status, count] : shard.statuses) all_.statuses[status] += count;
}

LoadStats::Summary LoadStats::Summarize(std::chrono::steady_clock::duration elapsed) {
  MutexLock lock(&mu_);
  Summary s;
  for (auto* v : {&all_.latencies_us, &all_.completed_us, &all_.shed_us}) std::sort(v->begin(), v->end());
  const std::vector<int64_t>& latencies = all_.latencies_us;
  s.requests = static_cast<int64_t>(latencies.size());
  s.seconds = std::chrono::duration<double>(elapsed).count();
  auto per_second = [&](int64_t n) { return s.seconds > 0 ? static_cast<double>(n) / s.seconds : 0; };
  s.throughput = per_second(s.requests);
  s.p50_us = Percentile(latencies, 0.50);
  s.p95_us = Percentile(latencies, 0.95);
  s.p99_us = Percentile(latencies, 0.99);
  s.max_us = latencies.empty() ? 0 : latencies.back();
  s.statuses = all_.statuses;
  for (const auto& [status, count] : s.statuses) {
    switch (ClassifyAnswer(status)) {
      case AnswerClass::kCompleted: s.completed += count; break;
      case AnswerClass::kShed: s.shed += count; break;
      case AnswerClass::kRateLimited: s.rate_limited += count; break;
      case AnswerClass::kOther: s.other += count; break;
    }
  }
  s.completed_rps = per_second(s.completed);
  s.shed_rps = per_second(s.shed);
  s.rate_limited_rps = per_second(s.rate_limited);
  s.completed_p50_us = Percentile(all_.completed_us, 0.50);
  s.completed_p99_us = Percentile(all_.completed_us, 0.99);
  s.shed_p50_us = Percentile(all_.shed_us, 0.50);
  s.shed_p99_us = Percentile(all_.shed_us, 0.99);
  s.offered_rps = s.throughput;
  return s;
}

}  // namespace lockstep::bench
