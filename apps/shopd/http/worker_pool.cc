#include "http/worker_pool.h"

#include <utility>

#include "lockstep/base/check.h"
#include "lockstep/base/thread_name.h"

namespace shopd::http {

WorkerPool::WorkerPool(WorkerPoolOptions options) : options_(options) {
  LOCKSTEP_CHECK(options_.threads > 0);
  LOCKSTEP_CHECK(options_.queue_limit > 0);
  threads_.reserve(options_.threads);
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] {
    lockstep::SetCurrentThreadName("shopd-worker");
    WorkerLoop();
  });
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::TrySubmit(std::function<void()> job) {
  {
    lockstep::MutexLock lock(&mu_);
    if (shutdown_ || queue_.size() >= static_cast<size_t>(options_.queue_limit)) {
      ++shed_total_;
      return false;
    }
    queue_.push_back(std::move(job));
  }
  work_cv_.Signal();
  return true;
}

void WorkerPool::WorkerLoop() {
  while (true) {
    std::function<void()> job;
    {
      lockstep::MutexLock lock(&mu_);
      while (queue_.empty() && !shutdown_) work_cv_.Wait(&mu_);
      if (queue_.empty()) return;  // Shut down and drained.
      job = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
    }
    job();
    job = nullptr;  // Destroy captures before the job counts as completed.
    lockstep::MutexLock lock(&mu_);
    --in_flight_;
    ++completed_total_;
  }
}

void WorkerPool::Shutdown() {
  lockstep::MutexLock join_lock(&join_mu_);
  {
    lockstep::MutexLock lock(&mu_);
    shutdown_ = true;
  }
  work_cv_.SignalAll();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

WorkerPoolStats WorkerPool::stats() const {
  lockstep::MutexLock lock(&mu_);
  return WorkerPoolStats{static_cast<int64_t>(queue_.size()), in_flight_, shed_total_, completed_total_};
}

}  // namespace shopd::http
