// Independent checker: many threads run checkouts over two participant databases with a
// mix that runs out of money and of stock, and abandon some at random steps (a coordinator
// "crash"); a second coordinator's recovery then settles everything. The checks are on
// what the databases hold (tcc_fixture.h ExpectSettled), not on what the library reported.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tcc_fixture.h"

namespace lockstep::tcc::testing {
namespace {

class CheckerTest : public TccTest {};

// Where a transaction is abandoned, from its gid's numbers (deterministic, no shared state):
// 5 in 16 are abandoned, at one of five steps.
struct Plan {
  bool crash = false;
  Step step = Step::kLogged;
  std::string branch = {};
};
Plan PlanFor(int thread, int i) {
  switch ((thread * 31 + i * 7) % 16) {
    case 0: return {true, Step::kLogged, ""};
    case 1: return {true, Step::kTried, "shop"};  // After the Try on one side.
    case 2: return {true, Step::kTried, "pay"};   // After both Tries.
    case 3: return {true, Step::kDecided, ""};
    case 4: return {true, Step::kBranchSettled, "shop"};  // After phase two on one side.
    default: return {};
  }
}

TEST_F(CheckerTest, SixteenThreadsWithAbandonsThenRecovery) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 25;
  constexpr int kAccounts = 8;
  constexpr int64_t kBalance = 1000;
  constexpr int kProducts = 4;
  constexpr int64_t kStock = 150;
  std::map<int64_t, int64_t> stock;
  for (int a = 1; a <= kAccounts; ++a) AddAccount(a, kBalance);
  for (int p = 1; p <= kProducts; ++p) {
    AddProduct(100 + p, kStock);
    stock[100 + p] = kStock;
  }

  // Instance A: every thread shares it; the hook abandons the planned transactions.
  std::map<std::string, Plan> plans;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) plans["c-" + std::to_string(t) + "-" + std::to_string(i)] = PlanFor(t, i);
  }
  std::unique_ptr<Participant> pay = MakePayments();
  std::unique_ptr<Participant> shop_p = MakeShop();
  CoordinatorOptions oa = FastOptions();
  oa.recovery_after = std::chrono::hours(1);  // A never recovers anything itself.
  oa.hooks.after_step = [&plans](const StepInfo& info) {
    const Plan& plan = plans.at(std::string(info.gid));  // Read-only while threads run.
    if (!plan.crash || info.recovery || info.step != plan.step) return HookAction::kContinue;
    if (!plan.branch.empty() && info.branch_id != plan.branch) return HookAction::kContinue;
    return HookAction::kCrash;
  };
  std::unique_ptr<Coordinator> a = MakeCoordinator({pay.get(), shop_p.get()}, oa);

  std::atomic<int> confirmed{0}, cancelled_funds{0}, cancelled_stock{0}, cancelled_other{0}, crashed{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string gid = "c-" + std::to_string(t) + "-" + std::to_string(i);
        const int64_t account = 1 + (t + i) % kAccounts;
        const int64_t amount = 1 + (t * 13 + i * 29) % 100;
        const int64_t product = 101 + (t * 3 + i) % kProducts;
        const int64_t quantity = 1 + (t + i * 3) % 5;
        Result<Outcome> out = Checkout(*a, gid, account, amount, product, quantity);
        if (!out.ok()) {
          if (out.status().reason() == kReasonCrashed) {
            ++crashed;
          } else {
            ++errors;
            ADD_FAILURE() << gid << ": " << out.status();
          }
        } else if (out->state == GlobalState::kConfirmed) {
          ++confirmed;
        } else if (out->state == GlobalState::kCancelled && out->cause.reason() == "insufficient_funds") {
          ++cancelled_funds;
        } else if (out->state == GlobalState::kCancelled && out->cause.reason() == "out_of_stock") {
          ++cancelled_stock;
        } else {
          ++cancelled_other;  // E.g. a Try that ran out of deadlock retries; still settled.
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(confirmed + cancelled_funds + cancelled_stock + cancelled_other + crashed, kThreads * kPerThread);
  EXPECT_GT(confirmed.load(), 0);
  EXPECT_GT(cancelled_funds.load(), 0) << "the mix must run out of money";
  EXPECT_GT(cancelled_stock.load(), 0) << "the mix must run out of stock";
  EXPECT_GT(crashed.load(), 0);
  // Every abandoned transaction is unfinished in the log (nothing settled it yet).
  EXPECT_EQ(QueryInt(log_pool(), "SELECT COUNT(*) FROM tcc_global WHERE state NOT IN ('confirmed', 'cancelled')"),
            crashed.load());

  // Instance B recovers (its own participants and lock service).
  Events events;
  std::unique_ptr<Participant> pay_b = MakePayments();
  std::unique_ptr<Participant> shop_b = MakeShop();
  CoordinatorOptions ob = FastOptions();
  ob.observer = events.Observer();
  std::unique_ptr<Coordinator> b = MakeCoordinator({pay_b.get(), shop_b.get()}, ob);
  Result<RecoveryStats> r = b->RecoverOnce(Deadline::After(300s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->found, crashed.load());
  EXPECT_EQ(r->confirmed + r->cancelled, crashed.load());
  EXPECT_EQ(r->unfinished + r->fenced + r->skipped, 0);
  EXPECT_EQ(events.Get("recovered:trying") + events.Get("recovered:confirming") + events.Get("recovered:cancelling"),
            crashed.load())
      << "each abandoned transaction is settled exactly once";

  ExpectSettled(kAccounts * kBalance, stock);
  EXPECT_EQ(*b->OldestUnfinishedAge(Deadline::After(30s)), std::chrono::microseconds(0));
  std::printf("checkouts: %d confirmed, %d insufficient_funds, %d out_of_stock, %d other, %d abandoned "
              "(recovery: %d confirmed, %d cancelled)\n",
              confirmed.load(), cancelled_funds.load(), cancelled_stock.load(), cancelled_other.load(),
              crashed.load(), r->confirmed, r->cancelled);
}

}  // namespace
}  // namespace lockstep::tcc::testing
