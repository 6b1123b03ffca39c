#include "domain/checkouts/checkout_participants.h"

#include <charconv>
#include <map>

#include "domain/checkouts/checkout.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/transaction.h"

namespace shopd::domain {

using lockstep::Result;
using lockstep::Status;
using lockstep::sql::ExecResult;
using lockstep::sql::Rows;
using lockstep::sql::Transaction;
using lockstep::tcc::BranchContext;

namespace {

// "k1=v1 k2=v2 ..." with int64 values, exactly the keys in `keys`.
Result<std::map<std::string, int64_t>> ParseFields(std::string_view payload, std::initializer_list<const char*> keys) {
  std::map<std::string, int64_t> out;
  for (size_t start = 0, space = 0; space != std::string_view::npos; start = space + 1) {
    space = payload.find(' ', start);
    const std::string_view field = payload.substr(start, space == std::string_view::npos ? space : space - start);
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) return Status::InvalidArgument("checkout payload: bad field '", field, "'");
    int64_t v = 0;
    const std::string_view text = field.substr(eq + 1);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Status::InvalidArgument("checkout payload: bad number in '", field, "'");
    }
    out[std::string(field.substr(0, eq))] = v;
  }
  for (const char* k : keys) {
    if (out.count(k) == 0) return Status::InvalidArgument("checkout payload: missing '", k, "'");
  }
  if (out.size() != keys.size()) return Status::InvalidArgument("checkout payload: unexpected fields");
  return out;
}

Result<std::unique_ptr<lockstep::tcc::Participant>> Make(lockstep::sql::Pool& pool, std::string_view name,
                                                         lockstep::tcc::TccObserver observer,
                                                         lockstep::tcc::PhaseCallback on_try,
                                                         lockstep::tcc::PhaseCallback on_confirm,
                                                         lockstep::tcc::PhaseCallback on_cancel) {
  lockstep::tcc::ParticipantOptions o;
  o.name = std::string(name);
  o.on_try = std::move(on_try);
  o.on_confirm = std::move(on_confirm);
  o.on_cancel = std::move(on_cancel);
  o.observer = std::move(observer);
  return lockstep::tcc::Participant::Create(pool, std::move(o));
}

// An UPDATE that must change exactly one row (the phase's own, locked by its Try).
Status ExpectOneRow(const Result<ExecResult>& r, std::string_view what) {
  if (!r.ok()) return r.status();
  if (r->affected_rows == 0) return Status::Internal("checkout: ", what, " changed no row");
  return Status::Ok();
}

// A Try's conditional UPDATE `r` of row `id`: OK if it changed the row; else kNotFound if
// `exists_sql` (SELECT 1 ... WHERE id = ?) finds no row, else `refusal`.
Status AppliedOrRefused(Transaction& tx, const ExecResult& r, const char* exists_sql, int64_t id,
                        Status not_found, Status refusal) {
  if (r.affected_rows == 1) return Status::Ok();
  LOCKSTEP_ASSIGN_OR_RETURN(const Rows rows, tx.Query(exists_sql, id));
  return rows.empty() ? not_found : refusal;
}

}  // namespace

std::string PaymentBranch::Encode() const {
  return "account=" + std::to_string(account) + " amount=" + std::to_string(amount) +
         " merchant=" + std::to_string(merchant);
}

Result<PaymentBranch> PaymentBranch::Parse(std::string_view payload) {
  LOCKSTEP_ASSIGN_OR_RETURN(auto f, ParseFields(payload, {"account", "amount", "merchant"}));
  return PaymentBranch{f["account"], f["amount"], f["merchant"]};
}

std::string StockBranch::Encode() const {
  return "checkout=" + std::to_string(checkout) + " product=" + std::to_string(product) +
         " quantity=" + std::to_string(quantity) + " order=" + std::to_string(order_id) +
         " account=" + std::to_string(account);
}

Result<StockBranch> StockBranch::Parse(std::string_view payload) {
  LOCKSTEP_ASSIGN_OR_RETURN(auto f, ParseFields(payload, {"checkout", "product", "quantity", "order", "account"}));
  return StockBranch{f["checkout"], f["product"], f["quantity"], f["order"], f["account"]};
}

std::string CheckoutOrderRequestId(int64_t checkout_id) { return "checkout:" + std::to_string(checkout_id); }

Result<std::unique_ptr<lockstep::tcc::Participant>> MakePaymentsParticipant(lockstep::sql::Pool& payments,
                                                                             lockstep::tcc::TccObserver observer) {
  // Try: one conditional UPDATE (no SELECT ... FOR UPDATE; READ COMMITTED): the funds move
  // from balance to frozen only if they are there.
  auto on_try = [](Transaction& tx, const BranchContext& b) -> Status {
    LOCKSTEP_ASSIGN_OR_RETURN(const PaymentBranch p, PaymentBranch::Parse(b.payload));
    LOCKSTEP_ASSIGN_OR_RETURN(const ExecResult r,
                              tx.Execute("UPDATE accounts SET balance = balance - ?, frozen = frozen + ?, "
                                         "version = version + 1 WHERE id = ? AND balance >= ?",
                                         p.amount, p.amount, p.account, p.amount));
    return AppliedOrRefused(tx, r, "SELECT 1 FROM accounts WHERE id = ?", p.account,
                            Status::NotFound("account ", p.account, " not found"),
                            Status::FailedPrecondition("account ", p.account, " has insufficient funds for ", p.amount)
                                .WithReason(std::string(kReasonInsufficientFunds)));
  };
  // Confirm: the buyer's frozen amount to the merchant's balance in ONE statement, which
  // locks both rows in primary-key order (as transfers do): no lock-order deadlock with them.
  auto on_confirm = [](Transaction& tx, const BranchContext& b) -> Status {
    LOCKSTEP_ASSIGN_OR_RETURN(const PaymentBranch p, PaymentBranch::Parse(b.payload));
    const Result<ExecResult> r =
        tx.Execute("UPDATE accounts SET frozen = frozen - IF(id = ?, ?, 0), balance = balance + IF(id = ?, ?, 0), "
                   "version = version + 1 WHERE id IN (?, ?)",
                   p.account, p.amount, p.merchant, p.amount, p.account, p.merchant);
    if (!r.ok()) return r.status();
    if (r->affected_rows != 2) return Status::Internal("checkout: payment confirm changed ", r->affected_rows, " rows");
    return Status::Ok();
  };
  auto on_cancel = [](Transaction& tx, const BranchContext& b) -> Status {
    LOCKSTEP_ASSIGN_OR_RETURN(const PaymentBranch p, PaymentBranch::Parse(b.payload));
    return ExpectOneRow(tx.Execute("UPDATE accounts SET balance = balance + ?, frozen = frozen - ?, "
                                   "version = version + 1 WHERE id = ?",
                                   p.amount, p.amount, p.account),
                        "payment cancel");
  };
  return Make(payments, kPaymentsParticipant, std::move(observer), on_try, on_confirm, on_cancel);
}

Result<std::unique_ptr<lockstep::tcc::Participant>> MakeShopParticipant(lockstep::sql::Pool& shop,
                                                                         lockstep::tcc::TccObserver observer) {
  auto on_try = [](Transaction& tx, const BranchContext& b) -> Status {
    LOCKSTEP_ASSIGN_OR_RETURN(const StockBranch s, StockBranch::Parse(b.payload));
    LOCKSTEP_ASSIGN_OR_RETURN(const ExecResult r,
                              tx.Execute("UPDATE products SET stock = stock - ?, held = held + ?, "
                                         "version = version + 1 WHERE id = ? AND stock >= ?",
                                         s.quantity, s.quantity, s.product, s.quantity));
    return AppliedOrRefused(
        tx, r, "SELECT 1 FROM products WHERE id = ?", s.product, Status::NotFound("product ", s.product, " not found"),
        Status::FailedPrecondition("product ", s.product, " has fewer than ", s.quantity, " units in stock")
            .WithReason(std::string(kReasonOutOfStock)));
  };
  // Confirm: the held units become the confirmed order (held only: stock already went
  // down at the Try, so the product's version and cached stock stay as they are).
  auto on_confirm = [](Transaction& tx, const BranchContext& b) -> Status {
    LOCKSTEP_ASSIGN_OR_RETURN(const StockBranch s, StockBranch::Parse(b.payload));
    LOCKSTEP_RETURN_IF_ERROR(
        ExpectOneRow(tx.Execute("UPDATE products SET held = held - ? WHERE id = ?", s.quantity, s.product),
                     "stock confirm"));
    return tx
        .Execute("INSERT INTO orders (id, request_id, user_id, product_id, quantity, status, created_at) "
                 "VALUES (?, ?, ?, ?, ?, 'confirmed', UTC_TIMESTAMP(6))",
                 s.order_id, CheckoutOrderRequestId(s.checkout), s.account, s.product, s.quantity)
        .status();
  };
  auto on_cancel = [](Transaction& tx, const BranchContext& b) -> Status {
    LOCKSTEP_ASSIGN_OR_RETURN(const StockBranch s, StockBranch::Parse(b.payload));
    return ExpectOneRow(tx.Execute("UPDATE products SET stock = stock + ?, held = held - ?, version = version + 1 "
                                   "WHERE id = ?",
                                   s.quantity, s.quantity, s.product),
                        "stock cancel");
  };
  return Make(shop, kShopParticipant, std::move(observer), on_try, on_confirm, on_cancel);
}

}  // namespace shopd::domain
