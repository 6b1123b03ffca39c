#include "manifest.h"

#include <nlohmann/json.hpp>

#include "lockstep/sql/pool.h"

namespace lockstep::bench {

std::string TransfersManifest::ToJson() const {
  nlohmann::json j;
  j["request_prefix"] = request_prefix;
  nlohmann::json accounts = nlohmann::json::object();
  for (const auto& [id, balance] : initial_balances) accounts[std::to_string(id)] = balance;
  j["initial_balances"] = accounts;
  nlohmann::json answers_json = nlohmann::json::object();
  for (const auto& [rid, a] : answers) answers_json[rid] = {a.from, a.to, a.amount, a.status};
  j["answers"] = answers_json;
  return j.dump();
}

Result<TransfersManifest> TransfersManifest::FromJson(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    TransfersManifest m;
    m.request_prefix = j.at("request_prefix").get<std::string>();
    for (const auto& [id, balance] : j.at("initial_balances").items()) {
      m.initial_balances[std::stoll(id)] = balance.get<int64_t>();
    }
    for (const auto& [rid, a] : j.at("answers").items()) {
      m.answers[rid] = Ack{a.at(0).get<int64_t>(), a.at(1).get<int64_t>(), a.at(2).get<int64_t>(), a.at(3).get<int>()};
    }
    return m;
  } catch (const std::exception& e) {
    return Status::InvalidArgument("bad manifest: ", e.what());
  }
}

std::string LikePrefix(const std::string& prefix) {
  std::string like;
  for (char c : prefix) {
    if (c == '\\' || c == '%' || c == '_') like.push_back('\\');
    like.push_back(c);
  }
  return like + "%";
}

Result<std::vector<std::string>> VerifyTransfers(sql::Pool& pool, const TransfersManifest& manifest) {
  std::vector<std::string> violations;
  const Deadline deadline = Deadline::After(std::chrono::minutes(2));
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, pool.Acquire(deadline));
  if (manifest.initial_balances.empty()) return violations;
  const int64_t min_id = manifest.initial_balances.begin()->first;
  const int64_t max_id = manifest.initial_balances.rbegin()->first;

  std::map<int64_t, int64_t> balances;
  // Checkouts freeze money (accounts.frozen) until they settle: what is conserved is
  // balance + frozen, and after settling nothing may stay frozen.
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows rows, conn.Query("SELECT id, balance, frozen FROM accounts WHERE id BETWEEN ? AND ?",
                                                       min_id, max_id, deadline));
  for (const auto& row : rows) {
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, row.GetInt64(0));
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t balance, row.GetInt64(1));
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t frozen, row.GetInt64(2));
    if (manifest.initial_balances.count(id) == 0) continue;
    balances[id] = balance + frozen;
    if (frozen != 0) violations.push_back("account " + std::to_string(id) + " still has " + std::to_string(frozen) + " frozen");
  }
  int64_t initial_sum = 0, sum = 0;
  for (const auto& [id, initial] : manifest.initial_balances) {
    initial_sum += initial;
    auto it = balances.find(id);
    if (it == balances.end()) {
      violations.push_back("account " + std::to_string(id) + " disappeared");
      continue;
    }
    sum += it->second;
    if (it->second < 0) violations.push_back("account " + std::to_string(id) + " has negative balance " + std::to_string(it->second));
  }
  if (sum != initial_sum) {
    violations.push_back("money not conserved: sum of balance + frozen " + std::to_string(sum) + " != initial " +
                         std::to_string(initial_sum) + " (difference " + std::to_string(sum - initial_sum) + ")");
  }

  // Replay every transfer row of the run onto the initial balances.
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows transfers,
                            conn.Query("SELECT request_id, from_id, to_id, amount FROM transfers WHERE request_id LIKE ?",
                                       LikePrefix(manifest.request_prefix), deadline));
  std::map<int64_t, int64_t> expected = manifest.initial_balances;
  std::map<std::string, TransfersManifest::Ack> rows_by_request;
  for (const auto& row : transfers) {
    LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, row.GetString(0));
    TransfersManifest::Ack a;
    LOCKSTEP_ASSIGN_OR_RETURN(a.from, row.GetInt64(1));
    LOCKSTEP_ASSIGN_OR_RETURN(a.to, row.GetInt64(2));
    LOCKSTEP_ASSIGN_OR_RETURN(a.amount, row.GetInt64(3));
    if (!rows_by_request.emplace(rid, a).second) violations.push_back("request_id " + rid + " has two transfer rows");
    if (expected.count(a.from) == 0 || expected.count(a.to) == 0) {
      violations.push_back("transfer " + rid + " touches an account outside the run");
      continue;
    }
    expected[a.from] -= a.amount;
    expected[a.to] += a.amount;
  }
  int reported = 0;
  for (const auto& [id, want] : expected) {
    auto it = balances.find(id);
    if (it != balances.end() && it->second != want && reported++ < 10) {
      violations.push_back("account " + std::to_string(id) + " balance " + std::to_string(it->second) +
                           " != initial + transfer rows = " + std::to_string(want));
    }
  }
  for (const auto& [rid, ack] : manifest.answers) {
    auto it = rows_by_request.find(rid);
    if (ack.status == 200) {
      if (it == rows_by_request.end()) {
        violations.push_back("acknowledged transfer " + rid + " has no row");
      } else if (it->second.from != ack.from || it->second.to != ack.to || it->second.amount != ack.amount) {
        violations.push_back("transfer row " + rid + " differs from the acknowledged request");
      }
    } else if (it != rows_by_request.end()) {
      violations.push_back("transfer " + rid + " was answered " + std::to_string(ack.status) + " but has a row");
    }
  }
  return violations;
}

std::string FlashsaleManifest::ToJson() const {
  nlohmann::json j;
  j["request_prefix"] = request_prefix;
  j["product_id"] = product_id;
  j["initial_stock"] = initial_stock;
  nlohmann::json answers_json = nlohmann::json::object();
  for (const auto& [rid, a] : answers) answers_json[rid] = {a.quantity, a.status, a.order_id};
  j["answers"] = answers_json;
  return j.dump();
}

Result<FlashsaleManifest> FlashsaleManifest::FromJson(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    FlashsaleManifest m;
    m.request_prefix = j.at("request_prefix").get<std::string>();
    m.product_id = j.at("product_id").get<int64_t>();
    m.initial_stock = j.at("initial_stock").get<int64_t>();
    for (const auto& [rid, a] : j.at("answers").items()) {
      m.answers[rid] = Ack{a.at(0).get<int64_t>(), a.at(1).get<int>(), a.at(2).get<int64_t>()};
    }
    return m;
  } catch (const std::exception& e) {
    return Status::InvalidArgument("bad manifest: ", e.what());
  }
}

Result<std::vector<std::string>> VerifyFlashsale(sql::Pool& pool, const FlashsaleManifest& manifest) {
  std::vector<std::string> violations;
  const Deadline deadline = Deadline::After(std::chrono::minutes(2));
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, pool.Acquire(deadline));
  const std::string pid = std::to_string(manifest.product_id);
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows product,
                            conn.Query("SELECT stock FROM products WHERE id = ?", manifest.product_id, deadline));
  if (product.empty()) {
    violations.push_back("product " + pid + " disappeared");
    return violations;
  }
  LOCKSTEP_ASSIGN_OR_RETURN(int64_t stock, product[0].GetInt64(0));
  if (stock < 0) violations.push_back("product " + pid + " has negative stock " + std::to_string(stock));

  struct OrderRow {
    int64_t id = 0, product_id = 0, quantity = 0;
    std::string status;
  };
  // Every order of the product (the run created it) plus every order of the run's prefix.
  LOCKSTEP_ASSIGN_OR_RETURN(
      sql::Rows orders,
      conn.Query("SELECT id, request_id, product_id, quantity, status FROM orders "
                 "WHERE product_id = ? OR LEFT(request_id, ?) = ?",
                 manifest.product_id, static_cast<int64_t>(manifest.request_prefix.size()), manifest.request_prefix,
                 deadline));
  std::map<std::string, OrderRow> rows_by_request;
  int64_t sold = 0, run_rows = 0;
  for (const auto& row : orders) {
    OrderRow o;
    LOCKSTEP_ASSIGN_OR_RETURN(o.id, row.GetInt64(0));
    LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, row.GetString(1));
    LOCKSTEP_ASSIGN_OR_RETURN(o.product_id, row.GetInt64(2));
    LOCKSTEP_ASSIGN_OR_RETURN(o.quantity, row.GetInt64(3));
    LOCKSTEP_ASSIGN_OR_RETURN(o.status, row.GetString(4));
    if (o.product_id == manifest.product_id && o.status == "confirmed") sold += o.quantity;
    if (rid.compare(0, manifest.request_prefix.size(), manifest.request_prefix) == 0) ++run_rows;
    if (!rows_by_request.emplace(rid, o).second) violations.push_back("request_id " + rid + " has two orders");
  }
  if (manifest.initial_stock != stock + sold) {
    violations.push_back("stock not conserved: initial stock " + std::to_string(manifest.initial_stock) +
                         " != products.stock " + std::to_string(stock) + " + confirmed quantity " +
                         std::to_string(sold) + " (difference " + std::to_string(stock + sold - manifest.initial_stock) +
                         ")");
  }
  int64_t acked = 0, unanswered_rows = 0;
  int64_t smallest_refused = -1;
  for (const auto& [rid, ack] : manifest.answers) {
    auto it = rows_by_request.find(rid);
    if (ack.status == 201) {
      ++acked;
      if (it == rows_by_request.end()) {
        violations.push_back("acknowledged order " + rid + " has no row");
      } else if (it->second.id != ack.order_id || it->second.product_id != manifest.product_id ||
                 it->second.quantity != ack.quantity) {
        violations.push_back("order row " + rid + " differs from the acknowledged order");
      }
    } else if (it != rows_by_request.end()) {
      violations.push_back("order " + rid + " was answered " + std::to_string(ack.status) + " but has a row");
    }
    if (ack.status == 409 && (smallest_refused < 0 || ack.quantity < smallest_refused)) smallest_refused = ack.quantity;
  }
  for (const auto& [rid, row] : rows_by_request) {
    if (rid.compare(0, manifest.request_prefix.size(), manifest.request_prefix) == 0 &&
        manifest.answers.count(rid) == 0) {
      ++unanswered_rows;  // Outcome unknown to the client (5xx/transport): allowed either way.
    }
  }
  if (run_rows != acked + unanswered_rows) {
    violations.push_back("count of 201s " + std::to_string(acked) + " != order rows of the run " +
                         std::to_string(run_rows) + " (" + std::to_string(unanswered_rows) + " without an answer)");
  }
  if (smallest_refused > 0 && stock >= smallest_refused) {
    violations.push_back("not sold out: an order for " + std::to_string(smallest_refused) +
                         " was refused as out_of_stock but the stock is " + std::to_string(stock));
  }
  return violations;
}

}  // namespace lockstep::bench
