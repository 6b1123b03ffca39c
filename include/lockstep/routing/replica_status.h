#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace lockstep::routing {

// What the monitor knows about one replica (ReplicaSet::replicas(), RoutingObserver).
// Value type, thread-compatible.
struct ReplicaStatus {
  std::string address;       // "host:port".
  // Reads may be routed here: the last probe answered within max_probe_age, the SQL
  // thread runs and the heartbeat row was seen (the lag is known).
  bool in_rotation = false;
  bool reachable = false;    // The last probe answered.
  bool sql_running = false;  // Slave_SQL_Running.
  bool io_running = false;   // Slave_IO_Running.
  // Measured lag: how long ago the oldest heartbeat the replica had not applied at the
  // probe committed on the primary (0 when it had applied every committed heartbeat;
  // resolution: about heartbeat_interval). nullopt while unknown.
  std::optional<std::chrono::milliseconds> lag;
  // Every commit that completed on the primary at least this long before now is on the
  // replica (by the monitor's steady clock; clock skew between hosts plays no part).
  // nullopt while unknown. This, not `lag`, decides MaxStaleness reads.
  std::optional<std::chrono::milliseconds> staleness;
  std::string gtid_position;  // @@gtid_slave_pos at the last probe (or a GTID waited for since).
  // Transactions the replica lacked against the primary's @@gtid_binlog_pos read by the
  // monitor just before the probe (summed over domains).
  uint64_t gtid_distance = 0;
  // Exponentially weighted moving average of the round trips of reads run here (seeded by
  // the monitor's probes until the first read).
  std::chrono::microseconds latency{0};
  std::string last_error;  // Of the last failed probe or read, if any.
};

}  // namespace lockstep::routing
