#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "lockstep/base/mutex.h"
#include "lockstep/base/status.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/routing/replica_status.h"
#include "lockstep/sql/gtid.h"
#include "lockstep/sql/pool.h"

namespace lockstep::routing::internal {

using SteadyClock = std::chrono::steady_clock;

// What routing needs of one replica at one instant (a copy; see router.h).
struct ReplicaView {
  bool in_rotation = false;
  std::optional<SteadyClock::time_point> covered_until = {};
  sql::GtidPosition position = {};
  double latency_us = 0;
};

// One probe's findings.
struct ProbeResult {
  SteadyClock::time_point issued = {};
  SteadyClock::time_point answered = {};
  sql::GtidPosition position = {};       // @@gtid_slave_pos.
  std::optional<uint64_t> heartbeat_seq = {};  // nullopt: no heartbeat row yet.
  bool sql_running = false;
  bool io_running = false;
  std::optional<SteadyClock::time_point> covered_until = {};  // From the HeartbeatLog.
  std::chrono::milliseconds lag{0};
  uint64_t gtid_distance = 0;
};

// Thread-safe. The monitor's and the readers' shared knowledge of one replica.
class ReplicaState {
 public:
  ReplicaState(sql::Pool& pool, std::chrono::milliseconds max_probe_age, double ewma_alpha);

  sql::Pool& pool() const { return pool_; }
  const std::string& address() const { return address_; }

  void ProbeSucceeded(const ProbeResult& probe) LOCKSTEP_EXCLUDES(mu_);
  void ProbeFailed(const ::lockstep::Status& why) LOCKSTEP_EXCLUDES(mu_);
  // A read failed here in a way that says the server is gone: out of rotation until the
  // next good probe.
  void ReadFailed(const ::lockstep::Status& why) LOCKSTEP_EXCLUDES(mu_);
  // A read's round trip (feeds the latency EWMA).
  void RecordLatency(SteadyClock::duration d) LOCKSTEP_EXCLUDES(mu_);
  // MASTER_GTID_WAIT reached `position`: the replica has applied at least that.
  void Reached(const sql::GtidPosition& position) LOCKSTEP_EXCLUDES(mu_);

  ReplicaView View(SteadyClock::time_point now) const LOCKSTEP_EXCLUDES(mu_);
  ReplicaStatus Snapshot(SteadyClock::time_point now) const LOCKSTEP_EXCLUDES(mu_);

 private:
  bool InRotationLocked(SteadyClock::time_point now) const LOCKSTEP_REQUIRES(mu_);
  void AddLatencyLocked(double us) LOCKSTEP_REQUIRES(mu_);

  sql::Pool& pool_;
  const std::string address_;
  const std::chrono::milliseconds max_probe_age_;
  const double alpha_;

  mutable Mutex mu_;
  bool reachable_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool sql_running_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool io_running_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool heartbeat_seen_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::optional<SteadyClock::time_point> last_good_probe_ LOCKSTEP_GUARDED_BY(mu_);
  std::optional<SteadyClock::time_point> covered_until_ LOCKSTEP_GUARDED_BY(mu_);
  std::chrono::milliseconds lag_ LOCKSTEP_GUARDED_BY(mu_){0};
  sql::GtidPosition position_ LOCKSTEP_GUARDED_BY(mu_);
  uint64_t gtid_distance_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  double latency_us_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  bool latency_from_reads_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::string last_error_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace lockstep::routing::internal
