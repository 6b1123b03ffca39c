#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/lock/lock_service.h"
#include "lockstep/redis/client.h"
#include "lockstep/sql/pool.h"
#include "lockstep/tcc/coordinator.h"
#include "lockstep/tcc/participant.h"
#include "support/mariadb_test.h"

namespace lockstep::tcc::testing {

using namespace std::chrono_literals;

// The example participants' merchant account (receives the money of confirmed checkouts).
inline constexpr int64_t kMerchant = 1000;

// Named event counters fed by TccObserver callbacks; tests await conditions on them.
// Thread-safe.
class Events {
 public:
  void Add(const std::string& event) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[event];
    cv_.notify_all();
  }
  int Get(const std::string& event) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = counts_.find(event);
    return it == counts_.end() ? 0 : it->second;
  }
  // Waits until counter `event` >= n; false after `timeout` (a generous bound, not a
  // timing assertion).
  bool Await(const std::string& event, int n, std::chrono::seconds timeout = 120s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      auto it = counts_.find(event);
      return it != counts_.end() && it->second >= n;
    });
  }
  // Counts "state:<name>", "recovered:<from>", "empty_rollback:<participant>",
  // "hanging:<participant>", "oldest_reported".
  TccObserver Observer() {
    TccObserver o;
    o.on_state = [this](GlobalState to) { Add("state:" + std::string(GlobalStateName(to))); };
    o.on_recovered = [this](GlobalState from, GlobalState) { Add("recovered:" + std::string(GlobalStateName(from))); };
    o.on_oldest_unfinished = [this](std::chrono::microseconds) { Add("oldest_reported"); };
    o.on_empty_rollback = [this](std::string_view p) { Add("empty_rollback:" + std::string(p)); };
    o.on_hanging_try_refused = [this](std::string_view p) { Add("hanging:" + std::string(p)); };
    return o;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> counts_;
};

// A one-shot gate: tests hold a coordinator inside a hook until the test opens it.
// Thread-safe.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits until opened; false after `timeout` (a generous bound, not a timing assertion).
  bool Wait(std::chrono::seconds timeout = 120s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }
  bool is_open() {
    std::lock_guard<std::mutex> lock(mu_);
    return open_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Three databases on the test server — the coordinator's log (MariaDbTest's own database),
// "payments" (accounts: balance, frozen) and "shop" (products: stock, held; orders) — and a
// Redis key prefix for the recovery lease. The example participants: payments' Try freezes
// the amount (moving it from balance to frozen, then refusing with "insufficient_funds" if
// the balance went negative: a business effect its rollback must undo), Confirm pays the
// frozen amount to kMerchant, Cancel releases it; shop's Try holds the units ("out_of_stock"
// if short), Confirm turns the hold into an order, Cancel releases it.
class TccTest : public lockstep::testing::MariaDbTest {
 protected:
  void SetUp() override;
  void TearDown() override;
  sql::PoolOptions DefaultPoolOptions() const override;

  sql::Pool& log_pool() { return pool(); }
  sql::Pool& payments() { return *payments_; }
  sql::Pool& shop() { return *shop_; }
  const std::string& payments_db() const { return payments_db_; }
  const std::string& shop_db() const { return shop_db_; }

  std::unique_ptr<Participant> MakePayments(TccObserver observer = {});
  std::unique_ptr<Participant> MakeShop(TccObserver observer = {});
  // A lock service of its own (one per coordinator instance) under the test's prefix.
  lock::LockService& NewLocks();
  // A coordinator over `participants` with the log schema created. Options default to
  // recovery_after = 0 (everything unfinished is recoverable at once).
  std::unique_ptr<Coordinator> MakeCoordinator(const std::vector<Participant*>& participants,
                                               CoordinatorOptions options);
  static CoordinatorOptions FastOptions();

  // Branches "shop" (product, quantity) then "pay" (account, amount); the global payload
  // records all four for the checker.
  static std::vector<BranchSpec> CheckoutBranches(int64_t account, int64_t amount, int64_t product, int64_t quantity);
  static std::string CheckoutPayload(int64_t account, int64_t amount, int64_t product, int64_t quantity);
  Result<Outcome> Checkout(Coordinator& c, const std::string& gid, int64_t account, int64_t amount, int64_t product,
                           int64_t quantity);
  // Runs the checkout on an instance of its own (participants, lock service, coordinator)
  // that "crashes" after `step` (of `branch_id`, if not empty) and is then dropped.
  void AbandonCheckout(const std::string& gid, Step step, const std::string& branch_id, int64_t account,
                       int64_t amount, int64_t product, int64_t quantity);

  void AddAccount(int64_t id, int64_t balance);
  void AddProduct(int64_t id, int64_t stock);
  int64_t QueryInt(sql::Pool& pool, const std::string& sql);

  // API.md's invariants after settling, checked from the databases only: money conserved
  // (sum of balance + frozen == total_money), nothing frozen, the merchant received exactly
  // the amounts of the log's confirmed transactions, stock + ordered == initial with nothing
  // held, one order per confirmed transaction and none for any other, nothing unfinished.
  void ExpectSettled(int64_t total_money, const std::map<int64_t, int64_t>& initial_stock);

  // Business callbacks run (committed or not), for "the business cancel never ran" checks.
  std::atomic<int> pay_cancels_{0};
  std::atomic<int> shop_cancels_{0};

 private:
  static std::unique_ptr<Participant> NewParticipant(sql::Pool& pool, ParticipantOptions options);

  std::string payments_db_;
  std::string shop_db_;
  std::unique_ptr<sql::Pool> payments_;
  std::unique_ptr<sql::Pool> shop_;
  std::string prefix_;
  std::unique_ptr<redis::Client> redis_;
  std::vector<std::unique_ptr<lock::LockService>> locks_;
};

}  // namespace lockstep::tcc::testing
