#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "lockstep/base/deadline.h"
#include "lockstep/base/thread_annotations.h"

namespace lockstep {

// std::mutex with thread-safety annotations (libstdc++'s carries none). Thread-safe.
class LOCKSTEP_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() LOCKSTEP_ACQUIRE() { mu_.lock(); }
  void Unlock() LOCKSTEP_RELEASE() { mu_.unlock(); }
  bool TryLock() LOCKSTEP_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // For the clang analysis only: declares the caller holds this mutex.
  void AssertHeld() const LOCKSTEP_THREAD_ANNOTATION_(assert_capability(this)) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Scoped lock (RAII). Not thread-safe itself; one per scope.
class LOCKSTEP_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) LOCKSTEP_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() LOCKSTEP_RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Condition variable for Mutex. Waits take a Deadline. Thread-safe.
class CondVar {
 public:
  // Waits until notified (or spuriously). REQUIRES: mu held.
  void Wait(Mutex* mu) LOCKSTEP_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Waits until notified or the deadline; returns false on timeout. REQUIRES: mu held.
  bool WaitUntil(Mutex* mu, const Deadline& deadline) LOCKSTEP_REQUIRES(mu) {
    if (deadline.infinite()) {
      Wait(mu);
      return true;
    }
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool notified = cv_.wait_until(lock, deadline.when()) == std::cv_status::no_timeout;
    lock.release();
    return notified;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace lockstep
