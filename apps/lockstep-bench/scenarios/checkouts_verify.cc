#include "scenarios/checkouts_verify.h"

#include <chrono>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "lockstep/base/deadline.h"
#include "lockstep/sql/pool.h"
#include "manifest.h"

namespace lockstep::bench {
namespace {

struct CheckoutRow {
  int64_t id = 0, account = 0, product = 0, quantity = 0, amount = 0, order_id = 0;
  std::string status, reason;
};

Result<std::map<std::string, CheckoutRow>> LoadCheckouts(sql::PooledConnection& conn, const CheckoutsRun& run,
                                                         const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows rows,
                            conn.Query("SELECT id, request_id, account_id, product_id, quantity, amount, order_id, "
                                       "status, reason FROM checkouts WHERE request_id LIKE ?",
                                       LikePrefix(run.request_prefix), deadline));
  std::map<std::string, CheckoutRow> out;
  for (const auto& row : rows) {
    CheckoutRow c;
    LOCKSTEP_ASSIGN_OR_RETURN(c.id, row.GetInt64(0));
    LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, row.GetString(1));
    LOCKSTEP_ASSIGN_OR_RETURN(c.account, row.GetInt64(2));
    LOCKSTEP_ASSIGN_OR_RETURN(c.product, row.GetInt64(3));
    LOCKSTEP_ASSIGN_OR_RETURN(c.quantity, row.GetInt64(4));
    LOCKSTEP_ASSIGN_OR_RETURN(c.amount, row.GetInt64(5));
    LOCKSTEP_ASSIGN_OR_RETURN(c.order_id, row.GetInt64(6));
    LOCKSTEP_ASSIGN_OR_RETURN(c.status, row.GetString(7));
    LOCKSTEP_ASSIGN_OR_RETURN(c.reason, row.GetString(8));
    out.emplace(std::move(rid), std::move(c));
  }
  return out;
}

nlohmann::json IdMap(const std::map<int64_t, int64_t>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [id, v] : m) j[std::to_string(id)] = v;
  return j;
}

std::map<int64_t, int64_t> FromIdMap(const nlohmann::json& j) {
  std::map<int64_t, int64_t> m;
  for (const auto& [id, v] : j.items()) m[std::stoll(id)] = v.get<int64_t>();
  return m;
}

}  // namespace

std::string CheckoutsRun::ToJson() const {
  nlohmann::json answers_json = nlohmann::json::object();
  for (const auto& [rid, a] : answers) answers_json[rid] = {a.status, a.code, a.id, a.amount, a.order_id};
  return nlohmann::json{{"request_prefix", request_prefix},
                        {"merchant", merchant},
                        {"initial_balances", IdMap(initial_balances)},
                        {"initial_stock", IdMap(initial_stock)},
                        {"answers", answers_json}}
      .dump();
}

Result<CheckoutsRun> CheckoutsRun::FromJson(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    CheckoutsRun r;
    r.request_prefix = j.at("request_prefix").get<std::string>();
    r.merchant = j.at("merchant").get<int64_t>();
    r.initial_balances = FromIdMap(j.at("initial_balances"));
    r.initial_stock = FromIdMap(j.at("initial_stock"));
    for (const auto& [rid, a] : j.at("answers").items()) {
      r.answers[rid] = Ack{a.at(0).get<int>(), a.at(1).get<std::string>(), a.at(2).get<int64_t>(),
                           a.at(3).get<int64_t>(), a.at(4).get<int64_t>()};
    }
    return r;
  } catch (const std::exception& e) {
    return Status::InvalidArgument("bad manifest: ", e.what());
  }
}

bool AwaitCheckoutsSettled(sql::Pool& shop, const CheckoutsRun& run, double timeout_s, int64_t bound_ms,
                           std::vector<std::string>& violations) {
  const Deadline deadline = Deadline::After(std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
  std::set<std::string> reported;
  for (;;) {
    auto conn = shop.Acquire(Deadline::After(std::chrono::seconds(30)));
    if (!conn.ok()) return false;
    // Age on the database's clock (the rows' created_at is UTC_TIMESTAMP(6)).
    auto rows = conn->Query("SELECT request_id, TIMESTAMPDIFF(MICROSECOND, created_at, UTC_TIMESTAMP(6)) "
                            "FROM checkouts WHERE request_id LIKE ? AND status = 'trying'",
                            LikePrefix(run.request_prefix), Deadline::After(std::chrono::seconds(30)));
    if (!rows.ok()) return false;
    for (const auto& row : *rows) {
      const std::string rid = row.GetString(0).value_or("?");
      const int64_t age_ms = row.GetInt64(1).value_or(0) / 1000;
      if (age_ms > bound_ms && reported.insert(rid).second) {
        violations.push_back("checkout " + rid + " still trying " + std::to_string(age_ms) +
                             " ms after it began (recovery bound " + std::to_string(bound_ms) + " ms)");
      }
    }
    if (rows->empty()) return true;
    if (deadline.expired()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // Polling interval, not synchronisation.
  }
}

Result<std::vector<std::string>> VerifyCheckouts(sql::Pool& shop, sql::Pool& payments, const CheckoutsRun& run) {
  std::vector<std::string> v;
  const Deadline deadline = Deadline::After(std::chrono::minutes(2));
  auto report = [&v](std::string what) {
    if (v.size() < 50) v.push_back(std::move(what));
  };
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection shop_conn, shop.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection pay_conn, payments.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(const auto checkouts, LoadCheckouts(shop_conn, run, deadline));

  // Money.
  std::map<int64_t, int64_t> paid;  // Buyer -> amounts of its completed checkouts.
  int64_t completed_amount = 0;
  for (const auto& [rid, c] : checkouts) {
    if (c.status == "trying") report("checkout " + rid + " is still trying");
    if (c.status != "completed") continue;
    paid[c.account] += c.amount;
    completed_amount += c.amount;
  }
  if (!run.initial_balances.empty()) {
    LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows rows, pay_conn.Query("SELECT id, balance, frozen FROM accounts WHERE id BETWEEN ? AND ?",
                                                             run.initial_balances.begin()->first,
                                                             run.initial_balances.rbegin()->first, deadline));
    int64_t initial_sum = 0, sum = 0;
    for (const auto& [id, b] : run.initial_balances) initial_sum += b;
    std::map<int64_t, std::pair<int64_t, int64_t>> now;
    for (const auto& row : rows) {
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, row.GetInt64(0));
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t balance, row.GetInt64(1));
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t frozen, row.GetInt64(2));
      if (run.initial_balances.count(id) != 0) now[id] = {balance, frozen};
    }
    for (const auto& [id, initial] : run.initial_balances) {
      auto it = now.find(id);
      if (it == now.end()) {
        report("account " + std::to_string(id) + " disappeared");
        continue;
      }
      const auto [balance, frozen] = it->second;
      sum += balance + frozen;
      if (frozen != 0) report("account " + std::to_string(id) + " still has " + std::to_string(frozen) + " frozen");
      if (balance < 0) report("account " + std::to_string(id) + " has negative balance " + std::to_string(balance));
      const int64_t want = id == run.merchant ? initial + completed_amount : initial - paid[id];
      if (balance + frozen != want) {
        report(std::string(id == run.merchant ? "merchant " : "buyer ") + std::to_string(id) + " has " +
               std::to_string(balance + frozen) + ", expected " + std::to_string(want) + " from its completed checkouts");
      }
    }
    if (sum != initial_sum) {
      report("money not conserved: sum(balance + frozen) " + std::to_string(sum) + " != initial " +
             std::to_string(initial_sum));
    }
  }

  // Stock and orders.
  if (!run.initial_stock.empty()) {
    const int64_t lo = run.initial_stock.begin()->first, hi = run.initial_stock.rbegin()->first;
    LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows products,
                              shop_conn.Query("SELECT id, stock, held FROM products WHERE id BETWEEN ? AND ?", lo, hi,
                                              deadline));
    LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows orders,
                              shop_conn.Query("SELECT id, request_id, user_id, product_id, quantity, status FROM orders "
                                              "WHERE product_id BETWEEN ? AND ?",
                                              lo, hi, deadline));
    std::map<int64_t, int64_t> ordered;  // Product -> confirmed quantity.
    std::map<int64_t, std::vector<std::string>> orders_by_id;
    std::map<int64_t, std::tuple<std::string, int64_t, int64_t, int64_t>> order_rows;
    for (const auto& row : orders) {
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, row.GetInt64(0));
      LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, row.GetString(1));
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t user, row.GetInt64(2));
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t product, row.GetInt64(3));
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t quantity, row.GetInt64(4));
      LOCKSTEP_ASSIGN_OR_RETURN(std::string status, row.GetString(5));
      if (run.initial_stock.count(product) == 0) continue;
      if (status == "confirmed") ordered[product] += quantity;
      order_rows[id] = {rid, user, product, quantity};
    }
    for (const auto& row : products) {
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, row.GetInt64(0));
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t stock, row.GetInt64(1));
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t held, row.GetInt64(2));
      auto it = run.initial_stock.find(id);
      if (it == run.initial_stock.end()) continue;
      if (held != 0) report("product " + std::to_string(id) + " still holds " + std::to_string(held) + " units");
      if (stock < 0) report("product " + std::to_string(id) + " has negative stock");
      if (it->second != stock + ordered[id]) {
        report("product " + std::to_string(id) + ": initial stock " + std::to_string(it->second) + " != stock " +
               std::to_string(stock) + " + ordered " + std::to_string(ordered[id]));
      }
    }
    std::set<int64_t> explained;
    for (const auto& [rid, c] : checkouts) {
      auto it = order_rows.find(c.order_id);
      if (c.status != "completed") {
        if (it != order_rows.end()) report("cancelled checkout " + rid + " has order " + std::to_string(c.order_id));
        continue;
      }
      if (it == order_rows.end()) {
        report("completed checkout " + rid + " has no order " + std::to_string(c.order_id));
        continue;
      }
      explained.insert(c.order_id);
      const auto& [order_rid, user, product, quantity] = it->second;
      if (order_rid != "checkout:" + std::to_string(c.id) || user != c.account || product != c.product ||
          quantity != c.quantity) {
        report("order " + std::to_string(c.order_id) + " does not match checkout " + rid);
      }
    }
    for (const auto& [id, o] : order_rows) {
      if (explained.count(id) == 0) report("order " + std::to_string(id) + " belongs to no completed checkout");
    }
  }

  // What the clients were told.
  for (const auto& [rid, a] : run.answers) {
    auto it = checkouts.find(rid);
    if (it == checkouts.end()) {
      report("answered checkout " + rid + " has no row");
      continue;
    }
    const CheckoutRow& c = it->second;
    if (a.status == 201 && (c.status != "completed" || c.id != a.id || c.amount != a.amount || c.order_id != a.order_id)) {
      report("checkout " + rid + " answered 201 but is " + c.status);
    }
    if (a.status == 409 && (c.status != "cancelled" || c.reason != a.code)) {
      report("checkout " + rid + " answered 409 " + a.code + " but is " + c.status + " " + c.reason);
    }
  }
  return v;
}

}  // namespace lockstep::bench
