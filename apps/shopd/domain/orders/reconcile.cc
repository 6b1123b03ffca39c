#include "domain/orders/reconcile.h"

#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "domain/multi_row.h"
#include "domain/orders/reservation_persister.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/script.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"

namespace shopd::domain {

using lockstep::Result;
using lockstep::Status;
using lockstep::redis::Reply;

namespace {

// KEYS: reservation, stream. ARGV: its recorded entry id, then the entry's fields.
// XADDs the reservation again if it is still pending and its entry is gone; the new id, or
// "" if nothing was done.
const lockstep::redis::Script kReAdd(R"lua(
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return '' end
if redis.call('HGET', KEYS[1], 'entry') ~= ARGV[1] then return '' end
if #redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1]) > 0 then return '' end
local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
redis.call('HSET', KEYS[1], 'entry', id)
return id
)lua");

// KEYS: stock, pending set. ARGV: key prefix, product id, MariaDB stock, then request_ids
// already in MariaDB. Sets the stock to MariaDB stock - units of the product's pending
// reservations not in MariaDB. Reply {changed, wanted, had} (had -1: no stock key, left to
// the lazy initialisation).
const lockstep::redis::Script kFixStock(R"lua(
local persisted = {}
for i = 4, #ARGV do persisted[ARGV[i]] = true end
local reserved = 0
for _, rid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not persisted[rid] then
    local r = redis.call('HMGET', ARGV[1] .. 'res:' .. rid, 'state', 'pid', 'qty')
    if r[1] == 'pending' and r[2] == ARGV[2] then reserved = reserved + tonumber(r[3]) end
  end
end
local want = tonumber(ARGV[3]) - reserved
local have = redis.call('GET', KEYS[1])
if not have then return {0, want, -1} end
if tonumber(have) == want then return {0, want, tonumber(have)} end
redis.call('SET', KEYS[1], string.format('%d', want))
return {1, want, tonumber(have)}
)lua");

// Loads a reservation hash as a stream entry; nullopt if it is not pending.
Result<std::optional<std::pair<ReservationEntry, std::string>>> LoadPending(lockstep::redis::Client& redis,
                                                                           const ReservedKeys& keys,
                                                                           const std::string& rid,
                                                                           const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(Reply r, redis.Command({"HMGET", keys.Reservation(rid), "state", "uid", "pid", "qty", "oid",
                                                    "digest", "body", "inc", "entry"},
                                                   deadline));
  const auto& a = r.array();
  if (a.size() != 9 || a[0].str() != "pending") return std::optional<std::pair<ReservationEntry, std::string>>();
  ReservationEntry e;
  e.request_id = rid;
  LOCKSTEP_ASSIGN_OR_RETURN(e.user_id, a[1].AsInteger());
  LOCKSTEP_ASSIGN_OR_RETURN(e.product_id, a[2].AsInteger());
  LOCKSTEP_ASSIGN_OR_RETURN(e.quantity, a[3].AsInteger());
  LOCKSTEP_ASSIGN_OR_RETURN(e.order_id, a[4].AsInteger());
  e.digest = a[5].str();
  e.body = a[6].str();
  e.incarnation = a[7].str();
  return std::optional<std::pair<ReservationEntry, std::string>>(std::make_pair(std::move(e), a[8].str()));
}

}  // namespace

std::string ReconcileReport::ToJson() const {
  return nlohmann::json{{"reservations_checked", reservations_checked},
                        {"marked_confirmed", marked_confirmed},
                        {"marked_failed", marked_failed},
                        {"readded", readded},
                        {"stale_members", stale_members},
                        {"products_checked", products_checked},
                        {"stocks_fixed", stocks_fixed},
                        {"repairs", repairs}}
      .dump();
}

Result<ReconcileReport> Reconcile(lockstep::sql::Pool& pool, lockstep::redis::Client& redis, const ReservedKeys& keys,
                                  const lockstep::Deadline& deadline) {
  ReconcileReport report;
  // 1. Pending reservations.
  LOCKSTEP_ASSIGN_OR_RETURN(Reply members, redis.Command({"SMEMBERS", keys.Pending()}, deadline));
  for (const Reply& m : members.array()) {
    const std::string rid = m.str();
    ++report.reservations_checked;
    LOCKSTEP_ASSIGN_OR_RETURN(auto loaded, LoadPending(redis, keys, rid, deadline));
    if (!loaded) {
      LOCKSTEP_RETURN_IF_ERROR(redis.Command({"SREM", keys.Pending(), rid}, deadline).status());
      ++report.stale_members;
      continue;
    }
    const ReservationEntry& e = loaded->first;
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool.Acquire(deadline));
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                              conn.Query("SELECT id FROM orders WHERE request_id = ?", rid, deadline));
    if (!rows.empty()) {
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, rows[0].GetInt64(0));
      const bool same = id == e.order_id;
      LOCKSTEP_RETURN_IF_ERROR(ReservationPersister::Settle(redis, keys, same ? std::vector{e} : std::vector<ReservationEntry>{},
                                                            same ? std::vector<ReservationEntry>{} : std::vector{e},
                                                            deadline));
      ++(same ? report.marked_confirmed : report.marked_failed);
      report.repairs.push_back("reservation " + rid + " (order " + std::to_string(e.order_id) + "): " +
                               (same ? "in MariaDB, marked confirmed" : "request_id owned by order " +
                                                                            std::to_string(id) + ", marked failed"));
      continue;
    }
    std::vector<std::string> args = {loaded->second};
    for (auto& [k, v] : e.ToFields()) {
      args.push_back(k);
      args.push_back(v);
    }
    LOCKSTEP_ASSIGN_OR_RETURN(Reply added, kReAdd.Run(redis, {keys.Reservation(rid), keys.Stream()}, args, deadline));
    if (!added.str().empty()) {
      ++report.readded;
      report.repairs.push_back("reservation " + rid + " (order " + std::to_string(e.order_id) +
                               "): in neither MariaDB nor the stream, added again as " + added.str());
    }
  }

  // 2. Redis stock per reserved product.
  std::vector<int64_t> products;
  {
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool.Acquire(deadline));
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                              conn.Query("SELECT id FROM products WHERE stock_mode = 'reserved' ORDER BY id", deadline));
    for (const auto& row : rows) {
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, row.GetInt64(0));
      products.push_back(id);
    }
  }
  for (int64_t pid : products) {
    ++report.products_checked;
    lockstep::sql::RunOptions options;
    options.tx.isolation = lockstep::sql::IsolationLevel::kReadCommitted;
    const Status fixed_stock = lockstep::sql::RunInTransaction(
        pool, options, deadline, [&](lockstep::sql::Transaction& tx) -> Status {
          // The row lock keeps persisters of this product out until the Redis step is done.
          LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                                    tx.Query("SELECT stock FROM products WHERE id = ? FOR UPDATE", pid));
          if (rows.empty()) return Status::Ok();
          LOCKSTEP_ASSIGN_OR_RETURN(int64_t stock, rows[0].GetInt64(0));
          // Pending members now (after the lock): those already in MariaDB were committed
          // before it and must not count as reserved twice.
          LOCKSTEP_ASSIGN_OR_RETURN(Reply pending, redis.Command({"SMEMBERS", keys.Pending()}, tx.deadline()));
          std::vector<std::tuple<std::string>> rids;
          for (const Reply& m : pending.array()) rids.emplace_back(m.str());
          std::vector<std::string> args = {keys.prefix, std::to_string(pid), std::to_string(stock)};
          LOCKSTEP_RETURN_IF_ERROR(QueryMultiRow(tx, "SELECT request_id FROM orders WHERE request_id IN (", "?", ")",
                                                 rids, [&](const lockstep::sql::Row& row) -> Status {
                                                   LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, row.GetString(0));
                                                   args.push_back(std::move(rid));
                                                   return Status::Ok();
                                                 }));
          LOCKSTEP_ASSIGN_OR_RETURN(Reply fixed,
                                    kFixStock.Run(redis, {keys.Stock(pid), keys.Pending()}, args, tx.deadline()));
          const auto& a = fixed.array();
          if (a.size() == 3 && a[0].is_integer() && a[0].integer() == 1) {
            ++report.stocks_fixed;
            report.repairs.push_back("product " + std::to_string(pid) + ": Redis stock " +
                                     std::to_string(a[2].integer()) + " set to " + std::to_string(a[1].integer()) +
                                     " (MariaDB stock " + std::to_string(stock) + " - pending units)");
          }
          return Status::Ok();
        });
    LOCKSTEP_RETURN_IF_ERROR(fixed_stock);
  }
  return report;
}

}  // namespace shopd::domain
