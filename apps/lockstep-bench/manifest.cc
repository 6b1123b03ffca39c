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

Result<std::vector<std::string>> VerifyTransfers(sql::Pool& pool, const TransfersManifest& manifest) {
  std::vector<std::string> violations;
  const Deadline deadline = Deadline::After(std::chrono::minutes(2));
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, pool.Acquire(deadline));
  if (manifest.initial_balances.empty()) return violations;
  const int64_t min_id = manifest.initial_balances.begin()->first;
  const int64_t max_id = manifest.initial_balances.rbegin()->first;

  std::map<int64_t, int64_t> balances;
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows rows, conn.Query("SELECT id, balance FROM accounts WHERE id BETWEEN ? AND ?",
                                                       min_id, max_id, deadline));
  for (const auto& row : rows) {
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, row.GetInt64(0));
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t balance, row.GetInt64(1));
    if (manifest.initial_balances.count(id) != 0) balances[id] = balance;
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
    violations.push_back("money not conserved: sum of balances " + std::to_string(sum) + " != initial " +
                         std::to_string(initial_sum) + " (difference " + std::to_string(sum - initial_sum) + ")");
  }

  // Replay every transfer row of the run onto the initial balances.
  std::string like = manifest.request_prefix;
  for (char c : std::string("\\%_")) {
    for (size_t p = like.find(c); p != std::string::npos; p = like.find(c, p + 2)) like.insert(p, "\\");
  }
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows transfers,
                            conn.Query("SELECT request_id, from_id, to_id, amount FROM transfers WHERE request_id LIKE ?",
                                       like + "%", deadline));
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

}  // namespace lockstep::bench
