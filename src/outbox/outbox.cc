#include "lockstep/outbox/outbox.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <string_view>
#include <thread>

#include "lockstep/sql/run_in_transaction.h"

namespace lockstep::outbox {
namespace {

// Rows per multi-row INSERT: each distinct size is one prepared statement per connection.
constexpr size_t kMaxRowsPerInsert = 32;
// Rows of the gate: an append share-locks one (by its thread), a listing all of them, so
// concurrent appends do not all queue their shared locks on one record.
constexpr int kGateRows = 16;
constexpr size_t kMaxType = 100;
constexpr size_t kMaxAggregate = 190;

bool ValidIdentifier(const std::string& name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
}

Status ValidateEvent(const Event& e) {
  if (e.type.empty() || e.type.size() > kMaxType) {
    return Status::InvalidArgument("outbox event type must be 1..", kMaxType, " bytes");
  }
  if (e.aggregate.empty() || e.aggregate.size() > kMaxAggregate) {
    return Status::InvalidArgument("outbox event aggregate must be 1..", kMaxAggregate, " bytes");
  }
  if (e.data.empty()) return Status::InvalidArgument("outbox event data must be a JSON document");
  return Status::Ok();
}

// A duplicate key on a counter or version: another transaction allocated first (and our
// read was older than its commit). Rerunning the whole transaction reads the new state.
Status LostRace(Status s, const std::string& aggregate) {
  if (s.code() != StatusCode::kAlreadyExists) return s;
  return Status::Aborted("outbox: concurrent append to ", aggregate, "; rerun the transaction: ", s.message());
}

}  // namespace

Result<Outbox> Outbox::Create(OutboxOptions options) {
  if (!ValidIdentifier(options.table, 48)) {
    return Status::InvalidArgument("OutboxOptions.table must be 1..48 of [A-Za-z0-9_], got '", options.table, "'");
  }
  return Outbox(std::move(options));
}

std::vector<std::string> Outbox::SchemaStatements() const {
  const std::string& t = options_.table;
  return {
      "CREATE TABLE IF NOT EXISTS " + t +
          " (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, type VARCHAR(100) NOT NULL, "
          "aggregate VARCHAR(190) NOT NULL, aggregate_version BIGINT UNSIGNED NOT NULL, "
          "data LONGTEXT NOT NULL CHECK (JSON_VALID(data)), appended_at DATETIME(6) NOT NULL, "
          "UNIQUE KEY uk_" + t + "_aggregate_version (aggregate, aggregate_version)) ENGINE=InnoDB",
      "CREATE TABLE IF NOT EXISTS " + t +
          "_versions (aggregate VARCHAR(190) NOT NULL PRIMARY KEY, version BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB",
      "CREATE TABLE IF NOT EXISTS " + t + "_gate (id TINYINT UNSIGNED NOT NULL PRIMARY KEY) ENGINE=InnoDB",
      "INSERT IGNORE INTO " + t + "_gate (id) VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), "
      "(13), (14), (15), (16)",
  };
}

Result<int64_t> Outbox::NextVersion(sql::Transaction& tx, const std::string& aggregate, int64_t in_batch) const {
  const std::string& t = options_.table;
  // An equality hit on the primary key locks that one record and no gap; it reads the
  // latest committed counter (a locking statement), and LAST_INSERT_ID(expr) hands the new
  // value back in the OK packet.
  LOCKSTEP_ASSIGN_OR_RETURN(
      sql::ExecResult r,
      tx.Execute("UPDATE " + t + "_versions SET version = LAST_INSERT_ID(version + 1) WHERE aggregate = ?",
                 aggregate));
  if (r.affected_rows == 1) return static_cast<int64_t>(r.last_insert_id);
  // No counter yet: the aggregate's second event (first events write none), or one whose
  // events did not start in this outbox. Continue after its events so far (and those given
  // earlier in this batch, not inserted yet) and create the counter. Under READ COMMITTED
  // the missed UPDATE locked nothing; under REPEATABLE READ it took one gap lock, once per
  // aggregate (a deadlock it causes is kAborted and rerun).
  LOCKSTEP_ASSIGN_OR_RETURN(
      sql::Rows max,
      tx.Query("SELECT CAST(COALESCE(MAX(aggregate_version), 0) AS SIGNED) FROM " + t + " WHERE aggregate = ?",
               aggregate));
  LOCKSTEP_ASSIGN_OR_RETURN(int64_t last, max[0].GetInt64(0));
  const int64_t version = std::max(last, in_batch) + 1;
  Result<sql::ExecResult> inserted =
      tx.Execute("INSERT INTO " + t + "_versions (aggregate, version) VALUES (?, ?)", aggregate, version);
  if (!inserted.ok()) return LostRace(inserted.status(), aggregate);
  return version;
}

Status Outbox::Append(sql::Transaction& tx, const Event& event) const {
  return AppendBatch(tx, {event});
}

Status Outbox::AppendBatch(sql::Transaction& tx, const std::vector<Event>& events) const {
  if (events.empty()) return Status::Ok();
  for (const Event& e : events) LOCKSTEP_RETURN_IF_ERROR(ValidateEvent(e));
  const std::string& t = options_.table;
  // The listing barrier (see the header): shared, held until this transaction ends, taken
  // before any id is allocated.
  const int64_t gate_row =
      1 + static_cast<int64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()) % kGateRows);
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows gate,
                            tx.Query("SELECT id FROM " + t + "_gate WHERE id = ? LOCK IN SHARE MODE", gate_row));
  if (gate.empty()) return Status::FailedPrecondition("outbox: gate row ", gate_row, " of ", t, "_gate is missing (schema)");
  std::vector<int64_t> versions(events.size());
  std::map<std::string_view, int64_t> in_batch;  // Aggregate -> last version given in this batch.
  for (size_t i = 0; i < events.size(); ++i) {
    int64_t& last = in_batch[events[i].aggregate];
    if (events[i].creates_aggregate) {
      versions[i] = 1;
    } else {
      LOCKSTEP_ASSIGN_OR_RETURN(versions[i], NextVersion(tx, events[i].aggregate, last));
    }
    last = versions[i];
  }
  for (size_t begin = 0; begin < events.size(); begin += kMaxRowsPerInsert) {
    const size_t n = std::min(kMaxRowsPerInsert, events.size() - begin);
    std::string sql = "INSERT INTO " + t + " (type, aggregate, aggregate_version, data, appended_at) VALUES ";
    sql::ParamList params;
    for (size_t i = 0; i < n; ++i) {
      const Event& e = events[begin + i];
      sql += i ? ", (?, ?, ?, ?, UTC_TIMESTAMP(6))" : "(?, ?, ?, ?, UTC_TIMESTAMP(6))";
      params.Add(e.type, e.aggregate, versions[begin + i], e.data);
    }
    Result<sql::ExecResult> r = tx.ExecuteList(sql, params);
    if (!r.ok()) {
      if (r.status().code() != StatusCode::kAlreadyExists) return r.status();
      // A version taken: a second "first" event (the caller's bug; the key named in the
      // message is "<aggregate>-1"), or a race lost.
      const std::string_view message = r.status().message();
      for (size_t i = 0; i < n; ++i) {
        if (events[begin + i].creates_aggregate &&
            message.find("'" + events[begin + i].aggregate + "-1'") != std::string_view::npos) {
          return Status::FailedPrecondition("outbox: aggregate ", events[begin + i].aggregate,
                                            " already has events (a second creates_aggregate event?)")
              .WithReason("aggregate_exists");
        }
      }
      return LostRace(r.status(), events[begin].aggregate);
    }
  }
  return Status::Ok();
}

Result<EventPage> Outbox::ListAfter(sql::Pool& pool, int64_t after, int limit, const Deadline& deadline) const {
  if (after < 0) return Status::InvalidArgument("after must be >= 0");
  if (limit < 1 || limit > 1000) return Status::InvalidArgument("limit must be 1..1000");
  const std::string& t = options_.table;
  int64_t mark = 0;
  sql::RunOptions run;
  run.tx.isolation = sql::IsolationLevel::kReadCommitted;  // The MAX read sees every commit.
  LOCKSTEP_RETURN_IF_ERROR(sql::RunInTransaction(pool, run, deadline, [&](sql::Transaction& tx) -> Status {
    // Granted when no append holds the gate: every id allocated so far is settled.
    // Every row, in id order (two listings cannot deadlock; an append holds one row).
    LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows gate, tx.Query("SELECT id FROM " + t + "_gate ORDER BY id FOR UPDATE"));
    if (gate.size() != kGateRows) {
      return Status::FailedPrecondition("outbox: ", t, "_gate has ", gate.size(), " rows, not ", kGateRows, " (schema)");
    }
    LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows max, tx.Query("SELECT CAST(COALESCE(MAX(id), 0) AS SIGNED) FROM " + t));
    LOCKSTEP_ASSIGN_OR_RETURN(mark, max[0].GetInt64(0));
    return tx.Commit();
  }));
  EventPage page;
  page.next_after = after;
  if (mark <= after) return page;
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, pool.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(
      sql::Rows rows,
      conn.Query("SELECT id, type, aggregate, aggregate_version, data, "
                 "DATE_FORMAT(appended_at, '%Y-%m-%dT%H:%i:%s.%fZ') FROM " +
                     t + " WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
                 after, mark, static_cast<int64_t>(limit), deadline));
  page.events.reserve(rows.size());
  for (const sql::Row& row : rows) {
    StoredEvent e;
    LOCKSTEP_ASSIGN_OR_RETURN(e.event_id, row.GetInt64(0));
    LOCKSTEP_ASSIGN_OR_RETURN(e.type, row.GetString(1));
    LOCKSTEP_ASSIGN_OR_RETURN(e.aggregate, row.GetString(2));
    LOCKSTEP_ASSIGN_OR_RETURN(e.aggregate_version, row.GetInt64(3));
    LOCKSTEP_ASSIGN_OR_RETURN(e.data, row.GetString(4));
    LOCKSTEP_ASSIGN_OR_RETURN(e.appended_at, row.GetString(5));
    page.next_after = e.event_id;
    page.events.push_back(std::move(e));
  }
  return page;
}

}  // namespace lockstep::outbox
