#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/status.h"
#include "lockstep/resilience/admission_controller.h"
#include "lockstep/base/thread_annotations.h"

namespace shopd::http {

struct WorkerPoolOptions {
  // Worker threads, started eagerly. > 0. Default 64.
  int threads = 64;
  // Jobs that may wait for a free worker (running jobs do not count). > 0: a job always
  // passes through the queue, so with 1 worker and queue_limit 1 one job runs, one waits
  // and the next is shed. Default 1024.
  int queue_limit = 1024;
  // Load shedding at submit (lockstep::resilience::AdmissionController over the time jobs
  // wait in the queue): set, a job is refused at once when the queue stands, the adaptive
  // concurrency limit is reached, or its deadline ends before its expected wait. Unset:
  // only queue_limit sheds. Default unset.
  std::optional<lockstep::resilience::AdmissionOptions> admission = std::nullopt;
};

// Snapshot of the pool's load, for /metrics and tests.
struct WorkerPoolStats {
  int64_t queue_depth = 0;  // Jobs waiting for a worker.
  int64_t in_flight = 0;    // Jobs running now.
  int64_t shed_total = 0;   // Jobs refused because the queue was full.
  int64_t completed_total = 0;
  std::optional<lockstep::resilience::AdmissionStats> admission = std::nullopt;  // Set when admission is on.
};

// A fixed set of threads running jobs from a bounded FIFO queue. Blocking jobs are the
// point (MariaDB/Redis calls). When the queue is full TrySubmit refuses at once: the
// caller sheds load (503) instead of queueing without bound.
// Thread-safe.
class WorkerPool {
 public:
  explicit WorkerPool(WorkerPoolOptions options);
  // Shutdown().
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`, or refuses it at once (job dropped, shed_total incremented) with
  // kUnavailable: the queue is full or the pool shut down, or (admission on) the
  // AdmissionController refused it (reason "overloaded"). `priority` and `deadline` feed
  // the admission decision. The job runs on a worker thread; it must not throw.
  lockstep::Status TrySubmit(std::function<void()> job,
                             lockstep::resilience::Priority priority = lockstep::resilience::Priority::kNormal,
                             const lockstep::Deadline& deadline = lockstep::Deadline::Infinite())
      LOCKSTEP_EXCLUDES(mu_);

  // Refuses new jobs, runs every queued job, joins the threads. Idempotent. Blocks as
  // long as the running jobs do.
  void Shutdown() LOCKSTEP_EXCLUDES(mu_);

  WorkerPoolStats stats() const LOCKSTEP_EXCLUDES(mu_);

 private:
  void WorkerLoop() LOCKSTEP_EXCLUDES(mu_);

  const WorkerPoolOptions options_;
  mutable lockstep::Mutex mu_;
  lockstep::CondVar work_cv_;  // Signalled when a job is queued or on shutdown.
  struct Job {
    std::function<void()> run;
    std::optional<lockstep::resilience::Admission> admission;  // Started when dequeued.
  };

  std::unique_ptr<lockstep::resilience::AdmissionController> admission_;  // Null when off.
  std::deque<Job> queue_ LOCKSTEP_GUARDED_BY(mu_);
  bool shutdown_ LOCKSTEP_GUARDED_BY(mu_) = false;
  int64_t in_flight_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  int64_t shed_total_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  int64_t completed_total_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;  // Written in the constructor and Shutdown only.
  lockstep::Mutex join_mu_;           // Serializes concurrent Shutdown() calls.
};

}  // namespace shopd::http
