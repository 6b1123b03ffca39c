#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <prometheus/metric_family.h>
#include <string>
#include <vector>

#include "domain/blocking.h"
#include "domain/domain_metrics.h"
#include "domain/in_flight.h"
#include "domain/request_outcomes.h"
#include "domain/routed_read.h"
#include "reply/outcome.h"
#include "domain/products/products.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/batch/coalescer.h"

namespace lockstep::sql {
class Pool;
class Transaction;
}  // namespace lockstep::sql

namespace shopd::domain {

class Reservations;

// Order ids per NEXTVAL(order_ids): the sequence's INCREMENT (schema migration 2). A
// process takes ids v .. v+kOrderIdBlock-1 from one NEXTVAL; ids are unique across
// processes and final before the reply, gaps are allowed.
inline constexpr int64_t kOrderIdBlock = 100;

inline constexpr int64_t kMaxOrderQuantity = 1'000'000;

struct OrderRequest {
  std::string request_id;
  int64_t user_id = 0;
  int64_t product_id = 0;
  int64_t quantity = 0;

  // kInvalidArgument: bad request_id, non-positive ids, quantity outside 1..1,000,000.
  lockstep::Status Validate() const;
  // Canonical form of the validated fields; equal digests mean the same request.
  std::string Digest() const;
};

struct Order {
  int64_t id = 0;
  std::string request_id;
  int64_t user_id = 0;
  int64_t product_id = 0;
  int64_t quantity = 0;
  std::string status;  // confirmed | pending | failed (the last two: reserved mode, from Redis).
};

struct OrderServiceOptions {
  // Run orders of `batched` products through the Coalescer. false: they take the row_lock
  // path (same results, one transaction per order). Default true.
  bool batching = true;
  // Coalescer executor threads: batches of different products run in parallel, one batch
  // per product at a time; each holds one MariaDB connection while it runs. Default 4.
  int batch_threads = 4;
  // Orders per batch transaction (FIFO). Inserts go out kMaxRowsPerStatement rows per
  // statement. Default 128.
  std::size_t max_batch = 128;
};

// Orders (API.md POST/GET /v1/orders). Every outcome after validation (201, 404 unknown
// product, 409 out_of_stock) is recorded in request_records (scope "order") in the same
// transaction as its effect; duplicates replay it, another body is 409
// request_id_conflict. Per product stock_mode:
//   row_lock: one transaction per order: SELECT stock ... FOR UPDATE, check, UPDATE, INSERT.
//   batched:  concurrent orders of one product are grouped by a Coalescer into ONE
//             transaction: lock the product row, replay recorded request_ids, FIFO fill,
//             one conditional UPDATE for the total, multi-row INSERTs of orders and
//             records. Confirmed means committed; if the batch fails every member gets the
//             error and nothing of it is committed. If another process recorded one of the
//             request_ids concurrently (kAlreadyExists), the members are redone one by one
//             on the row_lock path, so one duplicate never fails the others.
//   reserved: Reservations::Reserve (Redis Lua + stream, reply 201 "pending" with the
//             final id from the same id source); refused with 503 unless `reservations`
//             is given. Get/GetByRequestId look in MariaDB first, then in Redis.
// Thread-safe.
class OrderService {
 public:
  OrderService(lockstep::sql::Pool& pool, InFlight& in_flight, DomainMetrics& metrics, ProductService& products,
               OrderServiceOptions options = {}, Reservations* reservations = nullptr);
  ~OrderService();

  using Done = std::function<void(lockstep::Result<reply::Outcome>)>;
  // Places the order and calls `done` exactly once, by `deadline`, with the outcome to send
  // (201, 404, 409 recorded; replayed ones marked) or an error not recorded (see
  // TransferService::Transfer for the mapping; kUnknown: a batch past the deadline may
  // still commit). A `batched` order's batch and a `reserved` order's Redis pipeline are
  // queued (Coalescer) and `done` runs later on an executor thread, so no caller thread
  // waits for them; the rest runs on the calling thread. `done` must not block.
  // Returns true if it took the order (`done` moved from). Blocking::kAllowed always takes
  // it. Blocking::kNotAllowed (an I/O thread) declines — false, nothing happened, `done`
  // untouched: call again with kAllowed — when placing needs a blocking step: the
  // product's mode not cached yet, row_lock mode, a duplicate of this request_id still
  // running, the id block used up, the Redis durability check not passed yet. Validation
  // errors are answered either way.
  bool Place(const OrderRequest& request, const lockstep::Deadline& deadline, Done& done, Blocking blocking);
  // kNotFound if no such order. MariaDB is read where `read` routes it; a miss there is
  // looked up in Redis (reserved mode) and then on the primary.
  lockstep::Result<Order> Get(int64_t id, const RoutedRead& read, const lockstep::Deadline& deadline);
  lockstep::Result<Order> GetByRequestId(const std::string& request_id, const RoutedRead& read,
                                         const lockstep::Deadline& deadline);
  // A fresh order id from the same source as every order's (checkouts take theirs before
  // the Try). Thread-safe.
  lockstep::Result<int64_t> AllocateOrderId(const lockstep::Deadline& deadline) { return NextOrderId(deadline); }

  // shopd_order_batch_queue_depth and shopd_order_batch_shed_total (orders refused because
  // they would have completed after their deadline) of the batched mode's queues.
  // Thread-safe.
  void CollectMetrics(std::vector<prometheus::MetricFamily>& out) const;

 private:
  using BatchCoalescer = lockstep::batch::Coalescer<int64_t, OrderRequest, reply::Outcome>;

  // One order in its own transaction (row_lock mode and the batch fallback). The caller
  // holds the InFlight ticket.
  lockstep::Result<reply::Outcome> PlaceRowLock(const OrderRequest& request, const lockstep::Deadline& deadline);
  // The Coalescer's batch function.
  lockstep::Result<std::vector<lockstep::Result<reply::Outcome>>> PlaceBatch(int64_t product_id,
                                                                      std::vector<OrderRequest*>& batch,
                                                                      const lockstep::Deadline& deadline);
  // Next order id from this process's block; refills with NEXTVAL(order_ids).
  lockstep::Result<int64_t> NextOrderId(const lockstep::Deadline& deadline) LOCKSTEP_EXCLUDES(ids_mu_);
  // The same from the current block only; nullopt when it is used up.
  std::optional<int64_t> TryNextOrderId() LOCKSTEP_EXCLUDES(ids_mu_);
  // A reserved order with its id and ticket: queued for the Redis pipeline.
  void Reserve(const OrderRequest& request, int64_t order_id, InFlight::Ticket ticket,
               const lockstep::Deadline& deadline, Done done);
  // A batched order with its ticket: queued for its product's batch.
  void SubmitBatched(const OrderRequest& request, InFlight::Ticket ticket, const lockstep::Deadline& deadline,
                     Done done);
  // Metrics, and the cache invalidation a new order owes its product.
  void Finish(int64_t product_id, const lockstep::Result<reply::Outcome>& result);

  lockstep::sql::Pool& pool_;
  InFlight& in_flight_;
  DomainMetrics& metrics_;
  const RequestOutcomes outcomes_;  // Scope "order".
  ProductService& products_;
  OrderServiceOptions options_;
  lockstep::Mutex ids_mu_;
  int64_t next_id_ LOCKSTEP_GUARDED_BY(ids_mu_) = 0;
  int64_t end_id_ LOCKSTEP_GUARDED_BY(ids_mu_) = 0;  // Block exhausted when next_id_ == end_id_.
  std::unique_ptr<BatchCoalescer> coalescer_;         // Null when batching is off.
  Reservations* reservations_;                        // Null: reserved mode unavailable.
};

}  // namespace shopd::domain
