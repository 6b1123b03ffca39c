#include "domain/checkouts/checkout_service.h"

#include <spdlog/spdlog.h>

#include "domain/checkouts/checkout_participants.h"
#include "domain/events/events.h"
#include "domain/orders/orders.h"
#include "domain/products/products.h"
#include "domain/request_records.h"
#include "lockstep/base/backoff.h"
#include "lockstep/prometheus/snapshots.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "lockstep/sql/transaction.h"

namespace shopd::domain {

using lockstep::Deadline;
using lockstep::Result;
using lockstep::Status;
using lockstep::StatusCode;
using lockstep::tcc::GlobalState;

namespace {

constexpr std::string_view kScope = "checkout";  // InFlight scope.
constexpr int kSweepBatch = 100;

std::string Gid(int64_t checkout_id) { return "checkout-" + std::to_string(checkout_id); }

// The checkout's reason for a cancelled global transaction's cause (code + reason).
std::string ReasonOf(StatusCode code, std::string_view reason) {
  if (reason == kReasonInsufficientFunds || reason == kReasonOutOfStock) return std::string(reason);
  if (reason == lockstep::tcc::kReasonRecoveredTimeout || code == StatusCode::kDeadlineExceeded ||
      code == StatusCode::kUnknown) {
    return std::string(kReasonTimeout);
  }
  return std::string(kReasonUnavailable);
}

// Every read of a checkout: the row, and its log row (LEFT JOIN: none before Execute logs it).
constexpr std::string_view kSelect =
    "SELECT c.id, c.request_id, c.request_digest, c.account_id, c.product_id, c.quantity, c.amount, c.merchant_id, "
    "c.order_id, c.status, c.reason, g.state, g.code, g.reason FROM checkouts c "
    "LEFT JOIN tcc_global g ON g.gid = CONCAT('checkout-', c.id) ";

struct Loaded {
  CheckoutRecord record;
  bool logged = false;  // The log has the global transaction.
};

Result<Loaded> FromRow(const lockstep::sql::Row& row) {
  Loaded l;
  CheckoutRecord& c = l.record;
  LOCKSTEP_ASSIGN_OR_RETURN(c.id, row.GetInt64(0));
  LOCKSTEP_ASSIGN_OR_RETURN(c.request_id, row.GetString(1));
  LOCKSTEP_ASSIGN_OR_RETURN(c.digest, row.GetString(2));
  LOCKSTEP_ASSIGN_OR_RETURN(c.account_id, row.GetInt64(3));
  LOCKSTEP_ASSIGN_OR_RETURN(c.product_id, row.GetInt64(4));
  LOCKSTEP_ASSIGN_OR_RETURN(c.quantity, row.GetInt64(5));
  LOCKSTEP_ASSIGN_OR_RETURN(c.amount, row.GetInt64(6));
  LOCKSTEP_ASSIGN_OR_RETURN(c.merchant_id, row.GetInt64(7));
  LOCKSTEP_ASSIGN_OR_RETURN(c.order_id, row.GetInt64(8));
  LOCKSTEP_ASSIGN_OR_RETURN(const std::string status, row.GetString(9));
  LOCKSTEP_ASSIGN_OR_RETURN(c.reason, row.GetString(10));
  if (status == "completed") {
    c.status = CheckoutStatus::kCompleted;
  } else if (status == "cancelled") {
    c.status = CheckoutStatus::kCancelled;
  }
  LOCKSTEP_ASSIGN_OR_RETURN(const bool no_log, row.IsNull(11));
  l.logged = !no_log;
  if (!no_log && c.status == CheckoutStatus::kTrying) {
    // The row is written after the log settles: a settled log wins.
    LOCKSTEP_ASSIGN_OR_RETURN(const std::string state, row.GetString(11));
    if (state == lockstep::tcc::GlobalStateName(GlobalState::kConfirmed)) {
      c.status = CheckoutStatus::kCompleted;
    } else if (state == lockstep::tcc::GlobalStateName(GlobalState::kCancelled)) {
      LOCKSTEP_ASSIGN_OR_RETURN(const int64_t code, row.GetInt64(12));
      LOCKSTEP_ASSIGN_OR_RETURN(const std::string reason, row.GetString(13));
      c.status = CheckoutStatus::kCancelled;
      c.reason = ReasonOf(static_cast<StatusCode>(code), reason);
    }
  }
  return l;
}

}  // namespace

CheckoutService::CheckoutService(lockstep::sql::Pool& shop, lockstep::sql::Pool& payments, OrderService& orders,
                                 ProductService& products, InFlight& in_flight, CheckoutServiceOptions options)
    : shop_(shop),
      payments_(payments),
      orders_(orders),
      products_(products),
      in_flight_(in_flight),
      options_(std::move(options)) {}

Result<std::unique_ptr<CheckoutService>> CheckoutService::Start(lockstep::sql::Pool& shop, lockstep::sql::Pool& payments,
                                                                lockstep::lock::LockService& locks, OrderService& orders,
                                                                ProductService& products, InFlight& in_flight,
                                                                CheckoutServiceOptions options,
                                                                const Deadline& deadline) {
  if (options.merchant_account <= 0) return Status::InvalidArgument("checkout: the merchant account must be > 0");
  if (options.recovery < std::chrono::milliseconds(100)) {
    return Status::InvalidArgument("checkout: checkout_recovery_ms must be >= 100");
  }
  const std::chrono::milliseconds r = options.recovery;
  std::unique_ptr<CheckoutService> s(new CheckoutService(shop, payments, orders, products, in_flight, options));
  LOCKSTEP_ASSIGN_OR_RETURN(s->pay_, MakePaymentsParticipant(payments, options.observer));
  LOCKSTEP_ASSIGN_OR_RETURN(s->stock_, MakeShopParticipant(shop, options.observer));
  lockstep::tcc::CoordinatorOptions co;
  co.phase_two_timeout = r / 8;
  co.recovery_after = r / 3;
  co.recovery_interval = r / 20;
  co.recovery_lock = "checkout:recovery";
  co.recovery_lock_options.lease = r / 5;
  co.recovery_lock_options.poll_interval = std::max(std::chrono::milliseconds(10), r / 20);
  co.observer = options.observer;
  co.hooks = options.hooks;
  LOCKSTEP_ASSIGN_OR_RETURN(s->coordinator_,
                            lockstep::tcc::Coordinator::Create(shop, locks, {s->pay_.get(), s->stock_.get()}, co));
  LOCKSTEP_RETURN_IF_ERROR(s->pay_->CreateSchema(deadline));
  LOCKSTEP_RETURN_IF_ERROR(s->stock_->CreateSchema(deadline));
  LOCKSTEP_RETURN_IF_ERROR(s->coordinator_->CreateSchema(deadline));
  CheckoutService* raw = s.get();
  s->recovery_ = std::thread([raw] { raw->RecoveryLoop(); });
  return s;
}

CheckoutService::~CheckoutService() {
  {
    lockstep::MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (recovery_.joinable()) recovery_.join();
}

Result<reply::Outcome> CheckoutService::Checkout(const CheckoutRequest& request, const Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(request.Validate());
  if (request.account_id == options_.merchant_account) {
    return Status::InvalidArgument("account ", request.account_id, " is the merchant: it cannot buy from itself");
  }
  const std::string digest = request.Digest();
  LOCKSTEP_ASSIGN_OR_RETURN(InFlight::Ticket ticket, in_flight_.Enter(kScope, request.request_id, deadline));

  auto replay = [&](const CheckoutRecord& existing) -> Result<reply::Outcome> {
    if (existing.digest != digest) return RequestIdConflict();
    LOCKSTEP_ASSIGN_OR_RETURN(const CheckoutRecord settled, AwaitSettled(existing, deadline));
    reply::Outcome o = SettledOutcome(settled);
    o.replayed = true;
    return o;
  };
  LOCKSTEP_ASSIGN_OR_RETURN(std::optional<CheckoutRecord> existing,
                            Load("c.request_id = ?", request.request_id, deadline));
  if (existing) return replay(*existing);

  // Lookups: 400/404 here record nothing.
  LOCKSTEP_ASSIGN_OR_RETURN(const Product product, products_.Get(request.product_id, deadline));
  if (product.stock_mode == StockMode::kReserved) {
    return Status::InvalidArgument("product ", product.id,
                                   " uses stock_mode reserved (stock in Redis): checkouts need row_lock or batched");
  }
  CheckoutRecord c;
  if (__builtin_mul_overflow(product.price, request.quantity, &c.amount)) {
    return Status::InvalidArgument("price x quantity exceeds the largest amount");
  }
  {
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, payments_.Acquire(deadline));
    LOCKSTEP_ASSIGN_OR_RETURN(const lockstep::sql::Rows rows,
                              conn.Query("SELECT id FROM accounts WHERE id IN (?, ?)", request.account_id,
                                         options_.merchant_account, deadline));
    bool buyer = false;
    bool merchant = false;
    for (const auto& row : rows) {
      LOCKSTEP_ASSIGN_OR_RETURN(const int64_t id, row.GetInt64(0));
      buyer = buyer || id == request.account_id;
      merchant = merchant || id == options_.merchant_account;
    }
    if (!buyer) return Status::NotFound("account ", request.account_id, " not found");
    if (!merchant) {
      return Status::Unavailable("the merchant account ", options_.merchant_account,
                                 " (--checkout-merchant-account) does not exist");
    }
  }
  LOCKSTEP_ASSIGN_OR_RETURN(c.order_id, orders_.AllocateOrderId(deadline));
  c.request_id = request.request_id;
  c.digest = digest;
  c.account_id = request.account_id;
  c.product_id = request.product_id;
  c.quantity = request.quantity;
  c.merchant_id = options_.merchant_account;
  {
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, shop_.Acquire(deadline));
    const Result<lockstep::sql::ExecResult> inserted = conn.Execute(
        "INSERT INTO checkouts (request_id, request_digest, account_id, product_id, quantity, amount, merchant_id, "
        "order_id, status, reason, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'trying', '', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
        c.request_id, c.digest, c.account_id, c.product_id, c.quantity, c.amount, c.merchant_id, c.order_id, deadline);
    if (!inserted.ok() && inserted.status().code() == StatusCode::kAlreadyExists) {
      // Another instance took this request_id first.
      conn = lockstep::sql::PooledConnection();
      LOCKSTEP_ASSIGN_OR_RETURN(existing, Load("c.request_id = ?", request.request_id, deadline));
      if (!existing) return Status::Internal("checkout ", request.request_id, " vanished");
      return replay(*existing);
    }
    // kUnknown (the INSERT may have committed): a retry finds the row; the sweep runs it.
    LOCKSTEP_RETURN_IF_ERROR(inserted.status());
    c.id = static_cast<int64_t>(inserted->last_insert_id);
  }
  Result<CheckoutRecord> settled = Run(c, deadline);
  if (!settled.ok()) {
    undecided_.fetch_add(1, std::memory_order_relaxed);
    return settled.status();
  }
  if (settled->status == CheckoutStatus::kCompleted) {
    completed_.fetch_add(1, std::memory_order_relaxed);
  } else if (settled->reason == kReasonInsufficientFunds || settled->reason == kReasonOutOfStock) {
    refused_.fetch_add(1, std::memory_order_relaxed);
  } else {
    cancelled_.fetch_add(1, std::memory_order_relaxed);
  }
  return SettledOutcome(*settled);
}

Result<CheckoutRecord> CheckoutService::Run(CheckoutRecord c, const Deadline& deadline) {
  const StockBranch stock{c.id, c.product_id, c.quantity, c.order_id, c.account_id};
  const PaymentBranch pay{c.account_id, c.amount, c.merchant_id};
  // Shop first: an out-of-stock refusal (the common one in a sale) then costs payments no
  // more than an empty rollback.
  const std::vector<lockstep::tcc::BranchSpec> branches = {
      {"shop", std::string(kShopParticipant), stock.Encode()},
      {"pay", std::string(kPaymentsParticipant), pay.Encode()}};
  Result<lockstep::tcc::Outcome> out =
      coordinator_->Execute(Gid(c.id), branches, std::to_string(c.id), deadline.CappedAt(options_.recovery / 8));
  products_.StockChanged(c.product_id);  // A Try or Cancel may have moved its stock.
  if (!out.ok()) {
    const Status& s = out.status();
    if (s.code() == StatusCode::kAlreadyExists || s.reason() == lockstep::tcc::kReasonTakenOver) {
      return AwaitSettled(std::move(c), deadline);  // Someone else drives it.
    }
    if (s.reason() == lockstep::tcc::kReasonCrashed) return Status::Unavailable("checkout ", c.id, ": ", s.message());
    return s;
  }
  if (out->state == GlobalState::kConfirmed) {
    c.status = CheckoutStatus::kCompleted;
  } else if (out->state == GlobalState::kCancelled) {
    c.status = CheckoutStatus::kCancelled;
    c.reason = ReasonOf(out->cause.code(), out->cause.reason());
  } else {
    return Status::DeadlineExceeded("checkout ", c.id, " is ", lockstep::tcc::GlobalStateName(out->state),
                                    ": recovery finishes it (GET /v1/checkouts/", c.id, ")");
  }
  if (Status s = SettleRows({c}, Deadline::After(options_.recovery / 8)).status(); !s.ok()) {
    // The log is settled; GET reads it, and the sweep writes the row later.
    spdlog::warn("checkout {}: row not updated yet ({}); the recovery sweep will", c.id, s.ToString());
  }
  return c;
}

Result<CheckoutRecord> CheckoutService::AwaitSettled(CheckoutRecord c, const Deadline& deadline) {
  lockstep::Backoff backoff({.initial = std::chrono::milliseconds(5), .max = std::chrono::milliseconds(200)});
  for (;;) {
    if (c.status != CheckoutStatus::kTrying) return c;
    if (!backoff.Wait(deadline).ok()) {
      return Status::FailedPrecondition("checkout ", c.id, " (request_id ", c.request_id,
                                        ") is still being settled; retry later")
          .WithReason("request_in_progress");
    }
    LOCKSTEP_ASSIGN_OR_RETURN(std::optional<CheckoutRecord> now, Load("c.id = ?", c.id, deadline));
    if (!now) return Status::Internal("checkout ", c.id, " vanished");
    c = std::move(*now);
  }
}

Result<int> CheckoutService::SettleRows(const std::vector<CheckoutRecord>& settled, const Deadline& deadline) {
  int changed = 0;
  const Status s = lockstep::sql::RunInTransaction(shop_, {}, deadline, [&](lockstep::sql::Transaction& tx) -> Status {
    changed = 0;
    std::vector<lockstep::outbox::Event> events;
    for (const CheckoutRecord& c : settled) {
      LOCKSTEP_ASSIGN_OR_RETURN(const lockstep::sql::ExecResult r,
                                tx.Execute("UPDATE checkouts SET status = ?, reason = ?, updated_at = UTC_TIMESTAMP(6) "
                                           "WHERE id = ? AND status = 'trying'",
                                           CheckoutStatusName(c.status), c.reason, c.id));
      if (r.affected_rows == 0) continue;  // Settled before, by this or another instance.
      ++changed;
      // Exactly once per checkout, in the transaction that settles its row: its
      // checkout.completed / checkout.cancelled event (the aggregate's only one).
      lockstep::outbox::Event e;
      e.type = c.status == CheckoutStatus::kCompleted ? "checkout.completed" : "checkout.cancelled";
      e.aggregate = "checkout:" + std::to_string(c.id);
      e.data = CheckoutBody(c);
      e.creates_aggregate = true;
      events.push_back(std::move(e));
    }
    // Last in the transaction (Outbox's rule: after every other lock).
    if (!events.empty()) LOCKSTEP_RETURN_IF_ERROR(ShopOutbox().AppendBatch(tx, events));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return changed;
}

template <typename Key>
Result<std::optional<CheckoutRecord>> CheckoutService::Load(const char* where, const Key& key,
                                                            const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, shop_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(const lockstep::sql::Rows rows,
                            conn.Query(std::string(kSelect) + "WHERE " + where, key, deadline));
  if (rows.empty()) return std::optional<CheckoutRecord>();
  LOCKSTEP_ASSIGN_OR_RETURN(Loaded l, FromRow(rows[0]));
  return std::optional<CheckoutRecord>(std::move(l.record));
}

Result<CheckoutRecord> CheckoutService::Get(int64_t id, const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(std::optional<CheckoutRecord> c, Load("c.id = ?", id, deadline));
  if (!c) return Status::NotFound("checkout ", id, " not found");
  return std::move(*c);
}

Result<CheckoutRecord> CheckoutService::GetByRequestId(const std::string& request_id, const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(std::optional<CheckoutRecord> c, Load("c.request_id = ?", request_id, deadline));
  if (!c) return Status::NotFound("no checkout with request_id ", request_id);
  return std::move(*c);
}

void CheckoutService::Sweep(const Deadline& deadline) {
  Result<lockstep::sql::PooledConnection> conn = shop_.Acquire(deadline);
  if (!conn.ok()) return;
  const auto older_than = std::chrono::duration_cast<std::chrono::microseconds>(options_.recovery / 3).count();
  Result<lockstep::sql::Rows> rows = conn->Query(
      std::string(kSelect) +
          "WHERE c.status = 'trying' AND c.created_at < UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND "
          "ORDER BY c.id LIMIT ?",
      older_than, kSweepBatch, deadline);
  *conn = lockstep::sql::PooledConnection();
  if (!rows.ok()) {
    spdlog::warn("checkout recovery sweep: {}", rows.status().ToString());
    return;
  }
  std::vector<CheckoutRecord> settled;  // By the log (a recovery round, or a caller that died
                                        // or gave up before writing the row).
  std::vector<CheckoutRecord> unlogged;
  for (const lockstep::sql::Row& row : *rows) {
    Result<Loaded> l = FromRow(row);
    if (!l.ok()) return;
    if (l->record.status != CheckoutStatus::kTrying) {
      settled.push_back(std::move(l->record));
    } else if (!l->logged) {
      unlogged.push_back(std::move(l->record));
    }
    // Logged and unfinished: the coordinator's RecoverOnce settles it.
  }
  if (!settled.empty()) {
    if (Result<int> n = SettleRows(settled, deadline); n.ok()) {
      swept_.fetch_add(*n, std::memory_order_relaxed);
    }
    for (const CheckoutRecord& c : settled) products_.StockChanged(c.product_id);
  }
  // Their instance died (or gave up) between the row and the log: run them here. If that
  // instance logs one after all, one of the two Executes finds the gid taken and waits.
  for (const CheckoutRecord& c : unlogged) {
    if (deadline.expired()) return;
    spdlog::info("checkout {}: never logged; running it from the recovery sweep", c.id);
    if (Run(c, Deadline::After(options_.recovery / 8)).ok()) swept_.fetch_add(1, std::memory_order_relaxed);
  }
}

void CheckoutService::RecoveryLoop() {
  const std::chrono::milliseconds r = options_.recovery;
  for (;;) {
    {
      lockstep::MutexLock lock(&mu_);
      const Deadline next = Deadline::After(r / 20);
      while (!stop_ && !next.expired()) cv_.WaitUntil(&mu_, next);
      if (stop_) return;
    }
    Result<lockstep::tcc::RecoveryStats> stats = coordinator_->RecoverOnce(Deadline::After(r / 4));
    recovery_rounds_.fetch_add(1, std::memory_order_relaxed);
    if (!stats.ok() && stats.status().code() != StatusCode::kDeadlineExceeded &&
        stats.status().reason() != "lock_busy") {
      spdlog::warn("checkout recovery round: {}", stats.status().ToString());
    }
    Sweep(Deadline::After(r / 4));
  }
}

void CheckoutService::CollectMetrics(std::vector<prometheus::MetricFamily>& out) const {
  prometheus::MetricFamily f;
  f.name = "shopd_checkouts_total";
  f.help = "First answers to POST /v1/checkouts by outcome (replays not counted): completed, refused "
           "(insufficient_funds/out_of_stock), cancelled (other reasons), undecided (503/504).";
  f.type = prometheus::MetricType::Counter;
  for (const auto& [label, v] : {std::pair{"completed", &completed_}, std::pair{"refused", &refused_},
                                 std::pair{"cancelled", &cancelled_}, std::pair{"undecided", &undecided_}}) {
    prometheus::ClientMetric m;
    m.label.push_back({"outcome", label});
    m.counter.value = static_cast<double>(v->load(std::memory_order_relaxed));
    f.metric.push_back(std::move(m));
  }
  out.push_back(std::move(f));
  out.push_back(lockstep::prometheus::CounterFamily("shopd_checkout_recovery_rounds_total",
                                                    "Checkout recovery rounds run by this instance.",
                                                    static_cast<double>(recovery_rounds_.load())));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_checkout_swept_total", "Checkouts whose row the recovery sweep settled (or ran, if never logged).",
      static_cast<double>(swept_.load())));
}

}  // namespace shopd::domain
