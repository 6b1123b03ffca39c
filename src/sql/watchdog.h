#pragma once

#include <cstdint>
#include <map>
#include <thread>
#include <utility>

#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"

namespace lockstep::sql::internal {

// Thread-safe. Enforces per-call deadlines on blocking driver calls. Before a call, Arm(deadline, fd);
// after it, Disarm(ticket). If the deadline passes first, the watchdog thread calls
// shutdown(fd, SHUT_RDWR), so a read blocked on a stalled server returns at once with a
// connection error. Arming/disarming and the shutdown happen under one mutex: after
// Disarm returns, the fd is never touched again (so it may be closed and reused).
// One thread per instance (one per pool).
class Watchdog {
 public:
  struct Ticket {
    Clock::time_point when{};
    uint64_t id = 0;  // 0 = not armed (infinite deadline).
  };

  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  Ticket Arm(const Deadline& deadline, int fd) LOCKSTEP_EXCLUDES(mu_);
  // Returns true if the timer fired (the socket was shut down).
  bool Disarm(const Ticket& ticket) LOCKSTEP_EXCLUDES(mu_);

  // Number of sockets shut down so far (for tests).
  uint64_t fired() const LOCKSTEP_EXCLUDES(mu_);

 private:
  void Run() LOCKSTEP_EXCLUDES(mu_);

  mutable Mutex mu_;
  CondVar cv_;
  std::map<std::pair<Clock::time_point, uint64_t>, int> timers_ LOCKSTEP_GUARDED_BY(mu_);
  uint64_t next_id_ LOCKSTEP_GUARDED_BY(mu_) = 1;
  uint64_t fired_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  // When the thread will next wake up by itself (max while it waits for the first timer).
  // Arm signals only for a timer earlier than this: with similar budgets per call the
  // thread wakes about once per budget instead of once per call.
  Clock::time_point wake_at_ LOCKSTEP_GUARDED_BY(mu_) = Clock::time_point::max();
  std::thread thread_;
};

}  // namespace lockstep::sql::internal
