#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include <prometheus/metric_family.h>

namespace shopd::domain {

// Counters of the domain layer, exported on /metrics. Thread-safe: every field is an
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
  std::atomic<int64_t> orders_reserved{0};            // Reserved-mode 201 pending answers (not replays).
  std::atomic<int64_t> reserved_backpressure{0};      // Reservations refused: persister backlog too long.
  std::atomic<int64_t> reserved_stock_inits{0};       // Redis stocks initialised from MariaDB.
  std::atomic<int64_t> reserved_persist_batches{0};   // Persister batches committed.
  std::atomic<int64_t> reserved_persisted{0};         // Reservations written to MariaDB as confirmed orders.
  std::atomic<int64_t> reserved_failed{0};            // Reservations ended `failed` (units returned).
  std::atomic<int64_t> reserved_persist_failures{0};  // Persister write/Redis failures (retried): alert on it.

  static void Add(std::atomic<int64_t>& counter, int64_t n = 1) { counter.fetch_add(n, std::memory_order_relaxed); }

  // Appends one counter family per field (shopd_transfers_ok_total, ...). Thread-safe.
  void Collect(std::vector<prometheus::MetricFamily>& out) const;
};

}  // namespace shopd::domain
