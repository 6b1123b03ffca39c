#include "http/worker_pool.h"

#include <utility>

#include "lockstep/base/check.h"
#include "lockstep/base/thread_name.h"

namespace shopd::http {

WorkerPool::WorkerPool(WorkerPoolOptions options) : options_(std::move(options)) {
  LOCKSTEP_CHECK(options_.threads > 0);
  LOCKSTEP_CHECK(options_.queue_limit > 0);
  if (options_.admission) {
    auto controller = lockstep::resilience::AdmissionController::Create(*options_.admission);
    LOCKSTEP_CHECK_MSG(controller.ok(), "invalid admission options: ", controller.status().ToString());
    admission_ = std::move(*controller);
  }
  threads_.reserve(options_.threads);
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] {
    lockstep::SetCurrentThreadName("shopd-worker");
    WorkerLoop();
  });
}

WorkerPool::~WorkerPool() { Shutdown(); }

lockstep::Status WorkerPool::TrySubmit(std::function<void()> job, lockstep::resilience::Priority priority,
                                       const lockstep::Deadline& deadline) {
  std::optional<lockstep::resilience::Admission> admission;
  if (admission_ != nullptr) {
    lockstep::Result<lockstep::resilience::Admission> admitted = admission_->TryAdmit(priority, deadline);
    if (!admitted.ok()) {
      lockstep::MutexLock lock(&mu_);
      ++shed_total_;
      return admitted.status();
    }
    admission.emplace(std::move(admitted).value());
  }
  {
    lockstep::MutexLock lock(&mu_);
    if (shutdown_ || queue_.size() >= static_cast<size_t>(options_.queue_limit)) {
      ++shed_total_;
      return lockstep::Status::Unavailable("server overloaded: worker queue full");
    }
    queue_.push_back(Job{std::move(job), std::move(admission)});
  }
  work_cv_.Signal();
  return lockstep::Status::Ok();
}

void WorkerPool::WorkerLoop() {
  while (true) {
    Job job;
    {
      lockstep::MutexLock lock(&mu_);
      while (queue_.empty() && !shutdown_) work_cv_.Wait(&mu_);
      if (queue_.empty()) return;  // Shut down and drained.
      job = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
    }
    if (job.admission) job.admission->Started();
    job.run();
    job = Job{};  // Destroy captures (and finish the admission) before the job counts as completed.
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
  WorkerPoolStats s;
  if (admission_ != nullptr) s.admission = admission_->stats();
  lockstep::MutexLock lock(&mu_);
  s.queue_depth = static_cast<int64_t>(queue_.size());
  s.in_flight = in_flight_;
  s.shed_total = shed_total_;
  s.completed_total = completed_total_;
  return s;
}

}  // namespace shopd::http
