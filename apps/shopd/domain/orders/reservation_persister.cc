#include "domain/orders/reservation_persister.h"

#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "domain/multi_row.h"
#include "domain/orders/order_rows.h"
#include "lockstep/base/backoff.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/script.h"
#include "lockstep/redis/streams.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "lockstep/base/thread_name.h"

namespace shopd::domain {

using lockstep::Result;
using lockstep::Status;

namespace {

// KEYS: pending set, then per reservation its hash and its product's stock key.
// ARGV: per reservation: new state (confirmed|failed), quantity, request_id.
// Only a reservation still `pending` changes (idempotent); `failed` returns its units.
const lockstep::redis::Script kSettle(R"lua(
local n = 0
for i = 1, #ARGV, 3 do
  local j = (i - 1) / 3
  local res = KEYS[2 + 2 * j]
  local stock = KEYS[3 + 2 * j]
  if redis.call('HGET', res, 'state') == 'pending' then
    if ARGV[i] == 'failed' and redis.call('EXISTS', stock) == 1 then
      redis.call('INCRBY', stock, ARGV[i + 1])
    end
    redis.call('HSET', res, 'state', ARGV[i])
    redis.call('SREM', KEYS[1], ARGV[i + 2])
    n = n + 1
  end
end
return n
)lua");

Result<int64_t> ToInt64(const std::string& s, std::string_view field) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return Status::InvalidArgument("reservation entry field '", field, "' is not an integer: '", s, "'");
  }
  return v;
}

}  // namespace

Result<ReservationEntry> ReservationEntry::FromFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::map<std::string_view, const std::string*> f;
  for (const auto& [k, v] : fields) f[k] = &v;
  for (const char* need : {"rid", "uid", "pid", "qty", "oid", "digest", "body", "inc"}) {
    if (f.count(need) == 0) return Status::InvalidArgument("reservation entry lacks field '", need, "'");
  }
  ReservationEntry e;
  e.request_id = *f["rid"];
  LOCKSTEP_ASSIGN_OR_RETURN(e.user_id, ToInt64(*f["uid"], "uid"));
  LOCKSTEP_ASSIGN_OR_RETURN(e.product_id, ToInt64(*f["pid"], "pid"));
  LOCKSTEP_ASSIGN_OR_RETURN(e.quantity, ToInt64(*f["qty"], "qty"));
  LOCKSTEP_ASSIGN_OR_RETURN(e.order_id, ToInt64(*f["oid"], "oid"));
  e.digest = *f["digest"];
  e.body = *f["body"];
  e.incarnation = *f["inc"];
  return e;
}

std::vector<std::pair<std::string, std::string>> ReservationEntry::ToFields() const {
  return {{"rid", request_id},
          {"uid", std::to_string(user_id)},
          {"pid", std::to_string(product_id)},
          {"qty", std::to_string(quantity)},
          {"oid", std::to_string(order_id)},
          {"digest", digest},
          {"body", body},
          {"inc", incarnation}};
}

Status ReservationPersister::Settle(lockstep::redis::Client& redis, const ReservedKeys& keys,
                                    const std::vector<ReservationEntry>& confirmed,
                                    const std::vector<ReservationEntry>& failed, const lockstep::Deadline& deadline) {
  std::vector<std::string> k = {keys.Pending()};
  std::vector<std::string> a;
  auto add = [&](const ReservationEntry& e, const char* state) {
    k.push_back(keys.Reservation(e.request_id));
    k.push_back(keys.Stock(e.product_id));
    a.push_back(state);
    a.push_back(std::to_string(e.quantity));
    a.push_back(e.request_id);
  };
  for (const auto& e : failed) add(e, "failed");
  for (const auto& e : confirmed) add(e, "confirmed");
  if (a.empty()) return Status::Ok();
  return kSettle.Run(redis, k, a, deadline).status();
}

Result<std::unique_ptr<ReservationPersister>> ReservationPersister::Start(lockstep::sql::Pool& pool,
                                                                         lockstep::redis::Client& redis,
                                                                         DomainMetrics& metrics,
                                                                         ReservationPersisterOptions options) {
  std::unique_ptr<ReservationPersister> p(new ReservationPersister(pool, redis, metrics, std::move(options)));
  lockstep::redis::StreamConsumerOptions& c = p->consumer_options_;
  c.stream = p->options_.keys.Stream();
  c.group = std::string(ReservedKeys::kGroup);
  c.consumer = p->options_.consumer;
  c.group_start_id = "0";
  c.batch_size = p->options_.batch_size;
  c.claim_idle = p->options_.claim_idle;
  c.claim_interval = std::min(std::chrono::milliseconds(1'000), p->options_.claim_idle);
  ReservationPersister* self = p.get();
  c.on_error = [self](const Status& s) {
    DomainMetrics::Add(self->metrics_.reserved_persist_failures);
    if (self->options_.on_error) self->options_.on_error(s);
    // The group vanished (Redis lost its data, or an operator deleted the stream): recreate
    // it so reservations made from now on are persisted again.
    if (s.code() == lockstep::StatusCode::kNotFound && s.reason() == "nogroup") {
      (void)lockstep::redis::XGroupCreate(self->redis_, self->options_.keys.Stream(), ReservedKeys::kGroup, "0",
                                          /*mkstream=*/true, lockstep::Deadline::After(std::chrono::seconds(2)));
    }
  };
  LOCKSTEP_RETURN_IF_ERROR(c.Validate());
  if (Status s = p->TryStart(); !s.ok()) {
    if (s.code() == lockstep::StatusCode::kInvalidArgument) return s;
    c.on_error(Status(s).Annotate("starting the persister (retrying)"));
    p->starter_ = std::thread([self] {
      lockstep::SetCurrentThreadName("persister-start");
      self->StartLoop();
    });
  }
  return p;
}

Status ReservationPersister::TryStart() {
  LOCKSTEP_ASSIGN_OR_RETURN(
      std::unique_ptr<lockstep::redis::StreamConsumer> consumer,
      lockstep::redis::StreamConsumer::Start(
          redis_, consumer_options_,
          [this](std::vector<lockstep::redis::StreamEntry>& entries, std::vector<Status>& per_entry) {
            return Handle(entries, per_entry);
          }));
  lockstep::MutexLock lock(&mu_);
  consumer_ = std::move(consumer);
  return Status::Ok();
}

void ReservationPersister::StartLoop() {
  lockstep::Backoff backoff(consumer_options_.retry_backoff);
  for (;;) {
    {
      lockstep::MutexLock lock(&mu_);
      const lockstep::Deadline until = lockstep::Deadline::After(backoff.NextDelay());
      while (!stop_ && !until.expired()) stop_cv_.WaitUntil(&mu_, until);
      if (stop_) return;
    }
    const Status s = TryStart();
    if (s.ok()) return;
    consumer_options_.on_error(Status(s).Annotate("starting the persister (retrying)"));
  }
}

ReservationPersister::ReservationPersister(lockstep::sql::Pool& pool, lockstep::redis::Client& redis,
                                           DomainMetrics& metrics, ReservationPersisterOptions options)
    : pool_(pool), redis_(redis), metrics_(metrics), options_(std::move(options)) {}

ReservationPersister::~ReservationPersister() {
  {
    lockstep::MutexLock lock(&mu_);
    stop_ = true;
    stop_cv_.SignalAll();
  }
  if (starter_.joinable()) starter_.join();
  std::unique_ptr<lockstep::redis::StreamConsumer> consumer;
  {
    lockstep::MutexLock lock(&mu_);
    consumer = std::move(consumer_);
  }
  if (consumer) consumer->Stop();
}

Status ReservationPersister::Handle(std::vector<lockstep::redis::StreamEntry>& entries,
                                    std::vector<Status>& per_entry) {
  const lockstep::Deadline deadline = lockstep::Deadline::After(std::chrono::seconds(30));
  const size_t n = entries.size();
  std::vector<std::optional<ReservationEntry>> parsed(n);
  for (size_t i = 0; i < n; ++i) {
    auto e = ReservationEntry::FromFields(entries[i].fields);
    if (e.ok()) {
      parsed[i] = std::move(*e);
    } else {
      per_entry[i] = Status(e.status()).Annotate("stream entry " + entries[i].id);
    }
  }
  enum class Decision { kSkip, kInsert, kDone, kFail };
  std::vector<Decision> decision(n, Decision::kSkip);
  lockstep::sql::RunOptions options;
  options.tx.isolation = lockstep::sql::IsolationLevel::kReadCommitted;
  lockstep::sql::RunStats stats;
  const Status status = lockstep::sql::RunInTransaction(
      pool_, options, deadline,
      [&](lockstep::sql::Transaction& tx) -> Status {
        decision.assign(n, Decision::kSkip);
        std::set<int64_t> product_set;
        std::set<std::string_view> rid_set;
        for (const auto& e : parsed) {
          if (!e) continue;
          product_set.insert(e->product_id);
          rid_set.insert(e->request_id);
        }
        if (rid_set.empty()) return Status::Ok();
        // 1. Lock the products (ascending ids: no lock-order deadlocks between persisters).
        //    Batched/row_lock orders and InitStock take the same row locks.
        std::vector<std::tuple<int64_t>> pids(product_set.begin(), product_set.end());
        std::map<int64_t, int64_t> stock;
        LOCKSTEP_RETURN_IF_ERROR(QueryMultiRow(
            tx, "SELECT id, stock FROM products WHERE id IN (", "?", ") ORDER BY id FOR UPDATE", pids,
            [&](const lockstep::sql::Row& row) -> Status {
              LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, row.GetInt64(0));
              LOCKSTEP_ASSIGN_OR_RETURN(stock[id], row.GetInt64(1));
              return Status::Ok();
            }));
        // 2. Under those locks: entries reserved under another Redis incarnation (Redis lost
        //    its data meanwhile; see Reservations::InitStock) are never written.
        LOCKSTEP_ASSIGN_OR_RETURN(std::optional<std::string> incarnation,
                                  redis_.Get(options_.keys.Incarnation(), tx.deadline()));
        // 3. What MariaDB already has for these request_ids.
        std::vector<std::tuple<std::string_view>> rids(rid_set.begin(), rid_set.end());
        std::map<std::string, int64_t, std::less<>> existing;  // request_id -> order id.
        LOCKSTEP_RETURN_IF_ERROR(QueryMultiRow(tx, "SELECT request_id, id FROM orders WHERE request_id IN (", "?", ")",
                                               rids, [&](const lockstep::sql::Row& row) -> Status {
                                                 LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, row.GetString(0));
                                                 LOCKSTEP_ASSIGN_OR_RETURN(existing[rid], row.GetInt64(1));
                                                 return Status::Ok();
                                               }));
        std::set<std::string, std::less<>> recorded;
        LOCKSTEP_RETURN_IF_ERROR(QueryMultiRow(
            tx, "SELECT request_id FROM request_records WHERE scope = 'order' AND request_id IN (", "?", ")", rids,
            [&](const lockstep::sql::Row& row) -> Status {
              LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, row.GetString(0));
              recorded.insert(std::move(rid));
              return Status::Ok();
            }));
        // 4. Decide per entry, in stream order.
        std::vector<OrderRow> order_rows;
        std::vector<OrderRecordRow> record_rows;
        std::map<int64_t, int64_t> taken;
        std::map<std::string_view, size_t> first;
        for (size_t i = 0; i < n; ++i) {
          if (!parsed[i]) continue;
          const ReservationEntry& e = *parsed[i];
          if (!incarnation || *incarnation != e.incarnation) {
            per_entry[i] = Status::FailedPrecondition("stream entry ", entries[i].id, " (request_id ", e.request_id,
                                                      ") belongs to a lost Redis incarnation");
            continue;
          }
          if (auto it = existing.find(e.request_id); it != existing.end()) {
            // Written before (redelivery) or another order owns the request_id.
            decision[i] = it->second == e.order_id ? Decision::kDone : Decision::kFail;
            continue;
          }
          if (auto [it, added] = first.emplace(e.request_id, i); !added) {
            // The same reservation twice (re-added by reconcile): the first decides.
            decision[i] = Decision::kDone;
            continue;
          }
          auto s = stock.find(e.product_id);
          if (recorded.count(e.request_id) != 0 || s == stock.end() || s->second < e.quantity) {
            decision[i] = Decision::kFail;
            continue;
          }
          s->second -= e.quantity;
          taken[e.product_id] += e.quantity;
          decision[i] = Decision::kInsert;
          order_rows.emplace_back(e.order_id, e.request_id, e.user_id, e.product_id, e.quantity);
          record_rows.emplace_back(e.request_id, e.digest, int64_t{201}, e.body);
        }
        // 5. Stock decremented by exactly the rows inserted, in the same transaction.
        LOCKSTEP_RETURN_IF_ERROR(ApplyOrders(tx, taken, order_rows, record_rows));
        return Status::Ok();
      },
      &stats);
  DomainMetrics::Add(metrics_.tx_retries, stats.retries);
  DomainMetrics::Add(metrics_.deadlocks, stats.deadlocks);
  // kAlreadyExists: another persister wrote one of these request_ids concurrently (a
  // claimed entry); the rerun by the StreamConsumer sees its row and decides again.
  LOCKSTEP_RETURN_IF_ERROR(Status(status).Annotate("persisting " + std::to_string(n) + " reservations"));

  std::vector<ReservationEntry> confirmed, failed;
  int64_t inserted = 0;
  std::set<int64_t> stock_changed;
  for (size_t i = 0; i < n; ++i) {
    if (decision[i] == Decision::kInsert) {
      ++inserted;
      stock_changed.insert(parsed[i]->product_id);
    }
    if (decision[i] == Decision::kInsert || decision[i] == Decision::kDone) confirmed.push_back(*parsed[i]);
    if (decision[i] == Decision::kFail) {
      failed.push_back(*parsed[i]);
      if (options_.on_error) {
        options_.on_error(Status::FailedPrecondition("reservation ", parsed[i]->request_id, " (order ",
                                                     parsed[i]->order_id,
                                                     ") cannot be written: its request_id is used by another order, "
                                                     "or its product lacks the stock in MariaDB; marked failed and its ",
                                                     parsed[i]->quantity, " units returned to the Redis stock"));
      }
    }
  }
  LOCKSTEP_RETURN_IF_ERROR(
      Settle(redis_, options_.keys, confirmed, failed, deadline).Annotate("marking reservations confirmed/failed"));
  if (options_.on_stock_changed) {
    for (int64_t product_id : stock_changed) options_.on_stock_changed(product_id);
  }
  DomainMetrics::Add(metrics_.reserved_persist_batches);
  DomainMetrics::Add(metrics_.reserved_persisted, inserted);
  DomainMetrics::Add(metrics_.reserved_failed, static_cast<int64_t>(failed.size()));
  return Status::Ok();
}

}  // namespace shopd::domain
