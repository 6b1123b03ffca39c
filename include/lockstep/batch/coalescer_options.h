#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "lockstep/base/clock.h"
#include "lockstep/base/status.h"

namespace lockstep::batch {

// Runs `task` on some thread, later. Must run every task it accepts exactly once and must
// not run it inline on the calling thread while that thread holds a lock of the caller
// (the Coalescer calls it with no lock held, so running inline is allowed but serialises).
using Executor = std::function<void(std::function<void()> task)>;

// What a Coalescer reports after each batch (observer hook). Plain value type.
struct BatchEvent {
  std::size_t size = 0;                 // Members handed to the batch function.
  Clock::duration max_wait{};           // Longest submit -> batch start among members.
  Clock::duration run_time{};           // Time spent in the batch function.
  bool whole_batch_error = false;       // The batch function failed as a whole.
};

// The hooks a Coalescer calls to report what it does (issue 12: one observer shape). Every
// hook is optional (unset: not called).
struct CoalescerObserver {
  // Called after every batch on the executor thread that ran it, with no lock held. Must
  // be cheap and must not call back into the Coalescer's Submit* synchronously waiting.
  // Default unset.
  std::function<void(const BatchEvent&)> on_batch = nullptr;
};

// Options of a Coalescer (STYLE.md R9). Validated by Coalescer::Create (kInvalidArgument).
struct CoalescerOptions {
  // Names its threads "<name>.w" (executors) and "<name>.t" (timer); see
  // lockstep/base/thread_name.h. Default "coalescer".
  std::string name = "coalescer";
  // Executor threads the Coalescer owns; > 0. Ignored when `executor` is set. Default 4.
  int threads = 4;
  // If set, batches run as tasks posted here instead of on owned threads (e.g. a bounded
  // blocking pool of shopd). Default unset. The Coalescer's destructor waits for every task
  // it posted, so the executor must outlive it and keep running tasks until then.
  Executor executor = nullptr;
  // Most requests one batch takes (in FIFO order) for its key; > 0. Default 256.
  std::size_t max_batch = 256;
  // Time budget of one batch: its deadline is min(start + batch_budget, latest member
  // deadline). Never the first caller's deadline. > 0. Default 2s.
  std::chrono::milliseconds batch_budget{2'000};
  // Queued (not yet started) requests per key beyond which Submit fails at once with
  // kResourceExhausted. > 0. Default 10'000.
  std::size_t max_queued_per_key = 10'000;
  // Queued requests over all keys beyond which Submit fails at once with kUnavailable
  // (overload shed). > 0. Default 100'000.
  std::size_t max_queued = 100'000;
  // Load shedding by deadline: Submit refuses at once (kUnavailable "shed: ...") a request
  // that would complete after its deadline, i.e. whose deadline is nearer than
  //   (batches of its key ahead of it, the running one included, + its own) x the smoothed
  //   batch run time (EWMA over the last batches of all keys, weight 1/8),
  // instead of queueing it until it expires. Never while its key has nothing queued or
  // running, nor before a batch has been timed. Default false.
  bool shed_by_deadline = false;
  // Its hooks (see CoalescerObserver). Default: none.
  CoalescerObserver observer{};

  // OK, or kInvalidArgument naming the bad field.
  Status Validate() const;
};

// Counters since construction; a consistent snapshot (taken under the Coalescer's lock).
struct CoalescerStats {
  // Batch size buckets: [1], [2], [3-4], [5-8], ... [129-256], [257+].
  static constexpr std::size_t kBuckets = 10;
  // Bucket index of a batch of `size` (>= 1) members.
  static std::size_t BucketOf(std::size_t size);
  // "1", "2", "3-4", ..., "257+".
  static std::string BucketLabel(std::size_t bucket);

  uint64_t submitted = 0;             // Accepted by Submit.
  uint64_t rejected = 0;              // Refused at Submit (any reason).
  uint64_t rejected_key_full = 0;     //   ... of which per-key queue full.
  uint64_t rejected_overloaded = 0;   //   ... of which global queue full.
  uint64_t rejected_shed = 0;         //   ... of which shed by deadline (shed_by_deadline).
  uint64_t expired_before_start = 0;  // Completed with kDeadlineExceeded, never executed.
  uint64_t outcome_unknown = 0;       // Completed with kUnknown (deadline during the batch).
  uint64_t cancelled = 0;             // Failed with kCancelled at shutdown.
  uint64_t batches = 0;               // Batch function calls.
  uint64_t batched_requests = 0;      // Members over all batches.
  uint64_t whole_batch_errors = 0;    // Batches that failed as a whole.
  std::size_t queue_depth = 0;        // Gauge: queued, not yet started.
  std::size_t running = 0;            // Gauge: members of batches running now.
  std::size_t max_batch_seen = 0;
  std::array<uint64_t, kBuckets> batch_size_histogram{};
  Clock::duration total_wait{};       // Sum of submit -> batch start over batched_requests.
  Clock::duration max_wait{};
  Clock::duration smoothed_run_time{};  // The EWMA shed_by_deadline uses (0: no batch yet).

  // One line, e.g. "submitted=10 rejected=0 ... sizes={1:3,2:1}".
  std::string ToString() const;
};

}  // namespace lockstep::batch
