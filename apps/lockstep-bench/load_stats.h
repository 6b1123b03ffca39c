#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lockstep/base/mutex.h"

namespace lockstep::bench {

// What an answer counts as in the overload figures: a business answer (2xx, and 4xx other
// than 429: the request was decided), shed (503: refused for overload or an unavailable
// dependency), rate limited (429), or anything else (other 5xx, transport errors = 0).
enum class AnswerClass { kCompleted, kShed, kRateLimited, kOther };
AnswerClass ClassifyAnswer(int status);

// The value at fraction `p` (0..1) of ascending `sorted`: sorted[min(n - 1, p x n)]; 0
// when empty.
int64_t Percentile(const std::vector<int64_t>& sorted, double p);

// Outcome counters and latency samples of a load run. Record() is thread-safe; threads
// keep their samples in a Shard and Merge() them once at the end (no shared hot lock).
class LoadStats {
 public:
  // Per-thread accumulation. Not thread-safe: one per thread.
  struct Shard {
    std::vector<int64_t> latencies_us;
    std::vector<int64_t> completed_us;  // The latencies of kCompleted answers only.
    std::vector<int64_t> shed_us;       // ... of kShed answers only.
    std::map<int, int64_t> statuses;    // HTTP status (0 = transport error) -> count.

    // Records one answer: its status and latency.
    void Add(int status, int64_t latency_us);
  };

  // Counts one finished request for the progress line. Thread-safe (atomics).
  void Tick(bool ok) {
    done_.fetch_add(1, std::memory_order_relaxed);  // Relaxed: a progress counter only.
    if (!ok) errors_.fetch_add(1, std::memory_order_relaxed);
  }
  int64_t done() const { return done_.load(std::memory_order_relaxed); }
  int64_t errors() const { return errors_.load(std::memory_order_relaxed); }

  // Thread-safe.
  void Merge(Shard&& shard) LOCKSTEP_EXCLUDES(mu_);

  struct Summary {
    int64_t requests = 0;
    double seconds = 0;
    double throughput = 0;  // Requests per second.
    int64_t p50_us = 0, p95_us = 0, p99_us = 0, max_us = 0;
    std::map<int, int64_t> statuses;
    // Per AnswerClass: answers, and answers per second of `seconds`.
    int64_t completed = 0, shed = 0, rate_limited = 0, other = 0;
    double completed_rps = 0, shed_rps = 0, rate_limited_rps = 0;
    int64_t completed_p50_us = 0, completed_p99_us = 0;
    int64_t shed_p50_us = 0, shed_p99_us = 0;
    // The send rate: the target of an open-loop run (--rate; 0 = closed loop) and what was
    // achieved (closed loop: `throughput`). RunLoad fills these in.
    double target_rps = 0;
    double offered_rps = 0;
  };
  // Thread-safe; call after all shards merged.
  Summary Summarize(std::chrono::steady_clock::duration elapsed) LOCKSTEP_EXCLUDES(mu_);

 private:
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> errors_{0};
  Mutex mu_;
  Shard all_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace lockstep::bench
