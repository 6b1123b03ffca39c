#include "routing/replica_state.h"

#include <algorithm>

namespace lockstep::routing {
namespace internal {

ReplicaState::ReplicaState(sql::Pool& pool, std::chrono::milliseconds max_probe_age, double ewma_alpha)
    : pool_(pool),
      address_(pool.connection_options().host + ":" + std::to_string(pool.connection_options().port)),
      max_probe_age_(max_probe_age),
      alpha_(ewma_alpha) {}

void ReplicaState::AddLatencyLocked(double us) {
  latency_us_ = latency_us_ <= 0 ? us : alpha_ * us + (1 - alpha_) * latency_us_;
}

void ReplicaState::ProbeSucceeded(const ProbeResult& probe) {
  MutexLock lock(&mu_);
  reachable_ = true;
  sql_running_ = probe.sql_running;
  io_running_ = probe.io_running;
  last_good_probe_ = probe.answered;
  heartbeat_seen_ = probe.heartbeat_seq.has_value();
  // Positions and coverage only grow: a probe that started before a MASTER_GTID_WAIT
  // returned may report less than that wait proved.
  if (probe.covered_until && (!covered_until_ || *probe.covered_until > *covered_until_)) {
    covered_until_ = probe.covered_until;
  }
  for (const sql::Gtid& g : probe.position.gtids()) {
    if (!position_.Covers(g)) position_.Advance(g);
  }
  lag_ = probe.lag;
  gtid_distance_ = probe.gtid_distance;
  // Until reads have measured it, the probe's round trip seeds the latency.
  if (!latency_from_reads_) {
    AddLatencyLocked(std::chrono::duration<double, std::micro>(probe.answered - probe.issued).count());
  }
}

void ReplicaState::ProbeFailed(const ::lockstep::Status& why) {
  MutexLock lock(&mu_);
  reachable_ = false;
  last_error_ = why.ToString();
}

void ReplicaState::ReadFailed(const ::lockstep::Status& why) {
  MutexLock lock(&mu_);
  reachable_ = false;
  last_error_ = why.ToString();
}

void ReplicaState::RecordLatency(SteadyClock::duration d) {
  MutexLock lock(&mu_);
  latency_from_reads_ = true;
  AddLatencyLocked(std::chrono::duration<double, std::micro>(d).count());
}

void ReplicaState::Reached(const sql::GtidPosition& position) {
  MutexLock lock(&mu_);
  for (const sql::Gtid& g : position.gtids()) {
    if (!position_.Covers(g)) position_.Advance(g);
  }
}

bool ReplicaState::InRotationLocked(SteadyClock::time_point now) const {
  return reachable_ && sql_running_ && heartbeat_seen_ && last_good_probe_ && now - *last_good_probe_ <= max_probe_age_;
}

ReplicaView ReplicaState::View(SteadyClock::time_point now) const {
  MutexLock lock(&mu_);
  return ReplicaView{InRotationLocked(now), covered_until_, position_, latency_us_};
}

ReplicaStatus ReplicaState::Snapshot(SteadyClock::time_point now) const {
  MutexLock lock(&mu_);
  ReplicaStatus s;
  s.address = address_;
  s.in_rotation = InRotationLocked(now);
  s.reachable = reachable_;
  s.sql_running = sql_running_;
  s.io_running = io_running_;
  if (heartbeat_seen_) s.lag = lag_;
  if (covered_until_) s.staleness = std::chrono::duration_cast<std::chrono::milliseconds>(now - *covered_until_);
  s.gtid_position = position_.ToString();
  s.gtid_distance = gtid_distance_;
  s.latency = std::chrono::microseconds(static_cast<int64_t>(latency_us_));
  s.last_error = last_error_;
  return s;
}

}  // namespace internal
}  // namespace lockstep::routing
