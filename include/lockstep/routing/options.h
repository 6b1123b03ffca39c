#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "lockstep/base/status.h"
#include "lockstep/routing/read_source.h"
#include "lockstep/routing/replica_status.h"

namespace lockstep::routing {

// Why a read that a replica could have answered went to the primary.
enum class FallbackReason {
  kNoFreshReplica,  // No replica in rotation was known fresh enough, and none could be waited for.
  kWaitTimedOut,    // MASTER_GTID_WAIT on the best replica ran out of its budget (or had none).
  kReplicaFailed,   // The chosen replica(s) failed to begin the read (or the wait failed).
};
// "no_fresh_replica" | "wait_timed_out" | "replica_failed".
std::string_view FallbackReasonName(FallbackReason reason);

// Outcome of one MASTER_GTID_WAIT.
enum class WaitOutcome { kReached, kTimedOut, kFailed };
// "reached" | "timed_out" | "failed".
std::string_view WaitOutcomeName(WaitOutcome outcome);

// Observer of a ReplicaSet (ReplicaSetOptions::observer), e.g. for metrics
// (lockstep::prometheus::BindRoutingObserver). Every callback is optional (empty = not
// called), runs without the ReplicaSet's locks held, possibly on several threads at once
// (readers and the monitor threads), must be cheap and thread-safe, and must not call back
// into the ReplicaSet.
struct RoutingObserver {
  // A read transaction began on `source`.
  std::function<void(const ReadSource& source)> on_read;
  // A read that allowed a replica went to the primary (kPrimary reads are not counted).
  std::function<void(FallbackReason reason)> on_primary_fallback;
  // A MASTER_GTID_WAIT ended after `waited`.
  std::function<void(WaitOutcome outcome, std::chrono::steady_clock::duration waited)> on_gtid_wait;
  // The monitor probed a replica (every probe_interval per replica, successful or not).
  std::function<void(const ReplicaStatus& status)> on_replica_probe;
  // Rare events worth a log line (heartbeat table could not be written, ...). Default: none.
  std::function<void(std::string_view message)> on_log;
};

// Settings of a ReplicaSet. Plain value type, thread-compatible; validated by
// ReplicaSet::Open (kInvalidArgument).
struct ReplicaSetOptions {
  // Table of the heartbeat rows ("name" in the primary pool's database, or "db.name"):
  // [A-Za-z0-9_]{1,64}, optionally qualified. Created if missing when
  // create_heartbeat_table. One row per ReplicaSet (a random 63-bit id), deleted when the
  // ReplicaSet closes. Default "lockstep_heartbeat".
  std::string heartbeat_table = "lockstep_heartbeat";
  bool create_heartbeat_table = true;
  // How often the monitor writes its heartbeat row on the primary (each write is one small
  // binlogged transaction). 1ms..10s. Default 15ms.
  std::chrono::milliseconds heartbeat_interval{15};
  // How often the monitor probes each replica (heartbeat row, @@gtid_slave_pos,
  // SHOW SLAVE STATUS). 1ms..10s. Default 15ms.
  std::chrono::milliseconds probe_interval{15};
  // Deadline of one heartbeat write or replica probe. > 0. Default 500ms.
  std::chrono::milliseconds probe_timeout{500};
  // A replica whose last successful probe is older than this is out of rotation.
  // > probe_interval. Default 1s.
  std::chrono::milliseconds max_probe_age{1'000};
  // Longest one MASTER_GTID_WAIT may block a kAtLeast read; the read's deadline cuts it to
  // wait_budget_fraction of the time it has left, so the primary can still answer. 0 = never
  // wait. Default 100ms.
  std::chrono::milliseconds max_gtid_wait{100};
  double wait_budget_fraction = 0.5;  // In (0, 1). Default 0.5.
  // Weight of the newest sample in the latency EWMA. In (0, 1]. Default 0.2.
  double latency_ewma_alpha = 0.2;
  // Optional callbacks (metrics, logging), see RoutingObserver.
  RoutingObserver observer;

  Status Validate() const;
};

}  // namespace lockstep::routing
