#include "domain/domain_metrics.h"

#include "lockstep/prometheus/snapshots.h"

namespace shopd::domain {

void DomainMetrics::Collect(std::vector<prometheus::MetricFamily>& out) const {
  auto counter = [&](const char* name, const char* help, const std::atomic<int64_t>& v) {
    out.push_back(lockstep::prometheus::CounterFamily(name, help, static_cast<double>(v.load(std::memory_order_relaxed))));
  };
  counter("shopd_transfers_ok_total", "Transfers committed.", transfers_ok);
  counter("shopd_transfers_rejected_total", "Transfer outcomes recorded as 404 or 409.", transfers_rejected);
  counter("shopd_idempotent_replays_total", "Answers replayed from a request record.", replays);
  counter("shopd_tx_retries_total", "Whole-transaction reruns (deadlock, lock wait timeout, lost connection).", tx_retries);
  counter("shopd_deadlocks_total", "Transactions rerun after a MariaDB deadlock (1213).", deadlocks);
  counter("shopd_lock_wait_timeouts_total", "Transactions rerun after a lock wait timeout (1205).", lock_wait_timeouts);
  counter("shopd_commit_outcome_unknown_total", "Commits whose outcome was unknown (answered 504).", outcome_unknown);
  counter("shopd_orders_confirmed_total", "Orders committed as confirmed.", orders_confirmed);
  counter("shopd_orders_rejected_total", "Order outcomes recorded as 404 or 409.", orders_rejected);
  counter("shopd_order_batches_total", "Batch transactions of batched-mode orders.", order_batches);
  counter("shopd_order_batch_members_total", "Orders handled by batch transactions (sum of batch sizes).",
          order_batch_members);
  counter("shopd_order_batch_errors_total", "Order batches that failed as a whole.", order_batch_errors);
  counter("shopd_order_batch_fallbacks_total", "Order batches redone member by member after a duplicate request_id.",
          order_batch_fallbacks);
  counter("shopd_orders_reserved_total", "Reserved-mode orders answered 201 pending.", orders_reserved);
  counter("shopd_reserved_backpressure_total", "Reservations refused with 503 because the persister backlog passed "
          "reserved_max_pending.", reserved_backpressure);
  counter("shopd_reserved_stock_inits_total", "Redis stocks initialised from MariaDB.", reserved_stock_inits);
  counter("shopd_reserved_persist_batches_total", "Persister batches committed to MariaDB.", reserved_persist_batches);
  counter("shopd_reserved_persisted_total", "Reservations written to MariaDB as confirmed orders.", reserved_persisted);
  counter("shopd_reserved_failed_total", "Reservations that ended failed (units returned to the Redis stock).",
          reserved_failed);
  counter("shopd_reserved_persist_failures_total",
          "Persister failures (MariaDB write or Redis call), each retried; alert when it keeps rising.",
          reserved_persist_failures);
}

}  // namespace shopd::domain
