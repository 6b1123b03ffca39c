#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "domain/domain_metrics.h"
#include "reply/outcome.h"
#include "domain/orders/reserved_keys.h"
#include "domain/store_fwd.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/redis/script.h"

namespace lockstep::batch {
template <typename Key, typename Request, typename Response, typename Hash>
class Coalescer;
}  // namespace lockstep::batch

namespace shopd::domain {

struct OrderRequest;
struct Order;

// The reserved mode's keys for this database: "<redis_prefix>rsv:<token>:" where the token
// is the database's `reserved_keyspace` (schema migration 5), so a recreated database never
// sees its predecessor's Redis state. kNotFound if the schema lacks the token. Thread-safe.
lockstep::Result<ReservedKeys> LoadReservedKeys(lockstep::sql::Pool& pool, const std::string& redis_prefix,
                                                const lockstep::Deadline& deadline);

struct ReservationsOptions {
  ReservedKeys keys;
  // Back-pressure: while more reservations than this wait for the persister (the pending
  // set), new reservations get 503 unavailable + Retry-After. > 0. Default 50,000.
  int64_t max_pending = 50'000;
  // How often the pending count and the persister lag are refreshed from Redis. Default 200ms.
  std::chrono::milliseconds refresh_interval{200};
  // "always" | "everysec": the weakest Redis appendfsync accepted (redis_durability.h).
  std::string min_fsync = "always";
};

// The `reserved` stock mode's request side: one Lua script per order checks the request_id,
// checks and decrements the product's Redis stock, records the reservation and XADDs it to
// the stream the persister (reservation_persister.h) writes to MariaDB. Also initialises
// the Redis stock from MariaDB, answers GET for pending orders, checks Redis durability and
// exports the pending count / persister lag (with back-pressure). Thread-safe.
class Reservations {
 public:
  // Starts the refresh thread. `pool`, `redis` and `metrics` must outlive the object.
  // The destructor stops and joins it (REQUIRES: no call in flight).
  Reservations(lockstep::sql::Pool& pool, lockstep::redis::Client& redis, DomainMetrics& metrics,
               ReservationsOptions options);
  ~Reservations();
  Reservations(const Reservations&) = delete;
  Reservations& operator=(const Reservations&) = delete;

  // OK if Redis passed the durability check (CONFIG GET, see redis_durability.h); else its
  // kFailedPrecondition. A failed check (or an unreachable Redis) is re-run at most every
  // 2s; a passed one is kept. Thread-safe.
  lockstep::Status CheckDurability(const lockstep::Deadline& deadline) LOCKSTEP_EXCLUDES(mu_);
  // Whether a durability check passed already (then CheckDurability returns at once).
  // Never blocks. Thread-safe.
  bool DurabilityConfirmed() const LOCKSTEP_EXCLUDES(mu_);

  using Done = std::function<void(lockstep::Result<reply::Outcome>)>;
  // Places a validated order of a `reserved` product with the already allocated final
  // `order_id` (unused on replay/out of stock; ids may have gaps) and calls `done` exactly
  // once, by `deadline`, with the outcome: 201 pending (new or replayed), 409 out_of_stock
  // (recorded, replayable); errors: kFailedPrecondition request_id_conflict, kUnavailable
  // when Redis is not durable, is down, or the back-pressure bound is passed; kNotFound if
  // the product vanished; kUnknown if the deadline passed while its script was in flight
  // (it may have reserved: a retry with the request_id tells). The durability check and
  // back-pressure run on the calling thread; then the order is queued, and concurrent
  // orders of one product are sent to Redis together — each its own atomic script call, all
  // in ONE pipelined round trip (one AOF fsync for all with `appendfsync always`) — by an
  // executor thread, which calls `done`. `done` must not block. Thread-safe.
  void Reserve(const OrderRequest& request, int64_t order_id, const lockstep::Deadline& deadline, Done done);

  // The reservation behind order `id` / `request_id` if it has not been written to MariaDB
  // (status "pending" or "failed"); nullopt if Redis knows no such reservation or it is
  // confirmed (the caller reads MariaDB). Thread-safe.
  lockstep::Result<std::optional<Order>> FindById(int64_t id, const lockstep::Deadline& deadline);
  lockstep::Result<std::optional<Order>> FindByRequestId(const std::string& request_id,
                                                         const lockstep::Deadline& deadline);

  // Sets the Redis stock of `product_id` from MariaDB if it has none (SET NX under the
  // product's row lock; see the argument in reservations.cc). kNotFound unless the product
  // exists in reserved mode. Thread-safe.
  lockstep::Status InitStock(int64_t product_id, const lockstep::Deadline& deadline);

  // Reservations not yet persisted as of the last refresh. Thread-safe.
  int64_t pending() const { return pending_.load(std::memory_order_relaxed); }
  // Appends the gauges: pending reservations, stream entries not yet read by the
  // persisters (lag), entries read but not acked, age of the oldest unacked entry (seconds),
  // the back-pressure bound. Thread-safe.
  void CollectMetrics(std::vector<prometheus::MetricFamily>& out) const;

  const ReservedKeys& keys() const { return options_.keys; }  // Immutable; thread-safe.

 private:
  struct Queued;  // A prepared reservation waiting for its pipeline.
  using Pipeliner = lockstep::batch::Coalescer<int64_t, Queued, reply::Outcome, std::hash<int64_t>>;

  // The reservation script's call for `request`, after the durability check and the
  // back-pressure bound.
  lockstep::Result<lockstep::redis::Script::Call> Prepare(const OrderRequest& request, int64_t order_id,
                                                          const lockstep::Deadline& deadline);
  // The batch function: every queued reservation of one product in one pipeline.
  lockstep::Result<std::vector<lockstep::Result<reply::Outcome>>> RunPipeline(int64_t product_id,
                                                                      std::vector<Queued*>& batch,
                                                                      const lockstep::Deadline& deadline);
  // One reservation on its own, initialising the product's Redis stock if it is missing.
  lockstep::Result<reply::Outcome> RunOne(const OrderRequest& request, const lockstep::redis::Script::Call& call,
                                   const lockstep::Deadline& deadline);
  lockstep::Result<std::optional<Order>> FindReservation(const std::string& request_id,
                                                         const lockstep::Deadline& deadline);
  void RefreshLoop() LOCKSTEP_EXCLUDES(mu_);
  void Refresh();

  lockstep::sql::Pool& pool_;
  lockstep::redis::Client& redis_;
  DomainMetrics& metrics_;
  const ReservationsOptions options_;

  mutable lockstep::Mutex mu_;
  lockstep::CondVar stop_cv_;
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool durable_ LOCKSTEP_GUARDED_BY(mu_) = false;
  lockstep::Status last_check_ LOCKSTEP_GUARDED_BY(mu_);
  std::optional<std::chrono::steady_clock::time_point> checked_at_ LOCKSTEP_GUARDED_BY(mu_);

  // Gauges written by the refresh thread, read by requests and /metrics: independent
  // values, no ordering with other memory needed (relaxed).
  std::atomic<int64_t> pending_{0};
  std::atomic<int64_t> stream_lag_{0};
  std::atomic<int64_t> unacked_{0};
  std::atomic<int64_t> oldest_unacked_ms_{0};
  std::thread refresher_;
  std::unique_ptr<Pipeliner> pipeliner_;  // Last: destroyed first, while the rest still works.
};

}  // namespace shopd::domain
