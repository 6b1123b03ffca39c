#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "domain/domain_metrics.h"
#include "domain/orders/reserved_keys.h"
#include "domain/store_fwd.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/redis/stream_consumer.h"


namespace shopd::domain {

struct ReservationPersisterOptions {
  ReservedKeys keys;
  // Consumer name in the group; unique per live process (main uses host:pid:start time).
  std::string consumer;
  // Stream entries per MariaDB transaction. > 0. Default 256.
  int64_t batch_size = 256;
  // Entries unacked this long are taken over from their (presumed dead) consumer. Default 10s.
  std::chrono::milliseconds claim_idle{10'000};
  // Log hook: every failed write or Redis error (retried), and every reservation that ends
  // `failed`. Called on the persister's thread. Default unset.
  std::function<void(const lockstep::Status&)> on_error = nullptr;
  // Called once per product whose MariaDB stock a batch changed, after the commit (main
  // points it at ProductService::StockChanged so cached stock follows). Called on the
  // persister's thread. Default unset.
  std::function<void(int64_t product_id)> on_stock_changed = nullptr;
};

// One reservation as the stream carries it.
struct ReservationEntry {
  std::string request_id;
  int64_t user_id = 0, product_id = 0, quantity = 0, order_id = 0;
  std::string digest, body, incarnation;

  // kInvalidArgument for a malformed entry. Thread-safe (pure).
  static lockstep::Result<ReservationEntry> FromFields(const std::vector<std::pair<std::string, std::string>>& fields);
  std::vector<std::pair<std::string, std::string>> ToFields() const;
};

// Writes reservations from the stream to MariaDB (lockstep::redis::StreamConsumer, group
// "persister"; any number of processes). Per batch ONE transaction: lock the products'
// rows, INSERT the orders that are not there yet (status confirmed), decrement the stock by
// exactly what was inserted, and write their request_records; then, in Redis, mark the
// reservations confirmed, and only then XACK. Idempotent per entry (a redelivered entry
// whose order row exists with its id changes nothing). A reservation whose request_id is
// already used in MariaDB by another order (another mode or product), or whose product
// vanished or lacks the stock, ends `failed` and its units go back to the Redis stock —
// never silently dropped. A failing write is retried with backoff forever (never
// dead-lettered), counted in shopd_reserved_persist_failures_total and logged. Thread-safe.
class ReservationPersister {
 public:
  // Starts the consumer (creating the group if needed). If Redis cannot be reached yet, a
  // starter thread retries with backoff (each failure reported to on_error) until it
  // succeeds or the persister is destroyed, so shopd starts while Redis is down. `pool`,
  // `redis` and `metrics` must outlive the persister. kInvalidArgument for bad options.
  // Thread-safe.
  static lockstep::Result<std::unique_ptr<ReservationPersister>> Start(lockstep::sql::Pool& pool,
                                                                       lockstep::redis::Client& redis,
                                                                       DomainMetrics& metrics,
                                                                       ReservationPersisterOptions options);
  // Stops and joins the consumer (unacked entries stay pending for a restart or XAUTOCLAIM).
  ~ReservationPersister();

  // Marks the given reservations (request_id -> quantity, product) `confirmed` or `failed`
  // (failed returns the units to the Redis stock) if still pending; idempotent. Used by the
  // persister after its commit and by reconcile. Returns the Redis error, if any.
  // Thread-safe.
  static lockstep::Status Settle(lockstep::redis::Client& redis, const ReservedKeys& keys,
                                 const std::vector<ReservationEntry>& confirmed,
                                 const std::vector<ReservationEntry>& failed, const lockstep::Deadline& deadline);

 private:
  ReservationPersister(lockstep::sql::Pool& pool, lockstep::redis::Client& redis, DomainMetrics& metrics,
                       ReservationPersisterOptions options);
  lockstep::Status Handle(std::vector<lockstep::redis::StreamEntry>& entries, std::vector<lockstep::Status>& per_entry);
  // One attempt at StreamConsumer::Start.
  lockstep::Status TryStart() LOCKSTEP_EXCLUDES(mu_);
  void StartLoop() LOCKSTEP_EXCLUDES(mu_);

  lockstep::sql::Pool& pool_;
  lockstep::redis::Client& redis_;
  DomainMetrics& metrics_;
  const ReservationPersisterOptions options_;
  lockstep::redis::StreamConsumerOptions consumer_options_;
  lockstep::Mutex mu_;
  lockstep::CondVar stop_cv_;
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::unique_ptr<lockstep::redis::StreamConsumer> consumer_ LOCKSTEP_GUARDED_BY(mu_);
  std::thread starter_;  // Retries TryStart while Redis is unreachable.
};

}  // namespace shopd::domain
