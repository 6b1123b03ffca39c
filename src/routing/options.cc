#include "lockstep/routing/options.h"

#include <chrono>

namespace lockstep::routing {

std::string_view FallbackReasonName(FallbackReason reason) {
  switch (reason) {
    case FallbackReason::kNoFreshReplica: return "no_fresh_replica";
    case FallbackReason::kWaitTimedOut: return "wait_timed_out";
    case FallbackReason::kReplicaFailed: return "replica_failed";
  }
  return "unknown";
}

std::string_view WaitOutcomeName(WaitOutcome outcome) {
  switch (outcome) {
    case WaitOutcome::kReached: return "reached";
    case WaitOutcome::kTimedOut: return "timed_out";
    case WaitOutcome::kFailed: return "failed";
  }
  return "unknown";
}

Status ReplicaSetOptions::Validate() const {
  using std::chrono::milliseconds;
  auto valid_identifier = [](std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
  };
  const size_t dot = heartbeat_table.find('.');
  const bool table_ok = dot == std::string::npos
                            ? valid_identifier(heartbeat_table)
                            : valid_identifier(std::string_view(heartbeat_table).substr(0, dot)) &&
                                  valid_identifier(std::string_view(heartbeat_table).substr(dot + 1));
  if (!table_ok) return Status::InvalidArgument("ReplicaSetOptions.heartbeat_table must be [A-Za-z0-9_]{1,64} or db.table");
  if (heartbeat_interval < milliseconds(1) || heartbeat_interval > milliseconds(10'000)) {
    return Status::InvalidArgument("ReplicaSetOptions.heartbeat_interval must be in 1ms..10s");
  }
  if (probe_interval < milliseconds(1) || probe_interval > milliseconds(10'000)) {
    return Status::InvalidArgument("ReplicaSetOptions.probe_interval must be in 1ms..10s");
  }
  if (probe_timeout <= milliseconds(0)) return Status::InvalidArgument("ReplicaSetOptions.probe_timeout must be > 0");
  if (max_probe_age <= probe_interval) {
    return Status::InvalidArgument("ReplicaSetOptions.max_probe_age must be > probe_interval");
  }
  if (max_gtid_wait < milliseconds(0)) return Status::InvalidArgument("ReplicaSetOptions.max_gtid_wait must be >= 0");
  if (!(wait_budget_fraction > 0 && wait_budget_fraction < 1)) {
    return Status::InvalidArgument("ReplicaSetOptions.wait_budget_fraction must be in (0, 1)");
  }
  if (!(latency_ewma_alpha > 0 && latency_ewma_alpha <= 1)) {
    return Status::InvalidArgument("ReplicaSetOptions.latency_ewma_alpha must be in (0, 1]");
  }
  return Status::Ok();
}

}  // namespace lockstep::routing
