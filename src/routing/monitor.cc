#include "routing/monitor.h"

#include <random>

#include "lockstep/base/deadline.h"
#include "lockstep/base/thread_name.h"

namespace lockstep::routing::internal {
namespace {

uint64_t RandomId() {
  std::random_device rd;
  const uint64_t id = (static_cast<uint64_t>(rd()) << 32 | rd()) & ((uint64_t{1} << 63) - 1);
  return id == 0 ? 1 : id;
}

// A SHOW SLAVE STATUS column as "Yes"/"No"...; "" if absent.
std::string Column(const sql::Row& row, std::string_view name) {
  auto v = row.GetString(name);
  return v.ok() ? *v : std::string();
}

}  // namespace

Monitor::Monitor(sql::Pool& primary, std::vector<std::shared_ptr<ReplicaState>> replicas, std::string table,
                 const ReplicaSetOptions& options)
    : primary_(primary), replicas_(std::move(replicas)), table_(std::move(table)), options_(options), id_(RandomId()) {
  // Without replicas there is nothing to measure: no heartbeat writes, no threads.
  if (!replicas_.empty()) threads_.emplace_back([this] { WriterLoop(); });
  for (size_t i = 0; i < replicas_.size(); ++i) threads_.emplace_back([this, i] { ProberLoop(i); });
}

Monitor::~Monitor() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  for (std::thread& t : threads_) t.join();
  if (replicas_.empty()) return;  // No heartbeat row was written.
  // Best effort: leave no row behind for a monitor that is gone.
  auto conn = primary_.Acquire(Deadline::After(options_.probe_timeout));
  if (conn.ok()) (void)conn->Execute("DELETE FROM " + table_ + " WHERE id = ?", id_, Deadline::After(options_.probe_timeout));
}

void Monitor::Log(std::string_view message) const {
  if (options_.observer.on_log) options_.observer.on_log(message);
}

bool Monitor::SleepUntil(SteadyClock::time_point until) {
  MutexLock lock(&mu_);
  while (!stopping_ && SteadyClock::now() < until) wake_.WaitUntil(&mu_, Deadline::At(until));
  return !stopping_;
}

void Monitor::WriterLoop() {
  SetCurrentThreadName("routing-hb");
  const std::string upsert = "INSERT INTO " + table_ + " (id, seq) VALUES (?, ?) ON DUPLICATE KEY UPDATE seq = VALUES(seq)";
  uint64_t seq = 0;
  bool failing = false;
  auto next = SteadyClock::now();
  do {
    next += options_.heartbeat_interval;
    const Deadline deadline = Deadline::After(options_.probe_timeout);
    ++seq;
    log_.Sent(seq, SteadyClock::now());
    Status s = Status::Ok();
    auto conn = primary_.Acquire(deadline);
    if (!conn.ok()) s = conn.status();
    if (s.ok()) {
      auto r = conn->Execute(upsert, id_, seq, deadline);
      if (r.ok()) {
        log_.Committed(seq, SteadyClock::now());
        auto pos = conn->Query("SELECT @@gtid_binlog_pos", deadline);
        if (pos.ok() && !pos->empty()) {
          auto text = (*pos)[0].GetString(0);
          auto parsed = text.ok() ? sql::GtidPosition::Parse(*text) : Result<sql::GtidPosition>(text.status());
          if (parsed.ok()) {
            MutexLock lock(&mu_);
            primary_position_ = std::move(*parsed);
          }
        }
      } else {
        s = r.status();
      }
    }
    if (!s.ok() && !failing) Log("routing: heartbeat write on the primary failed: " + s.ToString());
    if (s.ok() && failing) Log("routing: heartbeat writes on the primary work again");
    failing = !s.ok();
    // After a long stall, do not try to catch up on missed ticks.
    if (next < SteadyClock::now()) next = SteadyClock::now();
  } while (SleepUntil(next));
}

Status Monitor::Probe(ReplicaState& replica, ProbeResult& out) {
  const Deadline deadline = Deadline::After(options_.probe_timeout);
  out.issued = SteadyClock::now();
  sql::GtidPosition primary_position;
  {
    MutexLock lock(&mu_);
    primary_position = primary_position_;
  }
  LOCKSTEP_ASSIGN_OR_RETURN(sql::PooledConnection conn, replica.pool().Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows rows,
                            conn.Query("SELECT @@gtid_slave_pos, (SELECT seq FROM " + table_ + " WHERE id = ?)", id_, deadline));
  if (rows.empty()) return Status::Internal("probe returned no row");
  LOCKSTEP_ASSIGN_OR_RETURN(std::string pos_text, rows[0].GetString(0));
  LOCKSTEP_ASSIGN_OR_RETURN(out.position, sql::GtidPosition::Parse(pos_text));
  LOCKSTEP_ASSIGN_OR_RETURN(bool no_row, rows[0].IsNull(1));
  if (!no_row) {
    LOCKSTEP_ASSIGN_OR_RETURN(uint64_t seq, rows[0].GetUint64(1));
    out.heartbeat_seq = seq;
  }
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Rows status, conn.Query("SHOW SLAVE STATUS", deadline));
  out.answered = SteadyClock::now();
  if (!status.empty()) {
    out.sql_running = Column(status[0], "Slave_SQL_Running") == "Yes";
    out.io_running = Column(status[0], "Slave_IO_Running") == "Yes";
  }
  if (out.heartbeat_seq) {
    out.covered_until = log_.CoveredUntil(*out.heartbeat_seq);
    out.lag = log_.Lag(*out.heartbeat_seq, out.issued);
  }
  out.gtid_distance = out.position.SeqDistance(primary_position);
  return Status::Ok();
}

void Monitor::ProberLoop(size_t index) {
  SetCurrentThreadName("routing-probe");
  ReplicaState& replica = *replicas_[index];
  auto next = SteadyClock::now();
  bool failing = false;
  do {
    next += options_.probe_interval;
    ProbeResult probe;
    Status s = Probe(replica, probe);
    if (s.ok()) {
      replica.ProbeSucceeded(probe);
    } else {
      replica.ProbeFailed(s);
    }
    if (!s.ok() && !failing) Log("routing: replica " + replica.address() + " failed its probe: " + s.ToString());
    if (s.ok() && failing) Log("routing: replica " + replica.address() + " answers its probes again");
    failing = !s.ok();
    if (options_.observer.on_replica_probe) options_.observer.on_replica_probe(replica.Snapshot(SteadyClock::now()));
    if (next < SteadyClock::now()) next = SteadyClock::now();
  } while (SleepUntil(next));
}

}  // namespace lockstep::routing::internal
