// The barrier at one participant, called directly (no coordinator): idempotent phases,
// empty rollback, anti-hanging, a refused Try, and concurrent duplicates.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tcc_fixture.h"

namespace lockstep::tcc::testing {
namespace {

class BarrierTest : public TccTest {};

BranchContext Branch(std::string gid, std::string branch_id, std::string payload) {
  return {std::move(gid), std::move(branch_id), std::move(payload)};
}

TEST_F(BarrierTest, EmptyRollbackThenLateTryIsRefused) {
  AddAccount(1, 100);
  Events events;
  std::unique_ptr<Participant> pay = MakePayments(events.Observer());
  const BranchContext b = Branch("g-empty", "pay", "1 30");

  // Cancel before any Try: an empty rollback, recorded; the business cancel does not run.
  Result<BranchOutcome> cancelled = pay->Cancel(b, Deadline::After(30s));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(*cancelled, BranchOutcome::kEmptyRollback);
  EXPECT_EQ(pay_cancels_.load(), 0);
  EXPECT_EQ(events.Get("empty_rollback:payments"), 1);

  // The delayed Try arrives: refused, nothing frozen (anti-hanging).
  Result<BranchOutcome> late = pay->Try(b, Deadline::After(30s));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(late.status().reason(), kReasonTryAfterCancel);
  EXPECT_EQ(events.Get("hanging:payments"), 1);
  EXPECT_EQ(QueryInt(payments(), "SELECT frozen FROM accounts WHERE id = 1"), 0);
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = 1"), 100);

  // A repeated Cancel is a no-op; so is a repeated late Try (still refused).
  Result<BranchOutcome> again = pay->Cancel(b, Deadline::After(30s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, BranchOutcome::kDuplicate);
  EXPECT_EQ(pay->Try(b, Deadline::After(30s)).status().reason(), kReasonTryAfterCancel);
  EXPECT_EQ(events.Get("empty_rollback:payments"), 1);
  EXPECT_EQ(events.Get("hanging:payments"), 2);
  // A Confirm of the cancelled branch is refused too (a coordinator bug): nothing paid.
  EXPECT_EQ(pay->Confirm(b, Deadline::After(30s)).status().reason(), kReasonConfirmWithoutTry);
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = " + std::to_string(kMerchant)), 0);
}

TEST_F(BarrierTest, DuplicateConfirmAndCancelAreNoOps) {
  AddAccount(1, 100);
  std::unique_ptr<Participant> pay = MakePayments();
  const Deadline d = Deadline::After(60s);

  const BranchContext confirmed = Branch("g-confirm", "pay", "1 30");
  ASSERT_EQ(*pay->Try(confirmed, d), BranchOutcome::kApplied);
  EXPECT_EQ(*pay->Try(confirmed, d), BranchOutcome::kDuplicate);  // Nothing frozen twice.
  EXPECT_EQ(QueryInt(payments(), "SELECT frozen FROM accounts WHERE id = 1"), 30);
  EXPECT_EQ(*pay->Confirm(confirmed, d), BranchOutcome::kApplied);
  EXPECT_EQ(*pay->Confirm(confirmed, d), BranchOutcome::kDuplicate);
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = " + std::to_string(kMerchant)), 30);
  // Cancel after Confirm: refused, nothing released.
  EXPECT_EQ(pay->Cancel(confirmed, d).status().reason(), kReasonCancelAfterConfirm);

  const BranchContext cancelled = Branch("g-cancel", "pay", "1 20");
  ASSERT_EQ(*pay->Try(cancelled, d), BranchOutcome::kApplied);
  EXPECT_EQ(*pay->Cancel(cancelled, d), BranchOutcome::kApplied);
  EXPECT_EQ(*pay->Cancel(cancelled, d), BranchOutcome::kDuplicate);
  EXPECT_EQ(pay_cancels_.load(), 1);
  // Confirm after Cancel: refused, nothing paid.
  EXPECT_EQ(pay->Confirm(cancelled, d).status().reason(), kReasonConfirmAfterCancel);

  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = 1"), 70);
  EXPECT_EQ(QueryInt(payments(), "SELECT frozen FROM accounts WHERE id = 1"), 0);
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = " + std::to_string(kMerchant)), 30);
}

TEST_F(BarrierTest, ConcurrentDuplicatesApplyOnce) {
  AddAccount(1, 1000);
  std::unique_ptr<Participant> pay = MakePayments();
  constexpr int kThreads = 8;
  constexpr int kBranches = 6;
  std::atomic<int> applied_confirms{0};
  std::atomic<int> applied_cancels{0};
  std::atomic<int> errors{0};
  // Each branch is tried once, then every thread sends the same phase-two call at once:
  // even branches confirm, odd ones cancel.
  for (int i = 0; i < kBranches; ++i) {
    ASSERT_EQ(*pay->Try(Branch("g-dup-" + std::to_string(i), "pay", "1 10"), Deadline::After(60s)),
              BranchOutcome::kApplied);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kBranches; ++i) {
        const BranchContext b = Branch("g-dup-" + std::to_string(i), "pay", "1 10");
        Result<BranchOutcome> r = i % 2 == 0 ? pay->Confirm(b, Deadline::After(60s)) : pay->Cancel(b, Deadline::After(60s));
        if (!r.ok()) {
          ++errors;
          ADD_FAILURE() << r.status();
        } else if (*r == BranchOutcome::kApplied) {
          ++(i % 2 == 0 ? applied_confirms : applied_cancels);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(applied_confirms.load(), kBranches / 2);
  EXPECT_EQ(applied_cancels.load(), kBranches / 2);
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = " + std::to_string(kMerchant)),
            10 * kBranches / 2);
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = 1"), 1000 - 10 * kBranches / 2);
  EXPECT_EQ(QueryInt(payments(), "SELECT frozen FROM accounts WHERE id = 1"), 0);
}

TEST_F(BarrierTest, TryRacingItsCancelEndsConsistent) {
  // A Try and the Cancel of the same branch at once, many times: whichever commits first,
  // nothing stays frozen after both (either the Cancel undid the Try, or it recorded an
  // empty rollback and the Try was refused).
  AddAccount(1, 100000);
  std::unique_ptr<Participant> pay = MakePayments();
  int empty = 0;
  int undone = 0;
  for (int i = 0; i < 40; ++i) {
    const BranchContext b = Branch("g-race-" + std::to_string(i), "pay", "1 5");
    Result<BranchOutcome> tried = Status::Internal("not run");
    std::thread t([&] { tried = pay->Try(b, Deadline::After(60s)); });
    Result<BranchOutcome> cancelled = pay->Cancel(b, Deadline::After(60s));
    t.join();
    ASSERT_TRUE(cancelled.ok()) << cancelled.status();
    if (*cancelled == BranchOutcome::kEmptyRollback) {
      ++empty;
      EXPECT_EQ(tried.status().reason(), kReasonTryAfterCancel);
    } else {
      ++undone;
      EXPECT_EQ(*cancelled, BranchOutcome::kApplied);
      EXPECT_TRUE(tried.ok()) << tried.status();
    }
  }
  EXPECT_EQ(empty + undone, 40);
  EXPECT_EQ(QueryInt(payments(), "SELECT frozen FROM accounts WHERE id = 1"), 0);
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = 1"), 100000);
}

TEST_F(BarrierTest, RefusedTryRollsBackItsEffectAndStaysRefused) {
  // Seata's trap: the refused Try's transaction rolls back its own barrier row with its
  // business effect. Here the refusal is then recorded: the Cancel knows there is nothing
  // to undo (the business cancel must not "release" funds that were never frozen), and a
  // replay of the Try stays refused even once the funds are there.
  AddAccount(1, 50);
  std::unique_ptr<Participant> pay = MakePayments();
  const BranchContext b = Branch("g-refused", "pay", "1 80");
  Result<BranchOutcome> tried = pay->Try(b, Deadline::After(30s));
  ASSERT_FALSE(tried.ok());
  EXPECT_EQ(tried.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(tried.status().reason(), "insufficient_funds");
  // The Try froze 80 (balance -30) before checking; its rollback undid that.
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = 1"), 50);
  EXPECT_EQ(QueryInt(payments(), "SELECT frozen FROM accounts WHERE id = 1"), 0);

  ASSERT_TRUE(ExecAdmin("UPDATE `" + payments_db() + "`.accounts SET balance = 500 WHERE id = 1").ok());
  Result<BranchOutcome> replay = pay->Try(b, Deadline::After(30s));
  EXPECT_EQ(replay.status().reason(), "insufficient_funds") << "a refused Try must stay refused";
  EXPECT_EQ(QueryInt(payments(), "SELECT frozen FROM accounts WHERE id = 1"), 0);

  Result<BranchOutcome> cancelled = pay->Cancel(b, Deadline::After(30s));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(*cancelled, BranchOutcome::kNothingToUndo);
  EXPECT_EQ(pay_cancels_.load(), 0) << "the business cancel ran for a Try that never committed";
  EXPECT_EQ(*pay->Cancel(b, Deadline::After(30s)), BranchOutcome::kDuplicate);
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = 1"), 500);
  EXPECT_EQ(QueryInt(payments(), "SELECT frozen FROM accounts WHERE id = 1"), 0);
  EXPECT_EQ(QueryInt(payments(), "SELECT COUNT(*) FROM tcc_barrier WHERE gid = 'g-refused' AND op = 'try' AND "
                                 "state = 'refused' AND reason = 'insufficient_funds'"),
            1);
}

}  // namespace
}  // namespace lockstep::tcc::testing
