#include "tcc_fixture.h"

#include <sstream>

#include "lockstep/redis/reply.h"
#include "support/redis_test.h"
#include "support/test_env.h"

namespace lockstep::tcc::testing {
namespace {

// "a b" -> {a, b}.
std::pair<int64_t, int64_t> ParsePair(const std::string& payload) {
  std::istringstream in(payload);
  int64_t a = 0;
  int64_t b = 0;
  in >> a >> b;
  return {a, b};
}

// Hooks that abandon Execute (not recovery) right after `step` (of branch `branch_id`, if
// not empty), as if its process had died there.
CoordinatorHooks CrashAfter(Step step, std::string branch_id) {
  CoordinatorHooks hooks;
  hooks.after_step = [step, branch_id](const StepInfo& info) {
    if (info.recovery || info.step != step) return HookAction::kContinue;
    if (!branch_id.empty() && info.branch_id != branch_id) return HookAction::kContinue;
    return HookAction::kCrash;
  };
  return hooks;
}

}  // namespace

sql::PoolOptions TccTest::DefaultPoolOptions() const {
  sql::PoolOptions p;
  p.max_connections = 24;
  p.acquire_timeout = std::chrono::seconds(30);
  return p;
}

void TccTest::SetUp() {
  MariaDbTest::SetUp();
  if (HasFatalFailure()) return;
  payments_db_ = database() + "_pay";
  shop_db_ = database() + "_shop";
  for (const std::string& db : {payments_db_, shop_db_}) {
    ASSERT_TRUE(ExecAdmin("CREATE DATABASE `" + db + "` CHARACTER SET utf8mb4").ok()) << db;
  }
  auto pay = sql::Pool::Open(lockstep::testing::MariaDbTestOptions(payments_db_), DefaultPoolOptions());
  ASSERT_TRUE(pay.ok()) << pay.status();
  payments_ = std::move(*pay);
  auto shop = sql::Pool::Open(lockstep::testing::MariaDbTestOptions(shop_db_), DefaultPoolOptions());
  ASSERT_TRUE(shop.ok()) << shop.status();
  shop_ = std::move(*shop);
  for (const std::string& sql :
       {"CREATE TABLE `" + payments_db_ + "`.accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL, "
                                          "frozen BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB",
        "CREATE TABLE `" + shop_db_ + "`.products (id BIGINT PRIMARY KEY, stock BIGINT NOT NULL, "
                                      "held BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB",
        "CREATE TABLE `" + shop_db_ + "`.orders (gid VARBINARY(128) PRIMARY KEY, product_id BIGINT NOT NULL, "
                                      "quantity BIGINT NOT NULL) ENGINE=InnoDB"}) {
    ASSERT_TRUE(ExecAdmin(sql).ok()) << sql;
  }
  AddAccount(kMerchant, 0);

  prefix_ = "{t:" + lockstep::testing::UniqueTestName() + "}:";
  auto client = redis::Client::Open(lockstep::testing::RedisTestOptions(0));
  ASSERT_TRUE(client.ok()) << client.status();
  redis_ = std::move(*client);
  ASSERT_TRUE(redis_->Ping(Deadline::After(30s)).ok()) << "redis is not up";
}

void TccTest::TearDown() {
  locks_.clear();
  if (redis_ != nullptr) {
    Result<redis::Reply> keys = redis_->Command({"KEYS", prefix_ + "*"}, Deadline::After(10s));
    if (keys.ok()) {
      std::vector<std::string> names;
      for (const redis::Reply& k : keys->array()) names.push_back(k.str());
      if (!names.empty()) (void)redis_->Del(names, Deadline::After(10s));
    }
    redis_.reset();
  }
  payments_.reset();
  shop_.reset();
  for (const std::string& db : {payments_db_, shop_db_}) {
    if (!db.empty()) {
      EXPECT_TRUE(ExecAdmin("DROP DATABASE IF EXISTS `" + db + "`").ok()) << db;
    }
  }
  MariaDbTest::TearDown();
}

std::unique_ptr<Participant> TccTest::MakePayments(TccObserver observer) {
  ParticipantOptions o;
  o.name = "payments";
  o.observer = std::move(observer);
  o.on_try = [](sql::Transaction& tx, const BranchContext& b) -> Status {
    const auto [account, amount] = ParsePair(b.payload);
    // Freeze first, check after: a refused Try has a business effect to roll back.
    LOCKSTEP_ASSIGN_OR_RETURN(
        const sql::ExecResult r,
        tx.Execute("UPDATE accounts SET balance = balance - ?, frozen = frozen + ? WHERE id = ?", amount, amount, account));
    if (r.affected_rows == 0) return Status::NotFound("no account ", account).WithReason("account_not_found");
    LOCKSTEP_ASSIGN_OR_RETURN(const sql::Rows rows, tx.Query("SELECT balance FROM accounts WHERE id = ?", account));
    LOCKSTEP_ASSIGN_OR_RETURN(const int64_t balance, rows[0].GetInt64(0));
    if (balance < 0) return Status::FailedPrecondition("account ", account, " is short").WithReason("insufficient_funds");
    return Status::Ok();
  };
  o.on_confirm = [](sql::Transaction& tx, const BranchContext& b) -> Status {
    const auto [account, amount] = ParsePair(b.payload);
    // Buyer row, then the merchant's: one lock order for every Confirm.
    LOCKSTEP_RETURN_IF_ERROR(
        tx.Execute("UPDATE accounts SET frozen = frozen - ? WHERE id = ?", amount, account).status());
    return tx.Execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", amount, kMerchant).status();
  };
  o.on_cancel = [this](sql::Transaction& tx, const BranchContext& b) -> Status {
    ++pay_cancels_;
    const auto [account, amount] = ParsePair(b.payload);
    return tx.Execute("UPDATE accounts SET balance = balance + ?, frozen = frozen - ? WHERE id = ?", amount, amount,
                      account)
        .status();
  };
  return NewParticipant(payments(), std::move(o));
}

std::unique_ptr<Participant> TccTest::MakeShop(TccObserver observer) {
  ParticipantOptions o;
  o.name = "shop";
  o.observer = std::move(observer);
  o.on_try = [](sql::Transaction& tx, const BranchContext& b) -> Status {
    const auto [product, quantity] = ParsePair(b.payload);
    LOCKSTEP_ASSIGN_OR_RETURN(
        const sql::ExecResult r,
        tx.Execute("UPDATE products SET stock = stock - ?, held = held + ? WHERE id = ? AND stock >= ?", quantity,
                   quantity, product, quantity));
    if (r.affected_rows == 0) return Status::FailedPrecondition("product ", product, " is short").WithReason("out_of_stock");
    return Status::Ok();
  };
  o.on_confirm = [](sql::Transaction& tx, const BranchContext& b) -> Status {
    const auto [product, quantity] = ParsePair(b.payload);
    LOCKSTEP_RETURN_IF_ERROR(
        tx.Execute("UPDATE products SET held = held - ? WHERE id = ?", quantity, product).status());
    return tx.Execute("INSERT INTO orders (gid, product_id, quantity) VALUES (?, ?, ?)", b.gid, product, quantity)
        .status();
  };
  o.on_cancel = [this](sql::Transaction& tx, const BranchContext& b) -> Status {
    ++shop_cancels_;
    const auto [product, quantity] = ParsePair(b.payload);
    return tx.Execute("UPDATE products SET stock = stock + ?, held = held - ? WHERE id = ?", quantity, quantity, product)
        .status();
  };
  return NewParticipant(shop(), std::move(o));
}

std::unique_ptr<Participant> TccTest::NewParticipant(sql::Pool& pool, ParticipantOptions options) {
  auto p = Participant::Create(pool, std::move(options));
  EXPECT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE((*p)->CreateSchema(Deadline::After(30s)).ok());
  return std::move(*p);
}

lock::LockService& TccTest::NewLocks() {
  lock::LockServiceOptions o;
  o.key_prefix = prefix_ + "lock:";
  o.release_channel = prefix_ + "released";
  auto service = lock::LockService::Create(*redis_, o);
  EXPECT_TRUE(service.ok()) << service.status();
  locks_.push_back(std::move(*service));
  return *locks_.back();
}

CoordinatorOptions TccTest::FastOptions() {
  CoordinatorOptions o;
  o.recovery_after = std::chrono::milliseconds(0);
  o.phase_two_timeout = std::chrono::seconds(60);
  o.recovery_batch = 1000;
  return o;
}

std::unique_ptr<Coordinator> TccTest::MakeCoordinator(const std::vector<Participant*>& participants,
                                                      CoordinatorOptions options) {
  auto c = Coordinator::Create(log_pool(), NewLocks(), participants, std::move(options));
  EXPECT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*c)->CreateSchema(Deadline::After(30s)).ok());
  return std::move(*c);
}

std::vector<BranchSpec> TccTest::CheckoutBranches(int64_t account, int64_t amount, int64_t product,
                                                  int64_t quantity) {
  return {{"shop", "shop", std::to_string(product) + " " + std::to_string(quantity)},
          {"pay", "payments", std::to_string(account) + " " + std::to_string(amount)}};
}

std::string TccTest::CheckoutPayload(int64_t account, int64_t amount, int64_t product, int64_t quantity) {
  return std::to_string(account) + " " + std::to_string(amount) + " " + std::to_string(product) + " " +
         std::to_string(quantity);
}

Result<Outcome> TccTest::Checkout(Coordinator& c, const std::string& gid, int64_t account, int64_t amount,
                                  int64_t product, int64_t quantity) {
  return c.Execute(gid, CheckoutBranches(account, amount, product, quantity),
                   CheckoutPayload(account, amount, product, quantity), Deadline::After(60s));
}

void TccTest::AbandonCheckout(const std::string& gid, Step step, const std::string& branch_id, int64_t account,
                              int64_t amount, int64_t product, int64_t quantity) {
  std::unique_ptr<Participant> pay = MakePayments();
  std::unique_ptr<Participant> shop_p = MakeShop();
  CoordinatorOptions o = FastOptions();
  o.hooks = CrashAfter(step, branch_id);
  std::unique_ptr<Coordinator> a = MakeCoordinator({pay.get(), shop_p.get()}, o);
  Result<Outcome> out = Checkout(*a, gid, account, amount, product, quantity);
  ASSERT_FALSE(out.ok()) << gid << " was not abandoned";
  ASSERT_EQ(out.status().reason(), kReasonCrashed) << out.status();
}

void TccTest::AddAccount(int64_t id, int64_t balance) {
  ASSERT_TRUE(ExecAdmin("INSERT INTO `" + payments_db_ + "`.accounts (id, balance) VALUES (" + std::to_string(id) +
                        ", " + std::to_string(balance) + ")")
                  .ok());
}

void TccTest::AddProduct(int64_t id, int64_t stock) {
  ASSERT_TRUE(ExecAdmin("INSERT INTO `" + shop_db_ + "`.products (id, stock) VALUES (" + std::to_string(id) + ", " +
                        std::to_string(stock) + ")")
                  .ok());
}

int64_t TccTest::QueryInt(sql::Pool& pool, const std::string& sql) {
  Result<sql::PooledConnection> c = pool.Acquire(Deadline::After(30s));
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return -1;
  Result<sql::Rows> rows = c->Query(sql);
  EXPECT_TRUE(rows.ok()) << sql << ": " << rows.status();
  if (!rows.ok() || rows->empty()) return -1;
  Result<bool> null = (*rows)[0].IsNull(0);
  if (null.ok() && *null) return 0;
  Result<int64_t> v = (*rows)[0].GetInt64(0);
  if (!v.ok()) {
    // SUM() of BIGINT is DECIMAL: read it as text.
    Result<std::string> s = (*rows)[0].GetString(0);
    EXPECT_TRUE(s.ok()) << sql << ": " << s.status();
    return s.ok() ? std::stoll(*s) : -1;
  }
  return *v;
}

void TccTest::ExpectSettled(int64_t total_money, const std::map<int64_t, int64_t>& initial_stock) {
  EXPECT_EQ(QueryInt(log_pool(), "SELECT COUNT(*) FROM tcc_global WHERE state NOT IN ('confirmed', 'cancelled')"), 0)
      << "a global transaction was left unfinished";
  EXPECT_EQ(QueryInt(payments(), "SELECT SUM(balance + frozen) FROM accounts"), total_money) << "money not conserved";
  EXPECT_EQ(QueryInt(payments(), "SELECT COUNT(*) FROM accounts WHERE frozen <> 0"), 0) << "funds left frozen";
  // The merchant's income, against the amounts the log says were confirmed.
  int64_t confirmed_amount = 0;
  int64_t confirmed = 0;
  {
    Result<sql::PooledConnection> c = log_pool().Acquire(Deadline::After(30s));
    ASSERT_TRUE(c.ok());
    Result<sql::Rows> rows = c->Query("SELECT payload FROM tcc_global WHERE state = 'confirmed'");
    ASSERT_TRUE(rows.ok()) << rows.status();
    for (const sql::Row& row : *rows) {
      std::istringstream in(*row.GetString(0));
      int64_t account = 0;
      int64_t amount = 0;
      in >> account >> amount;
      confirmed_amount += amount;
      ++confirmed;
    }
  }
  EXPECT_EQ(QueryInt(payments(), "SELECT balance FROM accounts WHERE id = " + std::to_string(kMerchant)),
            confirmed_amount)
      << "the merchant must receive exactly the confirmed amounts";
  for (const auto& [product, stock] : initial_stock) {
    const std::string id = std::to_string(product);
    EXPECT_EQ(QueryInt(shop(), "SELECT stock FROM products WHERE id = " + id) +
                  QueryInt(shop(), "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE product_id = " + id),
              stock)
        << "stock of product " << product << " not conserved";
  }
  EXPECT_EQ(QueryInt(shop(), "SELECT COUNT(*) FROM products WHERE held <> 0"), 0) << "units left held";
  EXPECT_EQ(QueryInt(shop(), "SELECT COUNT(*) FROM orders"), confirmed) << "one order per confirmed transaction";
  // Orders only for confirmed transactions (a cross-database join on the one test server).
  EXPECT_EQ(QueryInt(shop(), "SELECT COUNT(*) FROM orders o LEFT JOIN `" + database() +
                                 "`.tcc_global g ON g.gid = o.gid WHERE g.state IS NULL OR g.state <> 'confirmed'"),
            0)
      << "an order exists for a transaction that was not confirmed";
}

}  // namespace lockstep::tcc::testing
