#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"

namespace lockstep::routing::internal {

// Thread-safe. The monitor's memory of its heartbeat writes, by sequence number, on its
// own steady clock: when each write was sent and when it returned committed. Replicas
// report the highest sequence number they applied; from that the log derives, with no
// clock of another host involved:
//  - CoveredUntil(s): every commit that completed on the primary before heartbeat s was
//    sent is ordered before s in the binlog, so a replica that applied s holds it;
//  - Lag(s, at): how long before `at` the oldest heartbeat the replica lacks committed.
// Keeps the last `capacity` writes (older ones are forgotten: a replica that far behind
// gets no CoveredUntil and the lag of the oldest remembered commit, a lower bound).
class HeartbeatLog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit HeartbeatLog(size_t capacity = 4096) : entries_(capacity) {}

  // Records heartbeat `seq` (> every earlier seq) as sent at `at`.
  void Sent(uint64_t seq, Clock::time_point at) LOCKSTEP_EXCLUDES(mu_);
  // Records heartbeat `seq` as committed (its write returned OK) at `at`.
  void Committed(uint64_t seq, Clock::time_point at) LOCKSTEP_EXCLUDES(mu_);

  // When heartbeat `seq` was sent; nullopt if unknown (never sent, or forgotten).
  std::optional<Clock::time_point> CoveredUntil(uint64_t seq) const LOCKSTEP_EXCLUDES(mu_);
  // The lag of a replica that had applied heartbeats up to `seq` (0 = none) when probed at
  // `at`: at - (commit time of the oldest heartbeat after `seq` that committed before
  // `at`), or 0 if there is none.
  std::chrono::milliseconds Lag(uint64_t seq, Clock::time_point at) const LOCKSTEP_EXCLUDES(mu_);

 private:
  struct Entry {
    uint64_t seq = 0;  // 0 = empty slot.
    Clock::time_point sent = {};
    std::optional<Clock::time_point> committed = {};
  };
  Entry& Slot(uint64_t seq) LOCKSTEP_REQUIRES(mu_) { return entries_[seq % entries_.size()]; }
  const Entry& Slot(uint64_t seq) const LOCKSTEP_REQUIRES(mu_) { return entries_[seq % entries_.size()]; }

  mutable Mutex mu_;
  std::vector<Entry> entries_ LOCKSTEP_GUARDED_BY(mu_);
  uint64_t last_seq_ LOCKSTEP_GUARDED_BY(mu_) = 0;
};

}  // namespace lockstep::routing::internal
