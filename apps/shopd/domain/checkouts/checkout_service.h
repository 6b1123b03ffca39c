#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/metric_family.h>

#include "domain/checkouts/checkout.h"
#include "domain/domain_metrics.h"
#include "domain/in_flight.h"
#include "reply/outcome.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/tcc/coordinator.h"
#include "lockstep/tcc/participant.h"

namespace lockstep::lock {
class LockService;
}
namespace lockstep::sql {
class Pool;
}

namespace shopd::domain {

class OrderService;
class ProductService;

struct CheckoutServiceOptions {
  // The account that receives the money of completed checkouts (> 0).
  int64_t merchant_account = 0;
  // R: a checkout left unfinished by a crash anywhere is settled by a live instance within
  // about R (README "Checkout"). Derived: the Tries run under min(request deadline, R/8),
  // phase two under R/8, the log's recovery_after is R/3, a recovery round (RecoverOnce,
  // then the sweep) starts every R/20 and gets R/4, the recovery lease is R/5. >= 100 ms.
  // Default 10 s.
  std::chrono::milliseconds recovery{10'000};
  // Metrics of the coordinator and both participants (prometheus::BindTccObserver).
  lockstep::tcc::TccObserver observer = {};
  // Test hooks of the coordinator (shopd's checkout_test_hook). Default none.
  lockstep::tcc::CoordinatorHooks hooks = {};
};

// Checkouts (API.md "Checkout: one purchase across two services (TCC)"): one purchase over
// the payments database (accounts: balance, frozen) and the shop database (products: stock,
// held; orders; checkouts; the coordinator's log), driven by lockstep::tcc.
//
// POST: validation and lookups first (400/404: nothing recorded), then the `checkouts` row
// (status trying, its order id allocated), then the global transaction "checkout-<id>":
// Try holds the units (shop) then freezes the amount (payments); Confirm turns the hold
// into the order and pays the merchant; Cancel releases both. The outcome is written into
// the checkouts row by SettleRows (once: a conditional UPDATE); a refusal is recorded as
// cancelled with its reason and answered 409.
// Recovery (one background thread per instance): every R/20 a round of the coordinator's
// RecoverOnce (fenced lease: one instance at a time), then a sweep of checkouts still
// `trying` after R/3: a settled log row is written into the row; a row the log never saw
// (its instance died between the two inserts) is run by Execute on this instance.
// GET reads the row and, while it says trying, the log (a settled log wins).
// Thread-safe.
class CheckoutService {
 public:
  // Creates the barrier tables and the log (IF NOT EXISTS) and starts the recovery thread.
  // kInvalidArgument for bad options; database errors of the schema step.
  static lockstep::Result<std::unique_ptr<CheckoutService>> Start(lockstep::sql::Pool& shop,
                                                                  lockstep::sql::Pool& payments,
                                                                  lockstep::lock::LockService& locks,
                                                                  OrderService& orders, ProductService& products,
                                                                  InFlight& in_flight, CheckoutServiceOptions options,
                                                                  const lockstep::Deadline& deadline);
  // Stops the recovery thread (waits for its round).
  ~CheckoutService();
  CheckoutService(const CheckoutService&) = delete;
  CheckoutService& operator=(const CheckoutService&) = delete;

  // The outcome to send: 201 completed, 409 refused (recorded as cancelled), replayed ones
  // marked. Errors (not recorded): kInvalidArgument (400: bad fields, the merchant buying
  // from itself, a `reserved` product, an amount past int64), kNotFound (404: account or
  // product), kFailedPrecondition request_id_conflict / request_in_progress (409),
  // kUnavailable (503: the merchant account does not exist, a dependency down),
  // kDeadlineExceeded / kUnknown (504: settled by recovery; retry or GET to learn how).
  lockstep::Result<reply::Outcome> Checkout(const CheckoutRequest& request, const lockstep::Deadline& deadline);
  // The checkout; kNotFound if none.
  lockstep::Result<CheckoutRecord> Get(int64_t id, const lockstep::Deadline& deadline);
  lockstep::Result<CheckoutRecord> GetByRequestId(const std::string& request_id, const lockstep::Deadline& deadline);

  // shopd_checkouts_total{outcome="completed|refused|cancelled|undecided"} (first answers,
  // not replays) and shopd_checkout_recovery_rounds_total. Thread-safe.
  void CollectMetrics(std::vector<prometheus::MetricFamily>& out) const;

 private:
  CheckoutService(lockstep::sql::Pool& shop, lockstep::sql::Pool& payments, OrderService& orders,
                  ProductService& products, InFlight& in_flight, CheckoutServiceOptions options);

  // Runs the global transaction of `c` (logged as "checkout-<id>") and writes a settled
  // outcome into the row. Returns the record as settled, or the error of an unsettled run.
  lockstep::Result<CheckoutRecord> Run(CheckoutRecord c, const lockstep::Deadline& deadline);
  // Waits (polling the row and the log) until `c` is settled or `deadline`.
  lockstep::Result<CheckoutRecord> AwaitSettled(CheckoutRecord c, const lockstep::Deadline& deadline);
  // Reads the log row of `c` into c.status/c.reason if it is final (no change otherwise).
  lockstep::Status ApplyLog(CheckoutRecord& c, const lockstep::Deadline& deadline);
  // THE transaction that records checkouts' ends: per checkout `UPDATE checkouts SET
  // status, reason WHERE id = ? AND status = 'trying'` — it changes each row once, whoever
  // gets there first (the caller of Execute, a sweep on any instance). A checkout's
  // checkout.completed / checkout.cancelled event belongs in this transaction, appended
  // where its UPDATE changed the row. Returns how many rows it changed.
  lockstep::Result<int> SettleRows(const std::vector<CheckoutRecord>& settled, const lockstep::Deadline& deadline);
  // The checkout whose `where` ("c.id = ?" / "c.request_id = ?") matches `key`, row and log.
  template <typename Key>
  lockstep::Result<std::optional<CheckoutRecord>> Load(const char* where, const Key& key,
                                                       const lockstep::Deadline& deadline);
  void RecoveryLoop() LOCKSTEP_EXCLUDES(mu_);
  // One sweep of old `trying` rows (see the class comment).
  void Sweep(const lockstep::Deadline& deadline);

  lockstep::sql::Pool& shop_;
  lockstep::sql::Pool& payments_;
  OrderService& orders_;
  ProductService& products_;
  InFlight& in_flight_;
  const CheckoutServiceOptions options_;
  std::unique_ptr<lockstep::tcc::Participant> pay_;
  std::unique_ptr<lockstep::tcc::Participant> stock_;
  std::unique_ptr<lockstep::tcc::Coordinator> coordinator_;

  std::atomic<int64_t> completed_{0};
  std::atomic<int64_t> refused_{0};
  std::atomic<int64_t> cancelled_{0};
  std::atomic<int64_t> undecided_{0};
  std::atomic<int64_t> recovery_rounds_{0};
  std::atomic<int64_t> swept_{0};

  lockstep::Mutex mu_;
  lockstep::CondVar cv_;
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::thread recovery_;
};

}  // namespace shopd::domain
