#include "sql/watchdog.h"

#include <sys/socket.h>

namespace lockstep::sql::internal {

Watchdog::Watchdog() : thread_([this] { Run(); }) {}

Watchdog::~Watchdog() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

Watchdog::Ticket Watchdog::Arm(const Deadline& deadline, int fd) {
  if (deadline.infinite() || fd < 0) return Ticket{};
  Ticket ticket;
  bool earliest = false;
  {
    MutexLock lock(&mu_);
    ticket = Ticket{deadline.when(), next_id_++};
    timers_.emplace(std::make_pair(ticket.when, ticket.id), fd);
    // The thread sleeps until wake_at_; only an earlier timer needs to wake it.
    earliest = ticket.when < wake_at_;
    if (earliest) wake_at_ = ticket.when;
  }
  if (earliest) cv_.SignalAll();
  return ticket;
}

bool Watchdog::Disarm(const Ticket& ticket) {
  if (ticket.id == 0) return false;
  MutexLock lock(&mu_);
  // A fired timer was erased by Run(); one still present has not fired and now never will.
  return timers_.erase(std::make_pair(ticket.when, ticket.id)) == 0;
}

uint64_t Watchdog::fired() const {
  MutexLock lock(&mu_);
  return fired_;
}

void Watchdog::Run() {
  MutexLock lock(&mu_);
  while (!stop_) {
    if (timers_.empty()) {
      wake_at_ = Clock::time_point::max();
      cv_.Wait(&mu_);
      continue;
    }
    auto first = timers_.begin();
    if (Clock::Real().Now() >= first->first.first) {
      // Under mu_: the owner cannot have disarmed (and closed the fd) in between.
      ::shutdown(first->second, SHUT_RDWR);
      ++fired_;
      timers_.erase(first);
      continue;
    }
    wake_at_ = first->first.first;
    cv_.WaitUntil(&mu_, Deadline::At(wake_at_));
  }
}

}  // namespace lockstep::sql::internal
