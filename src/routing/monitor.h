#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/routing/options.h"
#include "lockstep/sql/gtid.h"
#include "lockstep/sql/pool.h"
#include "routing/heartbeat_log.h"
#include "routing/replica_state.h"

namespace lockstep::routing::internal {

// Thread-safe. The ReplicaSet's monitor: one thread writes the heartbeat row on the
// primary (and reads its @@gtid_binlog_pos), one thread per replica probes it. Stopped
// and joined by its destructor.
class Monitor {
 public:
  // `table` is the qualified heartbeat table (`db`.`name`). Starts the threads.
  Monitor(sql::Pool& primary, std::vector<std::shared_ptr<ReplicaState>> replicas, std::string table,
          const ReplicaSetOptions& options);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  const std::vector<std::shared_ptr<ReplicaState>>& replicas() const { return replicas_; }

 private:
  void WriterLoop();
  void ProberLoop(size_t index);
  // Sleeps until `until` or Stop; false once stopping.
  bool SleepUntil(SteadyClock::time_point until) LOCKSTEP_EXCLUDES(mu_);
  Status Probe(ReplicaState& replica, ProbeResult& out);
  void Log(std::string_view message) const;

  sql::Pool& primary_;
  const std::vector<std::shared_ptr<ReplicaState>> replicas_;
  const std::string table_;
  const ReplicaSetOptions options_;
  const uint64_t id_;  // This monitor's heartbeat row.
  HeartbeatLog log_;

  Mutex mu_;
  CondVar wake_;
  bool stopping_ LOCKSTEP_GUARDED_BY(mu_) = false;
  sql::GtidPosition primary_position_ LOCKSTEP_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace lockstep::routing::internal
