#include "domain/orders/reservations.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>

#include "domain/orders/orders.h"
#include "domain/orders/order_json.h"
#include "domain/orders/redis_durability.h"
#include "domain/request_records.h"
#include "lockstep/base/check.h"
#include "lockstep/prometheus/snapshots.h"
#include "lockstep/batch/coalescer.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/script.h"
#include "lockstep/redis/streams.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "lockstep/base/thread_name.h"

namespace shopd::domain {

using lockstep::Result;
using lockstep::Status;
using lockstep::redis::Reply;

namespace {

// One atomic step per order. KEYS: reservation, stock, stream, pending set, order-id index,
// incarnation. ARGV: request_id, digest, product_id, quantity, order_id, user_id, 201 body,
// out-of-stock body before / after the available count.
// Reply {status, body, replayed}: status 0 = request_id used with another digest,
// -1 = the product has no Redis stock yet (initialise, then run again).
const lockstep::redis::Script kReserve(R"lua(
local rec = redis.call('HMGET', KEYS[1], 'digest', 'status', 'body')
if rec[1] then
  if rec[1] ~= ARGV[2] then return {0, '', 0} end
  return {tonumber(rec[2]), rec[3], 1}
end
local stock = redis.call('GET', KEYS[2])
if not stock then return {-1, '', 0} end
if tonumber(stock) < tonumber(ARGV[4]) then
  local body = ARGV[8] .. stock .. ARGV[9]
  redis.call('HSET', KEYS[1], 'digest', ARGV[2], 'status', '409', 'body', body, 'state', 'rejected', 'pid', ARGV[3])
  return {409, body, 0}
end
local inc = redis.call('GET', KEYS[6]) or ''
redis.call('DECRBY', KEYS[2], ARGV[4])
local id = redis.call('XADD', KEYS[3], '*', 'rid', ARGV[1], 'uid', ARGV[6], 'pid', ARGV[3], 'qty', ARGV[4],
                      'oid', ARGV[5], 'digest', ARGV[2], 'body', ARGV[7], 'inc', inc)
redis.call('HSET', KEYS[1], 'digest', ARGV[2], 'status', '201', 'body', ARGV[7], 'state', 'pending',
           'pid', ARGV[3], 'uid', ARGV[6], 'qty', ARGV[4], 'oid', ARGV[5], 'entry', id, 'inc', inc)
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[5], ARGV[1])
return {201, ARGV[7], 0}
)lua");

// KEYS: stock, incarnation. ARGV: stock read from MariaDB, a fresh incarnation token.
// 1 if the stock was set, 0 if it existed.
const lockstep::redis::Script kInitStock(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'NX')
redis.call('SET', KEYS[1], ARGV[1])
return 1
)lua");

constexpr std::string_view kAvailableMarker = "#AVAILABLE#";

std::string NewToken() {
  std::random_device rd;
  std::ostringstream out;
  out << std::hex << rd() << rd() << rd() << rd();
  return out.str();
}

// "<ms>-<seq>" -> ms; 0 if malformed.
int64_t StreamIdMillis(const std::string& id) { return std::strtoll(id.c_str(), nullptr, 10); }

}  // namespace

Result<ReservedKeys> LoadReservedKeys(lockstep::sql::Pool& pool, const std::string& redis_prefix,
                                      const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                            conn.Query("SELECT value FROM shopd_meta WHERE name = 'reserved_keyspace'", deadline));
  if (rows.empty()) return Status::NotFound("shopd_meta has no reserved_keyspace (schema migration 5)");
  LOCKSTEP_ASSIGN_OR_RETURN(std::string token, rows[0].GetString(0));
  return ReservedKeys{redis_prefix + "rsv:" + token + ":"};
}

struct Reservations::Queued {
  OrderRequest request;
  lockstep::redis::Script::Call call;
};

Reservations::Reservations(lockstep::sql::Pool& pool, lockstep::redis::Client& redis, DomainMetrics& metrics,
                           ReservationsOptions options)
    : pool_(pool), redis_(redis), metrics_(metrics), options_(std::move(options)) {
  lockstep::batch::CoalescerOptions c;
  c.name = "reserve-pipe";
  c.threads = 4;
  c.max_batch = 256;
  c.batch_budget = std::chrono::seconds(10);  // Caps a stuck pipeline; members' deadlines end it sooner.
  c.shed_by_deadline = true;  // A reservation that could only expire in the queue: 503 at once.
  auto created = Pipeliner::Create(std::move(c), [this](const int64_t& product_id, std::vector<Queued*>& batch,
                                                       const lockstep::Deadline& deadline) {
    return RunPipeline(product_id, batch, deadline);
  });
  LOCKSTEP_CHECK(created.ok());
  pipeliner_ = std::move(*created);
  refresher_ = std::thread([this] {
    lockstep::SetCurrentThreadName("rsv-refresh");
    RefreshLoop();
  });
}

Reservations::~Reservations() {
  pipeliner_.reset();  // Lets running pipelines finish and answers the queued ones.
  {
    lockstep::MutexLock lock(&mu_);
    stop_ = true;
    stop_cv_.SignalAll();
  }
  refresher_.join();
}

Status Reservations::CheckDurability(const lockstep::Deadline& deadline) {
  const auto now = std::chrono::steady_clock::now();
  {
    lockstep::MutexLock lock(&mu_);
    if (durable_) return Status::Ok();
    if (checked_at_ && now - *checked_at_ < std::chrono::seconds(2)) return last_check_;
  }
  // Outside the lock: a slow Redis must not block requests that could use the cached answer.
  Status s = CheckRedisDurability(redis_, options_.min_fsync, deadline.CappedAt(std::chrono::seconds(2)));
  lockstep::MutexLock lock(&mu_);
  if (s.ok()) durable_ = true;
  last_check_ = s;
  checked_at_ = now;
  return s;
}

bool Reservations::DurabilityConfirmed() const {
  lockstep::MutexLock lock(&mu_);
  return durable_;
}

Result<lockstep::redis::Script::Call> Reservations::Prepare(const OrderRequest& request, int64_t order_id,
                                                           const lockstep::Deadline& deadline) {
  if (Status s = CheckDurability(deadline); !s.ok()) {
    return Status::Unavailable("stock_mode 'reserved' is refused: ", s.message());
  }
  const int64_t backlog = pending();
  if (backlog > options_.max_pending) {
    DomainMetrics::Add(metrics_.reserved_backpressure);
    return Status::Unavailable(backlog, " reservations wait for the persister (bound reserved_max_pending = ",
                               options_.max_pending, "); retry later");
  }
  const std::string pending_body =
      OrderBody(order_id, request.request_id, request.user_id, request.product_id, request.quantity, "pending");
  const std::string oos = reply::Outcome::Error(Status::FailedPrecondition("product ", request.product_id, " has ",
                                                                    kAvailableMarker, " units left, the order asks for ",
                                                                    request.quantity)
                                             .WithReason("out_of_stock"))
                              .body;
  const size_t at = oos.find(kAvailableMarker);
  const ReservedKeys& k = options_.keys;
  lockstep::redis::Script::Call call;
  call.keys = {k.Reservation(request.request_id), k.Stock(request.product_id), k.Stream(),
               k.Pending(),  k.OrderIds(),         k.Incarnation()};
  call.args = {request.request_id,
               request.Digest(),
               std::to_string(request.product_id),
               std::to_string(request.quantity),
               std::to_string(order_id),
               std::to_string(request.user_id),
               pending_body,
               oos.substr(0, at),
               at == std::string::npos ? "" : oos.substr(at + kAvailableMarker.size())};
  return call;
}

namespace {
// The reserve script's answer. Sets *stock_missing (and returns kNotFound) when the
// product's Redis stock does not exist yet: initialise it, then run the call again.
Result<reply::Outcome> InterpretReserveReply(const Result<Reply>& reply, bool* stock_missing) {
  *stock_missing = false;
  if (!reply.ok()) return reply.status();
  const auto& a = reply->array();
  if (a.size() != 3 || !a[0].is_integer() || !a[2].is_integer()) {
    return Status::Internal("reserve script answered ", reply->DebugString());
  }
  const int64_t status = a[0].integer();
  if (status == -1) {
    *stock_missing = true;
    return Status::NotFound("the product's Redis stock is not initialised");
  }
  if (status == 0) return RequestIdConflict();
  return reply::Outcome{static_cast<int>(status), a[1].str(), a[2].integer() == 1, {}};
}
}  // namespace

void Reservations::Reserve(const OrderRequest& request, int64_t order_id, const lockstep::Deadline& deadline,
                           Done done) {
  Result<lockstep::redis::Script::Call> call = Prepare(request, order_id, deadline);
  if (!call.ok()) return done(call.status());
  Status queued = pipeliner_->Submit(request.product_id, Queued{request, std::move(*call)}, deadline, done);
  if (!queued.ok()) done(std::move(queued));
}

Result<std::vector<Result<reply::Outcome>>> Reservations::RunPipeline(int64_t /*product_id*/, std::vector<Queued*>& batch,
                                                               const lockstep::Deadline& deadline) {
  std::vector<lockstep::redis::Script::Call> calls;
  calls.reserve(batch.size());
  for (Queued* q : batch) calls.push_back(std::move(q->call));
  LOCKSTEP_ASSIGN_OR_RETURN(std::vector<Result<Reply>> replies, kReserve.RunPipelined(redis_, calls, deadline));
  std::vector<Result<reply::Outcome>> results;
  results.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    bool stock_missing = false;
    Result<reply::Outcome> outcome = InterpretReserveReply(replies[i], &stock_missing);
    // Rare (first order of a product, or after Redis lost its data): on its own.
    if (stock_missing) outcome = RunOne(batch[i]->request, calls[i], deadline);
    results.push_back(std::move(outcome));
  }
  return results;
}

Result<reply::Outcome> Reservations::RunOne(const OrderRequest& request, const lockstep::redis::Script::Call& call,
                                     const lockstep::Deadline& deadline) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    LOCKSTEP_RETURN_IF_ERROR(InitStock(request.product_id, deadline));
    bool stock_missing = false;
    Result<reply::Outcome> outcome =
        InterpretReserveReply(kReserve.Run(redis_, call.keys, call.args, deadline), &stock_missing);
    if (!stock_missing) return outcome;
  }
  return Status::Unavailable("the Redis stock of product ", request.product_id, " keeps disappearing");
}

// Why SET NX of the MariaDB stock counts no order twice (and none zero times):
// MariaDB stock = initial - orders persisted; the Redis stock must equal MariaDB stock -
// reservations not yet persisted. (1) The reserve script never reserves without the stock
// key, so while it is absent no reservation of this product exists (unless Redis lost its
// data, see 3) and MariaDB's stock is exact; every instance that finds the key absent reads
// the same value, and SET NX lets only the first write it. (2) The read is a locking read
// (FOR UPDATE) held until after the SET, and the persister takes the same row lock before
// it writes; so no persister commit of this product falls between our read and our SET.
// (3) If Redis lost its data, reservations read by a persister before the loss must not be
// committed after our read: the stock key is created together with an incarnation token
// (kInitStock), every stream entry carries the token it was reserved under, and the
// persister compares it with the current token under the product row lock before it
// commits. Entries of a lost incarnation are therefore either committed before our locked
// read (and counted in it) or never.
Status Reservations::InitStock(int64_t product_id, const lockstep::Deadline& deadline) {
  const std::string token = NewToken();
  bool set = false;
  lockstep::sql::RunOptions options;
  options.tx.isolation = lockstep::sql::IsolationLevel::kReadCommitted;
  LOCKSTEP_RETURN_IF_ERROR(lockstep::sql::RunInTransaction(
      pool_, options, deadline, [&](lockstep::sql::Transaction& tx) -> Status {
        LOCKSTEP_ASSIGN_OR_RETURN(
            lockstep::sql::Rows rows,
            tx.Query("SELECT stock FROM products WHERE id = ? AND stock_mode = 'reserved' FOR UPDATE", product_id));
        if (rows.empty()) return Status::NotFound("product ", product_id, " not found in stock_mode 'reserved'");
        LOCKSTEP_ASSIGN_OR_RETURN(int64_t stock, rows[0].GetInt64(0));
        LOCKSTEP_ASSIGN_OR_RETURN(Reply r, kInitStock.Run(redis_, {options_.keys.Stock(product_id), options_.keys.Incarnation()},
                                                          {std::to_string(stock), token}, tx.deadline()));
        set = r.is_integer() && r.integer() == 1;
        return Status::Ok();
      }));
  if (set) DomainMetrics::Add(metrics_.reserved_stock_inits);
  return Status::Ok();
}

Result<std::optional<Order>> Reservations::FindById(int64_t id, const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(Reply r, redis_.Command({"HGET", options_.keys.OrderIds(), std::to_string(id)}, deadline));
  if (r.is_nil()) return std::optional<Order>();
  return FindReservation(r.str(), deadline);
}

Result<std::optional<Order>> Reservations::FindByRequestId(const std::string& request_id,
                                                           const lockstep::Deadline& deadline) {
  return FindReservation(request_id, deadline);
}

Result<std::optional<Order>> Reservations::FindReservation(const std::string& request_id,
                                                           const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(
      Reply r, redis_.Command({"HMGET", options_.keys.Reservation(request_id), "state", "pid", "uid", "qty", "oid"},
                              deadline));
  const auto& a = r.array();
  if (a.size() != 5 || a[0].is_nil()) return std::optional<Order>();
  const std::string state = a[0].str();
  if (state != "pending" && state != "failed") return std::optional<Order>();
  Order o;
  o.request_id = request_id;
  o.status = state;
  LOCKSTEP_ASSIGN_OR_RETURN(o.product_id, a[1].AsInteger());
  LOCKSTEP_ASSIGN_OR_RETURN(o.user_id, a[2].AsInteger());
  LOCKSTEP_ASSIGN_OR_RETURN(o.quantity, a[3].AsInteger());
  LOCKSTEP_ASSIGN_OR_RETURN(o.id, a[4].AsInteger());
  return std::optional<Order>(o);
}

void Reservations::RefreshLoop() {
  for (;;) {
    {
      lockstep::MutexLock lock(&mu_);
      const lockstep::Deadline until = lockstep::Deadline::After(options_.refresh_interval);
      while (!stop_ && !until.expired()) stop_cv_.WaitUntil(&mu_, until);
      if (stop_) return;
    }
    Refresh();
  }
}

void Reservations::Refresh() {
  const lockstep::Deadline deadline = lockstep::Deadline::After(std::chrono::seconds(2));
  const ReservedKeys& k = options_.keys;
  if (auto n = redis_.Command({"SCARD", k.Pending()}, deadline); n.ok() && n->is_integer()) {
    pending_.store(n->integer(), std::memory_order_relaxed);
  }
  // XINFO GROUPS: [[name, persister, consumers, n, pending, n, last-delivered-id, id,
  // entries-read, n, lag, n|nil], ...]. A missing stream is an error: nothing to report.
  if (auto groups = redis_.Command({"XINFO", "GROUPS", k.Stream()}, deadline); groups.ok()) {
    for (const Reply& g : groups->array()) {
      const auto& f = g.array();
      bool ours = false;
      int64_t lag = 0, unacked = 0;
      for (size_t i = 0; i + 1 < f.size(); i += 2) {
        const std::string& name = f[i].str();
        if (name == "name") ours = f[i + 1].str() == ReservedKeys::kGroup;
        if (name == "lag" && f[i + 1].is_integer()) lag = f[i + 1].integer();
        if (name == "pending" && f[i + 1].is_integer()) unacked = f[i + 1].integer();
      }
      if (ours) {
        stream_lag_.store(lag, std::memory_order_relaxed);
        unacked_.store(unacked, std::memory_order_relaxed);
      }
    }
  }
  if (auto p = lockstep::redis::XPendingSummary(redis_, k.Stream(), ReservedKeys::kGroup, deadline); p.ok()) {
    int64_t age = 0;
    if (p->count > 0) {
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      age = std::max<int64_t>(0, now_ms - StreamIdMillis(p->min_id));
    }
    oldest_unacked_ms_.store(age, std::memory_order_relaxed);
  }
}

void Reservations::CollectMetrics(std::vector<prometheus::MetricFamily>& out) const {
  auto gauge = [&out](const char* name, const char* help, double v) {
    out.push_back(lockstep::prometheus::GaugeFamily(name, help, v));
  };
  gauge("shopd_reserved_pending", "Reservations (reserved mode) not yet confirmed or failed in MariaDB.",
        static_cast<double>(pending_.load(std::memory_order_relaxed)));
  gauge("shopd_reserved_persister_lag", "Stream entries no persister has read yet (XINFO GROUPS lag).",
        static_cast<double>(stream_lag_.load(std::memory_order_relaxed)));
  gauge("shopd_reserved_persister_unacked", "Stream entries read by a persister and not yet acknowledged.",
        static_cast<double>(unacked_.load(std::memory_order_relaxed)));
  gauge("shopd_reserved_persister_oldest_unacked_seconds", "Age of the oldest unacknowledged stream entry.",
        static_cast<double>(oldest_unacked_ms_.load(std::memory_order_relaxed)) / 1000);
  gauge("shopd_reserved_max_pending", "Back-pressure bound (reserved_max_pending).",
        static_cast<double>(options_.max_pending));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_reserved_shed_total",
      "Reservations refused with 503 at once: their Redis pipeline would have completed after their deadline.",
      static_cast<double>(pipeliner_->stats().rejected_shed)));
}

}  // namespace shopd::domain
