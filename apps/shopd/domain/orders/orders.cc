#include "domain/orders/orders.h"

#include <map>
#include <optional>
#include <tuple>

#include "domain/multi_row.h"
#include "domain/orders/order_json.h"
#include "domain/orders/order_rows.h"
#include "domain/request_records.h"
#include "domain/orders/reservations.h"
#include "domain/validation.h"
#include "lockstep/base/check.h"
#include "lockstep/prometheus/snapshots.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"

namespace shopd::domain {

using lockstep::Result;
using lockstep::Status;
using lockstep::StatusCode;

namespace {

constexpr std::string_view kScope = "order";
const std::string kConfirmed = "confirmed";

reply::Outcome Confirmed(const OrderRequest& r, int64_t id) {
  return reply::Outcome{201, OrderBody(id, r.request_id, r.user_id, r.product_id, r.quantity, kConfirmed), false, {}};
}

reply::Outcome ProductNotFound(int64_t product_id) {
  return reply::Outcome::Error(Status::NotFound("product ", product_id, " not found"));
}

reply::Outcome OutOfStock(const OrderRequest& r, int64_t available) {
  return reply::Outcome::Error(Status::FailedPrecondition("product ", r.product_id, " has ", available,
                                                   " units left, the order asks for ", r.quantity)
                            .WithReason("out_of_stock"));
}

Result<Order> OrderFromRow(const lockstep::sql::Row& row) {
  Order o;
  LOCKSTEP_ASSIGN_OR_RETURN(o.id, row.GetInt64(0));
  LOCKSTEP_ASSIGN_OR_RETURN(o.request_id, row.GetString(1));
  LOCKSTEP_ASSIGN_OR_RETURN(o.user_id, row.GetInt64(2));
  LOCKSTEP_ASSIGN_OR_RETURN(o.product_id, row.GetInt64(3));
  LOCKSTEP_ASSIGN_OR_RETURN(o.quantity, row.GetInt64(4));
  LOCKSTEP_ASSIGN_OR_RETURN(o.status, row.GetString(5));
  return o;
}

constexpr std::string_view kSelectOrder = "SELECT id, request_id, user_id, product_id, quantity, status FROM orders ";

}  // namespace

Status OrderRequest::Validate() const {
  LOCKSTEP_RETURN_IF_ERROR(ValidateRequestId(request_id));
  if (user_id <= 0) return Status::InvalidArgument("field 'user_id' must be a positive id");
  if (product_id <= 0) return Status::InvalidArgument("field 'product_id' must be a positive id");
  if (quantity < 1 || quantity > kMaxOrderQuantity) {
    return Status::InvalidArgument("field 'quantity' must be in [1, ", kMaxOrderQuantity, "]");
  }
  return Status::Ok();
}

std::string OrderRequest::Digest() const {
  return std::to_string(user_id) + "@" + std::to_string(product_id) + "x" + std::to_string(quantity);
}

OrderService::OrderService(lockstep::sql::Pool& pool, InFlight& in_flight, DomainMetrics& metrics,
                           ProductService& products, OrderServiceOptions options, Reservations* reservations)
    : pool_(pool),
      in_flight_(in_flight),
      metrics_(metrics),
      outcomes_(pool, metrics, kScope),
      products_(products),
      options_(options),
      reservations_(reservations) {
  if (!options_.batching) return;
  lockstep::batch::CoalescerOptions c;
  c.name = "order-batch";
  c.threads = options_.batch_threads;
  c.max_batch = options_.max_batch;
  // A batch may not outlive the longest member deadline anyway; this caps a stuck one.
  c.batch_budget = std::chrono::seconds(10);
  // An order that could only expire in the queue is refused at once (503 + Retry-After).
  c.shed_by_deadline = true;
  c.observer.on_batch = [this](const lockstep::batch::BatchEvent& e) {
    DomainMetrics::Add(metrics_.order_batches);
    DomainMetrics::Add(metrics_.order_batch_members, static_cast<int64_t>(e.size));
    if (e.whole_batch_error) DomainMetrics::Add(metrics_.order_batch_errors);
  };
  auto created = BatchCoalescer::Create(
      std::move(c), [this](const int64_t& product_id, std::vector<OrderRequest*>& batch,
                           const lockstep::Deadline& deadline) { return PlaceBatch(product_id, batch, deadline); });
  LOCKSTEP_CHECK(created.ok());
  coalescer_ = std::move(*created);
}

// The Coalescer goes first: its destructor lets running batches (which use this object)
// finish.
OrderService::~OrderService() { coalescer_.reset(); }

void OrderService::Finish(int64_t product_id, const Result<reply::Outcome>& result) {
  outcomes_.Count(result, 201, &DomainMetrics::orders_confirmed, &DomainMetrics::orders_rejected);
  // A confirmed order changed the product's stock and version: drop it from the cache.
  if (result.ok() && !result->replayed && result->http_status == 201) products_.StockChanged(product_id);
}

bool OrderService::Place(const OrderRequest& request, const lockstep::Deadline& deadline, Done& done,
                         Blocking blocking) {
  const bool may_block = blocking == Blocking::kAllowed;
  // Every `return false` below comes before any effect.
  auto answer = [&done](Result<reply::Outcome> result) {
    std::exchange(done, nullptr)(std::move(result));
    return true;
  };
  if (Status s = request.Validate(); !s.ok()) return answer(s);
  // Unknown products take the row_lock path, which records the 404.
  std::optional<StockMode> mode;
  if (may_block) {
    Result<std::optional<StockMode>> loaded = products_.ModeOf(request.product_id, deadline);
    if (!loaded.ok()) return answer(loaded.status());
    mode = loaded->value_or(StockMode::kRowLock);
  } else {
    mode = products_.CachedModeOf(request.product_id);
    if (!mode) return false;
  }
  const bool reserved = *mode == StockMode::kReserved;
  const bool batched = *mode == StockMode::kBatched && coalescer_;
  if (reserved && reservations_ == nullptr) {
    return answer(Status::Unavailable("stock_mode 'reserved' is not enabled in this process"));
  }
  // A row_lock order is one blocking transaction; a reserved one's durability check may
  // need a round trip until it passed once.
  if (!may_block && (reserved ? !reservations_->DurabilityConfirmed() : !batched)) return false;

  // Duplicates of one request_id run one at a time.
  std::optional<InFlight::Ticket> ticket;
  if (may_block) {
    Result<InFlight::Ticket> entered = in_flight_.Enter(kScope, request.request_id, deadline);
    if (!entered.ok()) return answer(entered.status());
    ticket.emplace(std::move(entered).value());
  } else if (std::optional<InFlight::Ticket> entered = in_flight_.TryEnter(kScope, request.request_id)) {
    ticket.emplace(std::move(*entered));
  } else {
    return false;
  }

  if (reserved) {
    std::optional<int64_t> order_id = TryNextOrderId();
    if (!order_id && !may_block) return false;  // The id block is used up: NEXTVAL is a round trip.
    if (!order_id) {
      Result<int64_t> next = NextOrderId(deadline);
      if (!next.ok()) return answer(next.status());
      order_id = *next;
    }
    Reserve(request, *order_id, std::move(*ticket), deadline, std::exchange(done, nullptr));
    return true;
  }
  if (batched) {
    SubmitBatched(request, std::move(*ticket), deadline, std::exchange(done, nullptr));
    return true;
  }
  Result<reply::Outcome> result = PlaceRowLock(request, deadline);
  Finish(request.product_id, result);
  return answer(std::move(result));
}

void OrderService::Reserve(const OrderRequest& request, int64_t order_id, InFlight::Ticket ticket,
                           const lockstep::Deadline& deadline, Done done) {
  // The ticket stays held until the reservation answered (duplicates wait for it).
  auto held = std::make_shared<InFlight::Ticket>(std::move(ticket));
  reservations_->Reserve(request, order_id, deadline, [this, held, done](Result<reply::Outcome> reserved) mutable {
    outcomes_.Count(reserved, 201, &DomainMetrics::orders_reserved, &DomainMetrics::orders_rejected);
    held.reset();
    done(std::move(reserved));
  });
}

void OrderService::SubmitBatched(const OrderRequest& request, InFlight::Ticket ticket,
                                 const lockstep::Deadline& deadline, Done done) {
  // The ticket stays held until the batch answered (duplicates wait for the outcome).
  auto held = std::make_shared<InFlight::Ticket>(std::move(ticket));
  const int64_t product_id = request.product_id;
  Status submitted =
      coalescer_->Submit(product_id, request, deadline, [this, held, product_id, done](Result<reply::Outcome> result) mutable {
        Finish(product_id, result);
        held.reset();
        done(std::move(result));
      });
  if (!submitted.ok()) done(std::move(submitted));
}

Result<reply::Outcome> OrderService::PlaceRowLock(const OrderRequest& request, const lockstep::Deadline& deadline) {
  const std::string digest = request.Digest();
  reply::Outcome outcome;
  std::optional<int64_t> order_id;  // Kept across reruns: an id is never reused.
  lockstep::sql::RunStats stats;
  lockstep::sql::RunOptions options;
  options.tx.isolation = lockstep::sql::IsolationLevel::kReadCommitted;
  options.tx.track_commit_gtid = true;
  const Status status = lockstep::sql::RunInTransaction(
      pool_, options, deadline,
      [&](lockstep::sql::Transaction& tx) -> Status {
        LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                                  tx.Query("SELECT stock FROM products WHERE id = ? FOR UPDATE", request.product_id));
        bool confirmed = false;
        if (rows.empty()) {
          outcome = ProductNotFound(request.product_id);
        } else {
          LOCKSTEP_ASSIGN_OR_RETURN(int64_t stock, rows[0].GetInt64(0));
          if (stock < request.quantity) {
            outcome = OutOfStock(request, stock);
          } else {
            if (!order_id) {
              LOCKSTEP_ASSIGN_OR_RETURN(order_id, NextOrderId(deadline));
            }
            outcome = Confirmed(request, *order_id);
            confirmed = true;
          }
        }
        // kAlreadyExists once another transaction recorded this request_id: roll back, replay.
        LOCKSTEP_RETURN_IF_ERROR(RequestRecords::Insert(tx, kScope, request.request_id, digest, outcome));
        if (confirmed) {
          LOCKSTEP_RETURN_IF_ERROR(TakeStock(tx, request.product_id, request.quantity));
          LOCKSTEP_RETURN_IF_ERROR(InsertConfirmedOrders(
              tx, {OrderRow{*order_id, request.request_id, request.user_id, request.product_id, request.quantity}}));
        }
        // The commit's GTID is the consistency token (tracked: no extra round trip).
        LOCKSTEP_ASSIGN_OR_RETURN(outcome.consistency_token, tx.CommitWithGtid());
        return Status::Ok();
      },
      &stats);
  return outcomes_.Settle(status, stats, std::move(outcome), request.request_id, digest, deadline);
}

Result<std::vector<Result<reply::Outcome>>> OrderService::PlaceBatch(int64_t product_id, std::vector<OrderRequest*>& batch,
                                                              const lockstep::Deadline& deadline) {
  const size_t n = batch.size();
  std::vector<std::string> digests(n);
  for (size_t i = 0; i < n; ++i) digests[i] = batch[i]->Digest();
  std::vector<int64_t> ids(n, 0);  // Allocated order ids, kept across reruns.
  std::vector<std::optional<Result<reply::Outcome>>> results;
  std::string token;  // The GTID of the batch's commit.

  lockstep::sql::RunStats stats;
  lockstep::sql::RunOptions options;
  options.tx.isolation = lockstep::sql::IsolationLevel::kReadCommitted;
  options.tx.track_commit_gtid = true;
  const Status status = lockstep::sql::RunInTransaction(
      pool_, options, deadline,
      [&](lockstep::sql::Transaction& tx) -> Status {
        results.assign(n, std::nullopt);
        // 1. The product row lock serializes every batch and row_lock order of this product,
        //    in all processes.
        LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                                  tx.Query("SELECT stock FROM products WHERE id = ? FOR UPDATE", product_id));
        const bool exists = !rows.empty();
        int64_t available = 0;
        if (exists) {
          LOCKSTEP_ASSIGN_OR_RETURN(available, rows[0].GetInt64(0));
        }

        // 2. request_ids recorded already (committed before we got the lock): replay them.
        std::map<std::string, std::tuple<std::string, int64_t, std::string>, std::less<>> recorded;
        std::map<std::string_view, size_t> first_in_batch;
        std::vector<std::tuple<std::string_view>> lookup;
        for (size_t i = 0; i < n; ++i) {
          if (first_in_batch.emplace(batch[i]->request_id, i).second) lookup.emplace_back(batch[i]->request_id);
        }
        LOCKSTEP_RETURN_IF_ERROR(QueryMultiRow(
            tx, "SELECT request_id, request_digest, http_status, response FROM request_records WHERE scope = 'order' "
                "AND request_id IN (",
            "?", ")", lookup, [&](const lockstep::sql::Row& row) -> Status {
              LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, row.GetString(0));
              LOCKSTEP_ASSIGN_OR_RETURN(std::string digest, row.GetString(1));
              LOCKSTEP_ASSIGN_OR_RETURN(int64_t http_status, row.GetInt64(2));
              LOCKSTEP_ASSIGN_OR_RETURN(std::string body, row.GetString(3));
              recorded[rid] = {std::move(digest), http_status, std::move(body)};
              return Status::Ok();
            }));

        // 3. FIFO fill in submission order: an order that does not fit gets 409, a later
        //    smaller one may still fit.
        std::vector<OrderRow> order_rows;
        std::vector<OrderRecordRow> record_rows;
        int64_t taken = 0;
        for (size_t i = 0; i < n; ++i) {
          const OrderRequest& r = *batch[i];
          if (const size_t first = first_in_batch.at(r.request_id); first != i) {
            // Same request_id twice in one batch: the second gets the first's answer.
            if (digests[first] != digests[i]) {
              results[i] = Result<reply::Outcome>(RequestIdConflict());
            } else if (!results[first]->ok()) {
              results[i] = results[first];
            } else {
              reply::Outcome replay = **results[first];
              replay.replayed = true;
              results[i] = replay;
            }
            continue;
          }
          if (auto it = recorded.find(r.request_id); it != recorded.end()) {
            const auto& [digest, http_status, body] = it->second;
            if (digest != digests[i]) {
              results[i] = Result<reply::Outcome>(RequestIdConflict());
            } else {
              results[i] = reply::Outcome{static_cast<int>(http_status), body, true, {}};
            }
            continue;
          }
          reply::Outcome outcome;
          if (!exists) {
            outcome = ProductNotFound(product_id);
          } else if (r.quantity > available) {
            outcome = OutOfStock(r, available);
          } else {
            if (ids[i] == 0) {
              LOCKSTEP_ASSIGN_OR_RETURN(ids[i], NextOrderId(tx.deadline()));
            }
            available -= r.quantity;
            taken += r.quantity;
            outcome = Confirmed(r, ids[i]);
            order_rows.emplace_back(ids[i], r.request_id, r.user_id, r.product_id, r.quantity);
          }
          results[i] = outcome;
        }
        for (size_t i = 0; i < n; ++i) {
          if (first_in_batch.at(batch[i]->request_id) != i || !results[i]->ok() || (*results[i])->replayed) continue;
          const reply::Outcome& o = **results[i];
          record_rows.emplace_back(batch[i]->request_id, digests[i], o.http_status, o.body);
        }

        // 4. One conditional UPDATE for the total (the WHERE re-checks what the lock holds),
        //    then multi-row INSERTs (kAlreadyExists if another process recorded a request_id
        //    meanwhile: handled below).
        LOCKSTEP_RETURN_IF_ERROR(ApplyOrders(tx, {{product_id, taken}}, order_rows, record_rows));
        LOCKSTEP_ASSIGN_OR_RETURN(token, tx.CommitWithGtid());
        return Status::Ok();
      },
      &stats);
  outcomes_.CountReruns(stats);

  if (status.code() == StatusCode::kAlreadyExists) {
    // Another process recorded one of these request_ids after our lookup (e.g. the same
    // request_id for another product): nothing of this batch committed. Redo each member
    // on its own, so only the duplicate replays and the others are not failed by it.
    DomainMetrics::Add(metrics_.order_batch_fallbacks);
    std::vector<Result<reply::Outcome>> out;
    out.reserve(n);
    for (OrderRequest* r : batch) out.push_back(PlaceRowLock(*r, deadline));
    return out;
  }
  LOCKSTEP_RETURN_IF_ERROR(status);
  std::vector<Result<reply::Outcome>> out;
  out.reserve(n);
  for (auto& r : results) {
    // Every answer of the batch (replays of records it read included) is covered by its
    // commit.
    if (r->ok()) (*r)->consistency_token = token;
    out.push_back(std::move(*r));
  }
  return out;
}

std::optional<int64_t> OrderService::TryNextOrderId() {
  lockstep::MutexLock lock(&ids_mu_);
  if (next_id_ == end_id_) return std::nullopt;
  return next_id_++;
}

Result<int64_t> OrderService::NextOrderId(const lockstep::Deadline& deadline) {
  lockstep::MutexLock lock(&ids_mu_);
  if (next_id_ == end_id_) {
    // Its own connection, outside any transaction: NEXTVAL is not transactional anyway,
    // and a rolled-back order just leaves a gap.
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool_.Acquire(deadline));
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows, conn.Query("SELECT NEXTVAL(order_ids)", deadline));
    if (rows.empty()) return Status::Internal("NEXTVAL(order_ids) returned no row");
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t first, rows[0].GetInt64(0));
    next_id_ = first;
    end_id_ = first + kOrderIdBlock;
  }
  return next_id_++;
}

namespace {

// The order whose `column` is `key`: MariaDB where `read` routes it first; else, in
// reserved mode (`reservations` set), the pending or failed reservation in Redis (`find`);
// else the primary (the persister may have confirmed it between the two reads, and a
// replica may not have that commit yet); else `not_found`.
template <typename Key, typename Find>
Result<Order> FindOrder(const RoutedRead& read, Reservations* reservations, Find find, std::string_view column,
                        const Key& key, Status not_found, const lockstep::Deadline& deadline) {
  const std::string sql = lockstep::internal::StrCat(kSelectOrder, "WHERE ", column, " = ?");
  {
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::routing::ReadTransaction tx, read.Begin(deadline));
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows, tx.Query(sql, key));
    if (!rows.empty()) return OrderFromRow(rows[0]);
  }
  if (reservations == nullptr) return not_found;
  LOCKSTEP_ASSIGN_OR_RETURN(std::optional<Order> pending, (reservations->*find)(key, deadline));
  if (pending) return *pending;
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::routing::ReadTransaction tx, read.OnPrimary().Begin(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows, tx.Query(sql, key));
  if (rows.empty()) return not_found;
  return OrderFromRow(rows[0]);
}

}  // namespace

Result<Order> OrderService::Get(int64_t id, const RoutedRead& read, const lockstep::Deadline& deadline) {
  return FindOrder(read, reservations_, &Reservations::FindById, "id", id, Status::NotFound("order ", id, " not found"),
                   deadline);
}

Result<Order> OrderService::GetByRequestId(const std::string& request_id, const RoutedRead& read,
                                           const lockstep::Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(ValidateRequestId(request_id));
  return FindOrder(read, reservations_, &Reservations::FindByRequestId, "request_id", request_id,
                   Status::NotFound("no order with request_id '", request_id, "'"), deadline);
}

void OrderService::CollectMetrics(std::vector<prometheus::MetricFamily>& out) const {
  const lockstep::batch::CoalescerStats stats = coalescer_ != nullptr ? coalescer_->stats() : lockstep::batch::CoalescerStats{};
  out.push_back(lockstep::prometheus::GaugeFamily("shopd_order_batch_queue_depth",
                                                  "Batched-mode orders queued for their product's batch.",
                                                  static_cast<double>(stats.queue_depth)));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_order_batch_shed_total",
      "Batched-mode orders refused with 503 at once: they would have completed after their deadline.",
      static_cast<double>(stats.rejected_shed)));
}

}  // namespace shopd::domain
