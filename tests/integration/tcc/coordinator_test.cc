// The coordinator: outcomes, the durable log, recovery of an abandoned coordinator at
// every step by a second instance, and fencing between recoverers.
#include <gtest/gtest.h>

#include <cstdio>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tcc_fixture.h"

namespace lockstep::tcc::testing {
namespace {

class CoordinatorTest : public TccTest {};

TEST_F(CoordinatorTest, ConfirmsBothSides) {
  AddAccount(1, 100);
  AddProduct(7, 10);
  Events events;
  std::unique_ptr<Participant> pay = MakePayments();
  std::unique_ptr<Participant> shop_p = MakeShop();
  CoordinatorOptions o = FastOptions();
  o.observer = events.Observer();
  std::unique_ptr<Coordinator> c = MakeCoordinator({pay.get(), shop_p.get()}, o);

  Result<Outcome> out = Checkout(*c, "g-1", 1, 30, 7, 2);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->state, GlobalState::kConfirmed);
  EXPECT_TRUE(out->cause.ok());
  Result<GlobalRecord> rec = c->Get("g-1", Deadline::After(30s));
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->state, GlobalState::kConfirmed);
  EXPECT_EQ(rec->payload, CheckoutPayload(1, 30, 7, 2));
  EXPECT_EQ(rec->fence, 0);
  EXPECT_EQ(events.Get("state:trying"), 1);
  EXPECT_EQ(events.Get("state:confirming"), 1);
  EXPECT_EQ(events.Get("state:confirmed"), 1);
  EXPECT_EQ(QueryInt(log_pool(), "SELECT COUNT(*) FROM tcc_branch WHERE gid = 'g-1' AND state = 'confirmed'"), 2);

  // The same gid again: refused, nothing done twice.
  Result<Outcome> again = Checkout(*c, "g-1", 1, 30, 7, 2);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().reason(), kReasonDuplicateGid);
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = 1"), 70);
  EXPECT_EQ(QueryInt(shop(), "SELECT stock FROM products WHERE id = 7"), 8);
  ExpectSettled(100, {{7, 10}});

  // Bad input: nothing logged.
  EXPECT_EQ(c->Execute("g-2", {}, "", Deadline::After(30s)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->Execute("g-2", {{"x", "nobody", ""}}, "", Deadline::After(30s)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c->Get("g-2", Deadline::After(30s)).status().code(), StatusCode::kNotFound);
}

TEST_F(CoordinatorTest, RefusedTryCancelsAndLeavesNothingHeld) {
  // Shop's Try holds the units, then payments' Try refuses (it froze, checked, rolled back):
  // the transaction is cancelled with the refusal's reason; shop's hold is released and
  // payments' business cancel never runs.
  AddAccount(1, 50);
  AddProduct(7, 10);
  Events events;
  std::unique_ptr<Participant> pay = MakePayments(events.Observer());
  std::unique_ptr<Participant> shop_p = MakeShop(events.Observer());
  std::unique_ptr<Coordinator> c = MakeCoordinator({pay.get(), shop_p.get()}, FastOptions());

  Result<Outcome> out = Checkout(*c, "g-poor", 1, 80, 7, 3);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->state, GlobalState::kCancelled);
  EXPECT_EQ(out->cause.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(out->cause.reason(), "insufficient_funds");
  Result<GlobalRecord> rec = c->Get("g-poor", Deadline::After(30s));
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, GlobalState::kCancelled);
  EXPECT_EQ(rec->cause.reason(), "insufficient_funds");
  EXPECT_EQ(shop_cancels_.load(), 1);
  EXPECT_EQ(pay_cancels_.load(), 0);
  EXPECT_EQ(QueryInt(log_pool(), "SELECT COUNT(*) FROM tcc_branch WHERE gid = 'g-poor' AND branch_id = 'pay' AND "
                                 "state = 'nothing_to_undo'"),
            1);
  ExpectSettled(50, {{7, 10}});

  // Out of stock: the first Try refuses; payments was never tried, so its Cancel is an
  // empty rollback (which also refuses a late Try of it).
  Result<Outcome> short_stock = Checkout(*c, "g-short", 1, 10, 7, 11);
  ASSERT_TRUE(short_stock.ok()) << short_stock.status();
  EXPECT_EQ(short_stock->state, GlobalState::kCancelled);
  EXPECT_EQ(short_stock->cause.reason(), "out_of_stock");
  EXPECT_EQ(events.Get("empty_rollback:payments"), 1);
  EXPECT_EQ(pay->Try({"g-short", "pay", "1 10"}, Deadline::After(30s)).status().reason(), kReasonTryAfterCancel);
  ExpectSettled(50, {{7, 10}});
}

struct CrashCase {
  const char* name;
  Step step;
  const char* branch;       // "" = any.
  int64_t balance;          // Buyer's balance; the checkout costs 60 (40 = refused).
  GlobalState left;         // The log state the crash leaves.
  GlobalState settled;      // What recovery makes of it.
};

class AbandonedTest : public TccTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(AbandonedTest, SecondCoordinatorSettlesIt) {
  const CrashCase& k = GetParam();
  AddAccount(1, k.balance);
  AddProduct(7, 10);
  Events events;
  AbandonCheckout("g-crash", k.step, k.branch, 1, 60, 7, 2);  // Instance A dies at the step.
  if (HasFatalFailure()) return;
  // Instance B: its own participants, lock service and coordinator on the same databases.
  std::unique_ptr<Participant> pay = MakePayments(events.Observer());
  std::unique_ptr<Participant> shop_p = MakeShop(events.Observer());
  {
    // Not yet due: recovery_after has not passed.
    CoordinatorOptions patient = FastOptions();
    patient.recovery_after = std::chrono::hours(1);
    std::unique_ptr<Coordinator> waiting = MakeCoordinator({pay.get(), shop_p.get()}, patient);
    Result<RecoveryStats> none = waiting->RecoverOnce(Deadline::After(60s));
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_EQ(none->found, 0);
  }
  CoordinatorOptions o = FastOptions();
  o.observer = events.Observer();
  std::unique_ptr<Coordinator> b = MakeCoordinator({pay.get(), shop_p.get()}, o);
  Result<GlobalRecord> left = b->Get("g-crash", Deadline::After(30s));
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(left->state, k.left);
  Result<std::chrono::microseconds> age = b->OldestUnfinishedAge(Deadline::After(30s));
  ASSERT_TRUE(age.ok());
  Result<RecoveryStats> stats = b->RecoverOnce(Deadline::After(60s));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->found, 1);
  EXPECT_EQ(stats->confirmed + stats->cancelled, 1);
  EXPECT_EQ(events.Get("recovered:" + std::string(GlobalStateName(k.left))), 1);
  EXPECT_EQ(events.Get("oldest_reported"), 1);
  Result<GlobalRecord> rec = b->Get("g-crash", Deadline::After(30s));
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, k.settled);
  EXPECT_EQ(rec->recoveries, 1);
  EXPECT_GT(rec->fence, 0);
  if (k.settled == GlobalState::kCancelled && k.left == GlobalState::kTrying) {
    EXPECT_EQ(rec->cause.reason(), kReasonRecoveredTimeout);
  }
  ExpectSettled(k.balance, {{7, 10}});
  EXPECT_EQ(*b->OldestUnfinishedAge(Deadline::After(30s)), std::chrono::microseconds(0));

  // A second round finds nothing; the late Try of a cancelled branch is refused.
  Result<RecoveryStats> again = b->RecoverOnce(Deadline::After(60s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->found, 0);
  if (k.settled == GlobalState::kCancelled) {
    // Whether the branch's Try had committed (then undone), never ran (empty rollback) or
    // was refused (recorded), a late Try changes nothing.
    Result<BranchOutcome> late_pay = pay->Try({"g-crash", "pay", "1 60"}, Deadline::After(30s));
    EXPECT_FALSE(late_pay.ok());
    if (k.balance >= 60) {
      EXPECT_EQ(late_pay.status().reason(), kReasonTryAfterCancel);
    }
    EXPECT_EQ(shop_p->Try({"g-crash", "shop", "7 2"}, Deadline::After(30s)).status().reason(),
              kReasonTryAfterCancel);
    ExpectSettled(k.balance, {{7, 10}});
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryStep, AbandonedTest,
    ::testing::Values(
        CrashCase{"AfterLogged", Step::kLogged, "", 100, GlobalState::kTrying, GlobalState::kCancelled},
        CrashCase{"AfterTryOnOneSide", Step::kTried, "shop", 100, GlobalState::kTrying, GlobalState::kCancelled},
        CrashCase{"AfterBothTries", Step::kTried, "pay", 100, GlobalState::kTrying, GlobalState::kCancelled},
        CrashCase{"AfterConfirmDecided", Step::kDecided, "", 100, GlobalState::kConfirming, GlobalState::kConfirmed},
        CrashCase{"AfterConfirmOnOneSide", Step::kBranchSettled, "shop", 100, GlobalState::kConfirming,
                  GlobalState::kConfirmed},
        CrashCase{"AfterRefusedTryCancelDecided", Step::kDecided, "", 40, GlobalState::kCancelling,
                  GlobalState::kCancelled},
        CrashCase{"AfterCancelOnOneSide", Step::kBranchSettled, "shop", 40, GlobalState::kCancelling,
                  GlobalState::kCancelled}),
    [](const ::testing::TestParamInfo<CrashCase>& p) { return std::string(p.param.name); });

TEST_F(CoordinatorTest, TwoRecoverersSettleEachTransactionOnce) {
  AddAccount(1, 100000);
  AddProduct(7, 1000);
  constexpr int kAbandoned = 12;
  const Step steps[] = {Step::kLogged, Step::kTried, Step::kDecided, Step::kBranchSettled};
  for (int i = 0; i < kAbandoned; ++i) {
    AbandonCheckout("g-" + std::to_string(i), steps[i % 4], "", 1, 10 + i, 7, 1 + i % 3);
    if (HasFatalFailure()) return;
  }
  ASSERT_EQ(QueryInt(log_pool(), "SELECT COUNT(*) FROM tcc_global WHERE state IN ('trying', 'confirming')"),
            kAbandoned);

  // Two instances recover at once, each with its own lock service.
  Events events;
  std::unique_ptr<Participant> pay1 = MakePayments();
  std::unique_ptr<Participant> shop1 = MakeShop();
  std::unique_ptr<Participant> pay2 = MakePayments();
  std::unique_ptr<Participant> shop2 = MakeShop();
  CoordinatorOptions o = FastOptions();
  o.observer = events.Observer();
  std::unique_ptr<Coordinator> b1 = MakeCoordinator({pay1.get(), shop1.get()}, o);
  std::unique_ptr<Coordinator> b2 = MakeCoordinator({pay2.get(), shop2.get()}, o);
  Result<RecoveryStats> r1 = Status::Internal("not run");
  Result<RecoveryStats> r2 = Status::Internal("not run");
  std::thread t1([&] { r1 = b1->RecoverOnce(Deadline::After(120s)); });
  std::thread t2([&] { r2 = b2->RecoverOnce(Deadline::After(120s)); });
  t1.join();
  t2.join();
  ASSERT_TRUE(r1.ok()) << r1.status();
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r1->confirmed + r1->cancelled + r2->confirmed + r2->cancelled, kAbandoned);
  EXPECT_EQ(r1->fenced + r2->fenced, 0);
  EXPECT_EQ(events.Get("recovered:trying") + events.Get("recovered:confirming"), kAbandoned)
      << "each transaction is settled exactly once";
  EXPECT_EQ(QueryInt(log_pool(), "SELECT COUNT(*) FROM tcc_global WHERE recoveries <> 1"), 0);
  ExpectSettled(100000, {{7, 1000}});
}

TEST_F(CoordinatorTest, StaleRecovererIsFencedOut) {
  // Recoverer A holds a lease it does not renew and is paused (a hook) after checking it,
  // right before its final log write. Its lease runs out; B takes the lease (a higher
  // fence), claims the row and settles it. When A resumes, the log refuses its write.
  AddAccount(1, 100);
  AddProduct(7, 10);
  AbandonCheckout("g-stale", Step::kDecided, "", 1, 60, 7, 2);
  if (HasFatalFailure()) return;
  Events events;
  Gate paused;
  Gate resume;
  std::unique_ptr<Participant> pay_a = MakePayments();
  std::unique_ptr<Participant> shop_a = MakeShop();
  CoordinatorOptions oa = FastOptions();
  oa.observer = events.Observer();
  oa.recovery_lock_options.lease = std::chrono::seconds(3);
  oa.recovery_lock_options.auto_renew = false;
  oa.hooks.after_step = [&](const StepInfo& info) {
    if (info.step == Step::kLeaseChecked) {
      paused.Open();
      EXPECT_TRUE(resume.Wait());
    }
    return HookAction::kContinue;
  };
  std::unique_ptr<Coordinator> a = MakeCoordinator({pay_a.get(), shop_a.get()}, oa);
  Result<RecoveryStats> ra = Status::Internal("not run");
  std::thread ta([&] {
    ra = a->RecoverOnce(Deadline::After(120s));
    paused.Open();  // Also if A never reached the hook (its lease ran out first).
  });
  ASSERT_TRUE(paused.Wait());

  std::unique_ptr<Participant> pay_b = MakePayments();
  std::unique_ptr<Participant> shop_b = MakeShop();
  CoordinatorOptions ob = FastOptions();
  ob.observer = events.Observer();
  std::unique_ptr<Coordinator> b = MakeCoordinator({pay_b.get(), shop_b.get()}, ob);
  Result<RecoveryStats> rb = b->RecoverOnce(Deadline::After(120s));  // Waits out A's lease.
  resume.Open();
  ta.join();
  ASSERT_TRUE(rb.ok()) << rb.status();
  ASSERT_TRUE(ra.ok()) << ra.status();
  EXPECT_EQ(rb->confirmed, 1);
  EXPECT_EQ(ra->confirmed, 0);
  EXPECT_EQ(ra->fenced + (ra->lease_lost ? 1 : 0), 1) << "A must be stopped by the fence (or its lost lease)";
  std::printf("stale recoverer stopped by: %s\n", ra->fenced == 1 ? "the fence in the log" : "its lost lease");
  EXPECT_EQ(events.Get("recovered:confirming"), 1) << "settled exactly once";
  Result<GlobalRecord> rec = b->Get("g-stale", Deadline::After(30s));
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, GlobalState::kConfirmed);
  if (ra->fenced == 1) {
    EXPECT_EQ(rec->recoveries, 2);  // A claimed it, then B.
  }
  ExpectSettled(100, {{7, 10}});
}

TEST_F(CoordinatorTest, BackgroundRecovererSettlesAbandonedTransactions) {
  AddAccount(1, 100);
  AddProduct(7, 10);
  AbandonCheckout("g-bg", Step::kTried, "pay", 1, 60, 7, 2);
  if (HasFatalFailure()) return;
  Events events;
  std::unique_ptr<Participant> pay = MakePayments();
  std::unique_ptr<Participant> shop_p = MakeShop();
  CoordinatorOptions o = FastOptions();
  o.recovery_interval = std::chrono::milliseconds(50);
  o.observer = events.Observer();
  std::unique_ptr<Coordinator> b = MakeCoordinator({pay.get(), shop_p.get()}, o);
  ASSERT_TRUE(b->StartRecoverer().ok());
  EXPECT_EQ(b->StartRecoverer().code(), StatusCode::kFailedPrecondition);
  // Await the outcome (a generous bound, not a timing assertion).
  EXPECT_TRUE(events.Await("recovered:trying", 1));
  b->StopRecoverer();
  EXPECT_EQ(events.Get("recovered:trying"), 1);
  EXPECT_EQ(b->Get("g-bg", Deadline::After(30s))->state, GlobalState::kCancelled);
  ExpectSettled(100, {{7, 10}});
}

}  // namespace
}  // namespace lockstep::tcc::testing
