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

// Outcome counters and latency samples of a load run. Record() is thread-safe; threads
// keep their samples in a Shard and Merge() them once at the end (no shared hot lock).
class LoadStats {
 public:
  // Per-thread accumulation. Not thread-safe: one per thread.
  struct Shard {
    std::vector<int64_t> latencies_us;
    std::map<int, int64_t> statuses;  // HTTP status (0 = transport error) -> count.
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
  };
  // Thread-safe; call after all shards merged.
  Summary Summarize(std::chrono::steady_clock::duration elapsed) LOCKSTEP_EXCLUDES(mu_);

 private:
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> errors_{0};
  Mutex mu_;
  std::vector<int64_t> latencies_us_ LOCKSTEP_GUARDED_BY(mu_);
  std::map<int, int64_t> statuses_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace lockstep::bench
