#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace shopd::domain {

// Counters of the domain layer, rendered into /metrics. Thread-safe: every field is an
// independent monotonic counter (relaxed atomics: no ordering with other memory needed).
struct DomainMetrics {
  std::atomic<int64_t> transfers_ok{0};
  std::atomic<int64_t> transfers_rejected{0};   // 404 / 409 outcomes recorded.
  std::atomic<int64_t> replays{0};              // Answers served from a request record.
  std::atomic<int64_t> tx_retries{0};           // Reruns of a whole transaction.
  std::atomic<int64_t> deadlocks{0};            // Reruns after MariaDB 1213.
  std::atomic<int64_t> lock_wait_timeouts{0};   // Reruns after MariaDB 1205.
  std::atomic<int64_t> outcome_unknown{0};      // COMMIT outcome unknown (answered 504).
  std::atomic<int64_t> orders_confirmed{0};     // Orders committed (201, not replays).
  std::atomic<int64_t> orders_rejected{0};      // Order outcomes recorded as 404 or 409.
  std::atomic<int64_t> order_batches{0};        // Batch transactions run (batched mode).
  std::atomic<int64_t> order_batch_members{0};  // Orders over all batches.
  std::atomic<int64_t> order_batch_errors{0};   // Batches that failed as a whole.
  std::atomic<int64_t> order_batch_fallbacks{0};  // Batches redone per member (duplicate request_id).

  static void Add(std::atomic<int64_t>& counter, int64_t n = 1) { counter.fetch_add(n, std::memory_order_relaxed); }

  // Prometheus text (counters with # HELP / # TYPE). Thread-safe.
  std::string Render() const;
};

}  // namespace shopd::domain
