#include "routing/heartbeat_log.h"

#include <algorithm>

namespace lockstep::routing::internal {

void HeartbeatLog::Sent(uint64_t seq, Clock::time_point at) {
  MutexLock lock(&mu_);
  Slot(seq) = Entry{seq, at, std::nullopt};
  last_seq_ = std::max(last_seq_, seq);
}

void HeartbeatLog::Committed(uint64_t seq, Clock::time_point at) {
  MutexLock lock(&mu_);
  Entry& e = Slot(seq);
  if (e.seq == seq) e.committed = at;
}

std::optional<HeartbeatLog::Clock::time_point> HeartbeatLog::CoveredUntil(uint64_t seq) const {
  MutexLock lock(&mu_);
  const Entry& e = Slot(seq);
  if (seq == 0 || e.seq != seq) return std::nullopt;
  return e.sent;
}

std::chrono::milliseconds HeartbeatLog::Lag(uint64_t seq, Clock::time_point at) const {
  MutexLock lock(&mu_);
  // Commit times increase with seq (one writer, one write at a time): the first committed
  // entry after `seq` is the oldest commit the replica lacks.
  const uint64_t oldest = last_seq_ >= entries_.size() ? last_seq_ - entries_.size() + 1 : 1;
  for (uint64_t s = std::max(seq + 1, oldest); s <= last_seq_; ++s) {
    const Entry& e = Slot(s);
    if (e.seq != s || !e.committed) continue;
    if (*e.committed > at) break;
    return std::chrono::duration_cast<std::chrono::milliseconds>(at - *e.committed);
  }
  return std::chrono::milliseconds(0);
}

}  // namespace lockstep::routing::internal
