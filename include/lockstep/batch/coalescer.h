#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/base/thread_name.h"
#include "lockstep/batch/coalescer_options.h"

namespace lockstep::batch {

// Per-key group execution. Thread-safe.
//
// Many callers Submit work for the same (hot) key; per key at most ONE batch runs at a
// time. A batch takes up to `max_batch` queued requests of its key in FIFO order and calls
// the batch function once with all of them (shopd: one transaction for N orders); each
// caller gets its own result.
//
// Completion contract (every accepted Submit completes exactly once):
//   - the batch function's result for its member (OK or a per-member error; one bad member
//     does not fail the others);
//   - the batch's error for every member when the batch function fails as a whole (returns
//     a non-OK Result, returns a vector whose size differs from the batch (kInternal), or
//     throws (kInternal));
//   - kDeadlineExceeded "not started" when the caller's deadline passes while the request
//     is still queued: it is removed and never executed (the batch function never sees it);
//   - kUnknown "outcome unknown" AT the caller's deadline when it passes while its batch
//     runs; the batch's later result for that member is dropped (resolve through the
//     request's idempotency key);
//   - kCancelled when the Coalescer is destroyed while the request is still queued.
// Completion callbacks run on a Coalescer thread (an executor thread or the timer thread)
// with no lock held; they must be cheap and must not throw (post to your own executor,
// e.g. asio::post, to resume a coroutine).
//
// Fairness: keys with queued work wait in one FIFO ready list; a key whose batch finishes
// with work left goes to the back. So keys are served round-robin and one hot key holds at
// most one executor thread; with threads >= 2 a blocked key never stalls the others.
//
// Batch deadline: min(batch start + batch_budget, latest deadline among its members) — the
// batch never outlives every caller, nor the budget; a member with an earlier deadline gets
// kUnknown at that deadline as above.
//
// Time is the real steady clock (deadlines are waited for on a timer thread).
//
// Shutdown (destructor): new Submits fail with kUnavailable, queued requests fail with
// kCancelled, running batches finish and deliver their results, then threads are joined.
//
// Key: copyable, hashable with Hash, comparable with ==. Request: movable.
//   auto c = Coalescer<int64_t, Order, OrderId>::Create({}, [](const int64_t& product,
//       std::vector<Order*>& orders, const Deadline& d) { return PlaceAll(product, orders, d); });
//   Result<OrderId> id = (*c)->SubmitAndWait(product, std::move(order), deadline);
template <typename Key, typename Request, typename Response, typename Hash = std::hash<Key>>
class Coalescer {
 public:
  // One result per member, in the order of `batch`; or a whole-batch error. A function
  // returning plain std::vector<Result<Response>> converts. Called on an executor thread,
  // never concurrently for the same key; may be called concurrently for different keys.
  // It may modify the requests but must not reorder or resize `batch`; the pointers are
  // valid until it returns. It must honour `batch_deadline` (e.g. as the transaction's).
  using BatchFn = std::function<Result<std::vector<Result<Response>>>(
      const Key& key, std::vector<Request*>& batch, const Deadline& batch_deadline)>;
  using Done = std::function<void(Result<Response>)>;

  // kInvalidArgument for bad options or an empty batch function.
  static Result<std::unique_ptr<Coalescer>> Create(CoalescerOptions options, BatchFn batch_fn) {
    LOCKSTEP_RETURN_IF_ERROR(options.Validate());
    if (!batch_fn) return Status::InvalidArgument("Coalescer: batch function is empty");
    return std::unique_ptr<Coalescer>(new Coalescer(std::move(options), std::move(batch_fn)));
  }

  Coalescer(const Coalescer&) = delete;
  Coalescer& operator=(const Coalescer&) = delete;

  ~Coalescer() LOCKSTEP_EXCLUDES(mu_) { Shutdown(); }

  // Queues `request` for `key`. On OK, `done` is called exactly once later (see the class
  // comment). On error `done` is never called; errors, all immediate:
  //   kDeadlineExceeded  `deadline` already expired;
  //   kResourceExhausted the key's queue holds max_queued_per_key requests;
  //   kUnavailable       max_queued requests are queued overall, or shutting down.
  // Never blocks on a batch. REQUIRES: done is set.
  Status Submit(const Key& key, Request request, const Deadline& deadline, Done done)
      LOCKSTEP_EXCLUDES(mu_) {
    LOCKSTEP_CHECK(done);
    const Clock::time_point now = Clock::Real().Now();
    if (!deadline.infinite() && now >= deadline.when()) {
      MutexLock lock(&mu_);
      ++stats_.rejected;
      return Status::DeadlineExceeded("coalescer: deadline expired before submit");
    }
    bool post = false;
    {
      MutexLock lock(&mu_);
      if (stopping_) {
        ++stats_.rejected;
        return Status::Unavailable("coalescer: shutting down");
      }
      if (queued_ >= options_.max_queued) {
        ++stats_.rejected;
        ++stats_.rejected_overloaded;
        return Status::Unavailable("coalescer: overloaded, ", queued_, " requests queued (max_queued ",
                                   options_.max_queued, ")");
      }
      auto [it, inserted] = keys_.try_emplace(key);
      KeyState& ks = it->second;
      if (ks.live >= options_.max_queued_per_key) {
        ++stats_.rejected;
        ++stats_.rejected_key_full;
        return Status::ResourceExhausted("coalescer: queue of this key is full (", ks.live,
                                         " queued, max_queued_per_key ", options_.max_queued_per_key, ")");
      }
      auto w = std::make_shared<Waiter>(std::move(request), deadline, std::move(done), now, &ks);
      if (!deadline.infinite()) {
        w->timer = timers_.emplace(deadline.when(), w);
        if (w->timer == timers_.begin()) timer_cv_.Signal();  // New earliest deadline.
      }
      ks.queue.push_back(std::move(w));
      ++ks.live;
      ++queued_;
      ++stats_.submitted;
      if (!ks.running && !ks.in_ready) {
        MakeReadyLocked(ks, key);
        post = true;
      }
    }
    if (post) Wake();
    return Status::Ok();
  }

  // Submit, then blocks the calling thread until completion. Returns the Submit error or the
  // completion result (which arrives by `deadline` at the latest, or at shutdown).
  Result<Response> SubmitAndWait(const Key& key, Request request, const Deadline& deadline)
      LOCKSTEP_EXCLUDES(mu_) {
    struct Slot {
      Mutex mu;
      CondVar cv;
      std::optional<Result<Response>> result LOCKSTEP_GUARDED_BY(mu);
    };
    auto slot = std::make_shared<Slot>();
    LOCKSTEP_RETURN_IF_ERROR(Submit(key, std::move(request), deadline, [slot](Result<Response> r) {
      MutexLock lock(&slot->mu);
      slot->result.emplace(std::move(r));
      slot->cv.SignalAll();
    }));
    MutexLock lock(&slot->mu);
    while (!slot->result.has_value()) slot->cv.Wait(&slot->mu);
    return std::move(*slot->result);
  }

  CoalescerStats stats() const LOCKSTEP_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    CoalescerStats s = stats_;
    s.queue_depth = queued_;
    s.running = running_members_;
    return s;
  }

 private:
  struct KeyState;
  struct Waiter {
    Waiter(Request r, Deadline d, Done f, Clock::time_point t, KeyState* ks)
        : request(std::move(r)), deadline(d), done(std::move(f)), submitted(t), key_state(ks) {}
    Request request;  // Read by the batch function only; never touched under mu_ then.
    const Deadline deadline;
    // The rest is guarded by Coalescer::mu_ (a member of another object; not annotatable).
    Done done;  // Moved out when completed.
    const Clock::time_point submitted;
    // The key's state; valid while queued (unordered_map nodes are stable).
    KeyState* const key_state;
    bool running = false;
    bool completed = false;
    std::optional<typename std::multimap<Clock::time_point, std::shared_ptr<Waiter>>::iterator> timer;
  };
  using WaiterPtr = std::shared_ptr<Waiter>;

  struct KeyState {
    // FIFO; may hold completed (expired) waiters, skipped lazily when a batch is taken.
    std::deque<WaiterPtr> queue;
    std::size_t live = 0;  // Queued, not completed.
    bool running = false;  // A batch of this key runs now.
    bool in_ready = false; // The key is in ready_.
  };

  struct Batch {
    Key key;
    std::vector<WaiterPtr> members;
    Deadline deadline = Deadline::Infinite();
    Clock::duration max_wait{};
  };

  // A callback to run with no lock held.
  struct Completion {
    Done done;
    Result<Response> result;
  };

  Coalescer(CoalescerOptions options, BatchFn batch_fn)
      : options_(std::move(options)), batch_fn_(std::move(batch_fn)) {
    timer_thread_ = std::thread([this] {
      SetCurrentThreadName(options_.name + ".t");
      TimerLoop();
    });
    if (!options_.executor) {
      for (int i = 0; i < options_.threads; ++i) {
        workers_.emplace_back([this] {
          SetCurrentThreadName(options_.name + ".w");
          WorkerLoop();
        });
      }
    }
  }

  void Shutdown() LOCKSTEP_EXCLUDES(mu_) {
    std::vector<Completion> cancelled;
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      // Queued requests never start: fail them. Running batches finish normally.
      for (auto it = keys_.begin(); it != keys_.end();) {
        KeyState& ks = it->second;
        for (WaiterPtr& w : ks.queue) {
          if (w->completed) continue;
          CompleteLocked(*w, Status::Cancelled("coalescer shut down before the batch started"), &cancelled);
          ++stats_.cancelled;
        }
        ks.queue.clear();
        ks.live = 0;
        ks.in_ready = false;
        it = ks.running ? std::next(it) : keys_.erase(it);
      }
      queued_ = 0;
      ready_.clear();
      work_cv_.SignalAll();
    }
    RunCompletions(cancelled);
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    {
      MutexLock lock(&mu_);
      // Tasks posted to a user executor (and batches they run) must finish before we go.
      while (posted_tasks_ > 0) idle_cv_.Wait(&mu_);
      timer_stop_ = true;
      timer_cv_.Signal();
    }
    timer_thread_.join();
  }

  // Tells an executor that a key became ready (MakeReadyLocked ran). Called with no lock
  // held, so a user executor may run the task inline.
  void Wake() LOCKSTEP_EXCLUDES(mu_) {
    if (!options_.executor) {
      work_cv_.Signal();
      return;
    }
    options_.executor([this] {
      RunOneReady();
      MutexLock lock(&mu_);
      if (--posted_tasks_ == 0) idle_cv_.SignalAll();
    });
  }

  void WorkerLoop() LOCKSTEP_EXCLUDES(mu_) {
    for (;;) {
      std::optional<Batch> batch;
      std::vector<Completion> expired;
      {
        MutexLock lock(&mu_);
        while (!stopping_ && ready_.empty()) work_cv_.Wait(&mu_);
        if (ready_.empty()) return;  // Stopping, nothing left to start.
        batch = TakeBatchLocked(&expired);
      }
      RunCompletions(expired);
      if (batch) Execute(*batch);
    }
  }

  // One posted executor task: runs the batch of the first ready key, if any (one task is
  // posted per key that becomes ready, so tasks and ready keys match up).
  void RunOneReady() LOCKSTEP_EXCLUDES(mu_) {
    std::optional<Batch> batch;
    std::vector<Completion> expired;
    {
      MutexLock lock(&mu_);
      if (ready_.empty()) return;
      batch = TakeBatchLocked(&expired);
    }
    RunCompletions(expired);
    if (batch) Execute(*batch);
  }

  // Pops the first ready key and takes up to max_batch live waiters of it. Returns nothing
  // if all its queued waiters had completed (expired) already. REQUIRES: !ready_.empty().
  std::optional<Batch> TakeBatchLocked(std::vector<Completion>* completions) LOCKSTEP_REQUIRES(mu_) {
    Key key = std::move(ready_.front());
    ready_.pop_front();
    auto it = keys_.find(key);
    LOCKSTEP_CHECK(it != keys_.end());
    KeyState& ks = it->second;
    ks.in_ready = false;
    LOCKSTEP_CHECK(!ks.running);
    const Clock::time_point now = Clock::Real().Now();
    Batch batch{std::move(key), {}, Deadline::Infinite(), {}};
    Clock::time_point latest = Clock::time_point::min();
    while (!ks.queue.empty() && batch.members.size() < options_.max_batch) {
      WaiterPtr w = std::move(ks.queue.front());
      ks.queue.pop_front();
      if (w->completed) continue;
      --ks.live;
      --queued_;
      if (w->deadline.expired()) {  // The timer thread has not got to it yet.
        CompleteLocked(*w, NotStarted(), completions);
        ++stats_.expired_before_start;
        continue;
      }
      w->running = true;
      latest = std::max(latest, w->deadline.when());
      const Clock::duration wait = now - w->submitted;
      stats_.total_wait += wait;
      stats_.max_wait = std::max(stats_.max_wait, wait);
      batch.max_wait = std::max(batch.max_wait, wait);
      batch.members.push_back(std::move(w));
    }
    if (batch.members.empty()) {  // All had expired; the loop above emptied the queue.
      LOCKSTEP_CHECK(ks.queue.empty());
      keys_.erase(it);
      return std::nullopt;
    }
    ks.running = true;
    running_members_ += batch.members.size();
    const Deadline budget = Deadline::At(now + options_.batch_budget);
    batch.deadline = Deadline::Earliest(budget, Deadline::At(latest));
    ++stats_.batches;
    stats_.batched_requests += batch.members.size();
    stats_.max_batch_seen = std::max(stats_.max_batch_seen, batch.members.size());
    ++stats_.batch_size_histogram[CoalescerStats::BucketOf(batch.members.size())];
    return batch;
  }

  // Appends `key` to the ready list. The caller then calls Wake() once, after unlocking.
  // The task for a user executor is counted here, under the lock that decided to post it,
  // so Shutdown's wait for posted_tasks_ == 0 cannot miss it.
  void MakeReadyLocked(KeyState& ks, const Key& key) LOCKSTEP_REQUIRES(mu_) {
    ks.in_ready = true;
    ready_.push_back(key);
    if (options_.executor) ++posted_tasks_;
  }

  // Runs the batch function (no lock held) and delivers the results.
  void Execute(Batch& batch) LOCKSTEP_EXCLUDES(mu_) {
    std::vector<Request*> requests;
    requests.reserve(batch.members.size());
    for (WaiterPtr& w : batch.members) requests.push_back(&w->request);
    const Clock::time_point start = Clock::Real().Now();
    std::optional<Result<std::vector<Result<Response>>>> results;
    try {
      results.emplace(batch_fn_(batch.key, requests, batch.deadline));
    } catch (const std::exception& e) {
      results.emplace(Status::Internal("coalescer: batch function threw: ", e.what()));
    } catch (...) {
      results.emplace(Status::Internal("coalescer: batch function threw"));
    }
    if (results->ok() && (*results)->size() != batch.members.size()) {
      const std::size_t got = (*results)->size();
      results.emplace(Status::Internal("coalescer: batch function returned ", got, " results for ",
                                       batch.members.size(), " requests"));
    }
    const bool whole_batch_error = !results->ok();
    BatchEvent event{batch.members.size(), batch.max_wait, Clock::Real().Now() - start, whole_batch_error};

    std::vector<Completion> completions;
    bool post = false;
    {
      MutexLock lock(&mu_);
      if (whole_batch_error) ++stats_.whole_batch_errors;
      for (std::size_t i = 0; i < batch.members.size(); ++i) {
        Waiter& w = *batch.members[i];
        w.running = false;
        if (w.completed) continue;  // Deadline passed during the batch: got kUnknown.
        if (whole_batch_error) {
          CompleteLocked(w, Result<Response>(results->status()), &completions);
        } else {
          CompleteLocked(w, std::move((**results)[i]), &completions);
        }
      }
      running_members_ -= batch.members.size();
      auto it = keys_.find(batch.key);
      LOCKSTEP_CHECK(it != keys_.end());
      KeyState& ks = it->second;
      ks.running = false;
      if (!ks.queue.empty() && !stopping_) {
        MakeReadyLocked(ks, batch.key);  // Back of the line: round-robin across keys.
        post = true;
      } else if (ks.queue.empty()) {
        keys_.erase(it);
      }
    }
    if (post) Wake();
    RunCompletions(completions);
    if (options_.on_batch) options_.on_batch(event);
  }

  // Waits for the earliest deadline of a queued or running waiter and completes it.
  void TimerLoop() LOCKSTEP_EXCLUDES(mu_) {
    mu_.Lock();
    while (!timer_stop_) {
      if (timers_.empty()) {
        timer_cv_.Wait(&mu_);
      } else {
        timer_cv_.WaitUntil(&mu_, Deadline::At(timers_.begin()->first));
      }
      std::vector<Completion> completions;
      const Clock::time_point now = Clock::Real().Now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        WaiterPtr w = timers_.begin()->second;
        if (w->running) {
          CompleteLocked(*w, Status::Unknown("coalescer: outcome unknown, the deadline passed while its batch "
                                             "was running; resolve by request id"),
                         &completions);
          ++stats_.outcome_unknown;
        } else {
          // Still queued: stays in its key's queue as completed, skipped by TakeBatchLocked.
          // Its KeyState exists: a key with a non-empty queue is never erased.
          --w->key_state->live;
          --queued_;
          CompleteLocked(*w, NotStarted(), &completions);
          ++stats_.expired_before_start;
        }
      }
      if (!completions.empty()) {
        mu_.Unlock();
        RunCompletions(completions);
        mu_.Lock();
      }
    }
    mu_.Unlock();
  }

  static Status NotStarted() {
    return Status::DeadlineExceeded("coalescer: deadline passed before the batch started (not started)");
  }

  // Marks `w` completed, detaches its timer and queues its callback. REQUIRES: !w.completed.
  void CompleteLocked(Waiter& w, Result<Response> result, std::vector<Completion>* out) LOCKSTEP_REQUIRES(mu_) {
    w.completed = true;
    if (w.timer) {
      timers_.erase(*w.timer);
      w.timer.reset();
    }
    out->push_back(Completion{std::move(w.done), std::move(result)});
  }

  void RunCompletions(std::vector<Completion>& completions) LOCKSTEP_EXCLUDES(mu_) {
    for (Completion& c : completions) c.done(std::move(c.result));
    completions.clear();
  }

  CoalescerOptions options_;
  BatchFn batch_fn_;

  mutable Mutex mu_;
  CondVar work_cv_;   // ready_ non-empty or stopping_ (owned workers).
  CondVar timer_cv_;  // timers_ got an earlier deadline, or timer_stop_.
  CondVar idle_cv_;   // posted_tasks_ reached 0.
  std::unordered_map<Key, KeyState, Hash> keys_ LOCKSTEP_GUARDED_BY(mu_);
  std::deque<Key> ready_ LOCKSTEP_GUARDED_BY(mu_);  // Keys with queued work, not running.
  std::multimap<Clock::time_point, WaiterPtr> timers_ LOCKSTEP_GUARDED_BY(mu_);  // Uncompleted, finite deadline.
  std::size_t queued_ LOCKSTEP_GUARDED_BY(mu_) = 0;  // Live queued waiters over all keys.
  std::size_t running_members_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  std::size_t posted_tasks_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  bool stopping_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool timer_stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  CoalescerStats stats_ LOCKSTEP_GUARDED_BY(mu_);
  std::vector<std::thread> workers_;
  std::thread timer_thread_;
};

}  // namespace lockstep::batch
