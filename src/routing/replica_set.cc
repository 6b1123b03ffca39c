#include "lockstep/routing/replica_set.h"

#include "routing/monitor.h"
#include "routing/replica_state.h"
#include "routing/router.h"

namespace lockstep::routing {
namespace {

// Statuses after which a replica is skipped for this read: the server is gone, refuses, or
// its pool is busy (a deadline is the read's own: no time is left for the primary either).
bool ServerFailed(const Status& s) { return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kInternal; }
// ... and of those, the ones that came from the server or its breaker (not a busy pool).
bool ServerDown(const Status& s) { return ServerFailed(s) && (s.driver_error() != 0 || s.reason() == "circuit_open"); }

}  // namespace

Result<std::unique_ptr<ReplicaSet>> ReplicaSet::Open(sql::Pool& primary, std::vector<sql::Pool*> replicas,
                                                     const ReplicaSetOptions& options, const Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(options.Validate());
  for (const sql::Pool* p : replicas) {
    if (p == nullptr) return Status::InvalidArgument("ReplicaSet::Open: null replica pool");
  }
  // Quoted, so any database name works (the options' names are checked identifiers).
  std::string table;
  const size_t dot = options.heartbeat_table.find('.');
  if (dot == std::string::npos) {
    const std::string& db = primary.connection_options().database;
    if (db.empty()) {
      return Status::InvalidArgument("ReplicaSetOptions.heartbeat_table '", options.heartbeat_table,
                                     "' is unqualified and the primary pool has no database");
    }
    if (db.find('`') != std::string::npos) return Status::InvalidArgument("database name with a backtick: ", db);
    table = "`" + db + "`.`" + options.heartbeat_table + "`";
  } else {
    table = "`" + options.heartbeat_table.substr(0, dot) + "`.`" + options.heartbeat_table.substr(dot + 1) + "`";
  }
  if (options.create_heartbeat_table && !replicas.empty()) {
    LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, primary.Acquire(deadline));
    auto r = conn.Execute("CREATE TABLE IF NOT EXISTS " + table +
                              " (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, seq BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB",
                          deadline);
    if (!r.ok()) return std::move(r).status().Annotate("creating the heartbeat table " + table);
  }
  std::vector<std::shared_ptr<internal::ReplicaState>> states;
  for (sql::Pool* p : replicas) {
    states.push_back(std::make_shared<internal::ReplicaState>(*p, options.max_probe_age, options.latency_ewma_alpha));
  }
  std::unique_ptr<ReplicaSet> set(new ReplicaSet(primary, options));
  set->monitor_ = std::make_unique<internal::Monitor>(primary, std::move(states), table, options);
  return set;
}

ReplicaSet::ReplicaSet(sql::Pool& primary, const ReplicaSetOptions& options) : primary_(primary), options_(options) {}
ReplicaSet::~ReplicaSet() = default;

std::vector<ReplicaStatus> ReplicaSet::replicas() const {
  std::vector<ReplicaStatus> out;
  const auto now = internal::SteadyClock::now();
  for (const auto& r : monitor_->replicas()) out.push_back(r->Snapshot(now));
  return out;
}

Result<sql::Transaction> ReplicaSet::BeginWrite(const sql::TxOptions& tx, const Deadline& deadline) {
  sql::TxOptions o = tx;
  o.track_commit_gtid = true;
  return primary_.Begin(o, deadline);
}

Result<ReadTransaction> ReplicaSet::OnPrimary(const sql::TxOptions& tx, const Deadline& deadline) {
  sql::TxOptions o = tx;
  o.read_only = true;
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Transaction t, primary_.Begin(o, deadline));
  ReadSource source;
  if (options_.observer.on_read) options_.observer.on_read(source);
  return ReadTransaction(std::move(t), std::move(source), nullptr);
}

Result<ReadTransaction> ReplicaSet::OnReplica(size_t index, const sql::TxOptions& tx, const Deadline& deadline) {
  const std::shared_ptr<internal::ReplicaState>& replica = monitor_->replicas()[index];
  sql::TxOptions o = tx;
  o.read_only = true;
  o.track_commit_gtid = false;
  auto t = replica->pool().Begin(o, deadline);
  if (!t.ok()) {
    if (ServerDown(t.status())) replica->ReadFailed(t.status());
    return t.status();
  }
  ReadSource source{false, replica->address()};
  if (options_.observer.on_read) options_.observer.on_read(source);
  return ReadTransaction(std::move(*t), std::move(source), replica);
}

Result<ReadTransaction> ReplicaSet::BeginRead(const Consistency& consistency, const Deadline& deadline,
                                              const sql::TxOptions& tx) {
  const bool replica_allowed =
      consistency.kind() == Consistency::Kind::kAtLeast ||
      (consistency.kind() == Consistency::Kind::kMaxStaleness && consistency.max_staleness().count() > 0);
  if (!replica_allowed || monitor_->replicas().empty()) return OnPrimary(tx, deadline);

  auto fallback = [&](FallbackReason reason) {
    if (options_.observer.on_primary_fallback) options_.observer.on_primary_fallback(reason);
    return OnPrimary(tx, deadline);
  };
  // The routing instant: a replica chosen now holds what the consistency asks as of now;
  // the transaction begins later, on a replica at least that fresh (positions only grow).
  const auto now = internal::SteadyClock::now();
  std::vector<internal::ReplicaView> views;
  for (const auto& r : monitor_->replicas()) views.push_back(r->View(now));

  bool failed = false;
  for (size_t i : internal::FreshReplicas(views, consistency, now)) {
    auto t = OnReplica(i, tx, deadline);
    if (t.ok()) return t;
    if (!ServerFailed(t.status())) return t.status();  // E.g. the deadline passed: no time for the primary either.
    failed = true;
  }
  if (failed) return fallback(FallbackReason::kReplicaFailed);

  const std::optional<size_t> wait_on = internal::WaitCandidate(views, consistency);
  if (!wait_on) return fallback(FallbackReason::kNoFreshReplica);
  const auto budget = internal::WaitBudget(options_.max_gtid_wait, options_.wait_budget_fraction, deadline.remaining());
  if (budget.count() == 0) return fallback(FallbackReason::kWaitTimedOut);

  // MASTER_GTID_WAIT returns at once if the replica already has the token (the monitor's
  // view is up to a probe interval old), else when it applies it, else -1 after `budget`.
  internal::ReplicaState& replica = *monitor_->replicas()[*wait_on];
  const auto wait_start = internal::SteadyClock::now();
  const Deadline wait_deadline = Deadline::Earliest(deadline, Deadline::After(budget + options_.probe_timeout));
  WaitOutcome outcome = WaitOutcome::kFailed;
  Status wait_status = Status::Ok();
  {
    auto conn = replica.pool().Acquire(wait_deadline);
    if (conn.ok()) {
      auto rows = conn->Query("SELECT MASTER_GTID_WAIT(?, ?)", consistency.token().ToString(),
                              std::chrono::duration<double>(budget).count(), wait_deadline);
      if (rows.ok() && !rows->empty()) {
        auto rc = (*rows)[0].GetInt64(0);
        if (rc.ok()) outcome = *rc == 0 ? WaitOutcome::kReached : WaitOutcome::kTimedOut;
      } else if (!rows.ok()) {
        wait_status = rows.status();
      }
    } else {
      wait_status = conn.status();
    }
  }
  if (options_.observer.on_gtid_wait) options_.observer.on_gtid_wait(outcome, internal::SteadyClock::now() - wait_start);
  if (outcome == WaitOutcome::kReached) {
    replica.Reached(consistency.token().position());
    auto t = OnReplica(*wait_on, tx, deadline);
    if (t.ok() || !ServerFailed(t.status())) return t;
    return fallback(FallbackReason::kReplicaFailed);
  }
  if (outcome == WaitOutcome::kFailed && ServerDown(wait_status)) replica.ReadFailed(wait_status);
  return fallback(outcome == WaitOutcome::kTimedOut ? FallbackReason::kWaitTimedOut : FallbackReason::kReplicaFailed);
}

}  // namespace lockstep::routing
