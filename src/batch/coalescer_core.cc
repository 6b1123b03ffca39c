#include "lockstep/batch/internal/coalescer_core.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lockstep/base/check.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/status.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/base/thread_name.h"

namespace lockstep::batch::internal {

// One key's queue. Lives in CoalescerCore::Impl::groups_ (node-stable) while it has queued
// members or a running batch. Guarded by the core's mutex, like CoalescerMember.
struct CoalescerGroup {
  void* key = nullptr;  // Owned copy (CoalescerTypes::CopyKey); immutable.
  std::size_t hash = 0;
  // FIFO; may hold completed (expired) members, skipped lazily when a batch is taken.
  CoalescerMember* head = nullptr;
  CoalescerMember* tail = nullptr;
  CoalescerGroup* next_ready = nullptr;  // Next in the ready list.
  std::size_t live = 0;                  // Queued, not completed.
  bool running = false;                  // A batch of this key runs now.
  bool in_ready = false;                 // The key is in the ready list.
};

class CoalescerCore::Impl {
 public:
  Impl(CoalescerOptions options, CoalescerTypes& types)
      : options_(std::move(options)), types_(types), groups_(0, KeyRefHash{}, KeyRefEqual{&types}) {
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

  ~Impl() LOCKSTEP_EXCLUDES(mu_) { Shutdown(); }

  Status Submit(const void* key, CoalescerMember* m) LOCKSTEP_EXCLUDES(mu_) {
    const Clock::time_point now = Clock::Real().Now();
    if (!m->deadline.infinite() && now >= m->deadline.when()) {
      MutexLock lock(&mu_);
      ++stats_.rejected;
      return Status::DeadlineExceeded("coalescer: deadline expired before submit");
    }
    const std::size_t hash = types_.HashKey(key);  // User code: outside the lock.
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
      CoalescerGroup& g = GroupLocked(hash, key);
      if (options_.shed_by_deadline && !m->deadline.infinite() && stats_.smoothed_run_time > Clock::duration::zero() &&
          (g.live > 0 || g.running)) {
        // Batches to wait for (the running one, those of the members ahead) plus its own.
        const std::size_t batches = (g.running ? 1 : 0) + g.live / options_.max_batch + 1;
        const Clock::duration expected = stats_.smoothed_run_time * static_cast<int64_t>(batches);
        if (m->deadline.when() - now < expected) {
          ++stats_.rejected;
          ++stats_.rejected_shed;
          return Status::Unavailable("coalescer: shed, expected completion in ",
                                     std::chrono::duration_cast<std::chrono::milliseconds>(expected).count(),
                                     " ms (", batches, " batches) is past the deadline");
        }
      }
      if (g.live >= options_.max_queued_per_key) {
        ++stats_.rejected;
        ++stats_.rejected_key_full;
        return Status::ResourceExhausted("coalescer: queue of this key is full (", g.live,
                                         " queued, max_queued_per_key ", options_.max_queued_per_key, ")");
      }
      m->submitted = now;
      m->group = &g;
      if (!m->deadline.infinite()) {
        AddTimerLocked(m);
        if (m->timer_index == 0) timer_cv_.Signal();  // New earliest deadline.
      }
      if (g.tail == nullptr) {
        g.head = m;
      } else {
        g.tail->next = m;
      }
      g.tail = m;
      ++g.live;
      ++queued_;
      ++stats_.submitted;
      if (!g.running && !g.in_ready) {
        MakeReadyLocked(g);
        post = true;
      }
    }
    if (post) Wake();
    return Status::Ok();
  }

  CoalescerStats stats() const LOCKSTEP_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    CoalescerStats s = stats_;
    s.queue_depth = queued_;
    s.running = running_members_;
    return s;
  }

 private:
  // A key as the map sees it: its hash and a pointer to a Key of the typed layer.
  struct KeyRef {
    std::size_t hash;
    const void* key;
  };
  struct KeyRefHash {
    std::size_t operator()(const KeyRef& k) const { return k.hash; }
  };
  struct KeyRefEqual {
    const CoalescerTypes* types;
    bool operator()(const KeyRef& a, const KeyRef& b) const {
      return a.hash == b.hash && types->KeysEqual(a.key, b.key);
    }
  };

  struct Batch {
    CoalescerGroup* group = nullptr;
    std::vector<CoalescerMember*> members;  // Each holds the scheduler's reference.
    Deadline deadline = Deadline::Infinite();
    Clock::duration max_wait{};
  };

  // A callback to run with no lock held; holds a reference to the member.
  struct Completion {
    CoalescerMember* member;
    Status status;
  };

  void Shutdown() LOCKSTEP_EXCLUDES(mu_) {
    std::vector<Completion> cancelled;
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      // Queued requests never start: fail them. Running batches finish normally.
      for (auto it = groups_.begin(); it != groups_.end();) {
        CoalescerGroup& g = it->second;
        while (CoalescerMember* m = PopFrontLocked(g)) {
          if (!m->completed) {
            CompleteLocked(*m, Status::Cancelled("coalescer shut down before the batch started"), &cancelled);
            ++stats_.cancelled;
          }
          Unref(m);  // The queue's reference; a cancelled member lives on in `cancelled`.
        }
        g.live = 0;
        g.in_ready = false;
        if (g.running) {
          ++it;
        } else {
          void* key = g.key;
          it = groups_.erase(it);
          types_.DeleteKey(key);
        }
      }
      queued_ = 0;
      ready_head_ = ready_tail_ = nullptr;
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
        while (!stopping_ && ready_head_ == nullptr) work_cv_.Wait(&mu_);
        if (ready_head_ == nullptr) return;  // Stopping, nothing left to start.
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
      if (ready_head_ == nullptr) return;
      batch = TakeBatchLocked(&expired);
    }
    RunCompletions(expired);
    if (batch) Execute(*batch);
  }

  // Pops the first ready key and takes up to max_batch live members of it. Returns nothing
  // if all its queued members had completed (expired) already. REQUIRES: a ready key.
  std::optional<Batch> TakeBatchLocked(std::vector<Completion>* completions) LOCKSTEP_REQUIRES(mu_) {
    CoalescerGroup& g = *ready_head_;
    ready_head_ = g.next_ready;
    if (ready_head_ == nullptr) ready_tail_ = nullptr;
    g.next_ready = nullptr;
    g.in_ready = false;
    LOCKSTEP_CHECK(!g.running);
    const Clock::time_point now = Clock::Real().Now();
    Batch batch;
    batch.group = &g;
    Clock::time_point latest = Clock::time_point::min();
    while (g.head != nullptr && batch.members.size() < options_.max_batch) {
      CoalescerMember* m = PopFrontLocked(g);
      if (m->completed) {  // Expired while queued; its callback holds its own reference.
        Unref(m);
        continue;
      }
      --g.live;
      --queued_;
      if (m->deadline.expired()) {  // The timer thread has not got to it yet.
        CompleteLocked(*m, NotStarted(), completions);
        ++stats_.expired_before_start;
        Unref(m);
        continue;
      }
      m->running = true;
      latest = std::max(latest, m->deadline.when());
      const Clock::duration wait = now - m->submitted;
      stats_.total_wait += wait;
      stats_.max_wait = std::max(stats_.max_wait, wait);
      batch.max_wait = std::max(batch.max_wait, wait);
      batch.members.push_back(m);
    }
    if (batch.members.empty()) {  // All had expired; the loop above emptied the queue.
      LOCKSTEP_CHECK(g.head == nullptr);
      EraseGroupLocked(g);
      return std::nullopt;
    }
    g.running = true;
    running_members_ += batch.members.size();
    const Deadline budget = Deadline::At(now + options_.batch_budget);
    batch.deadline = Deadline::Earliest(budget, Deadline::At(latest));
    ++stats_.batches;
    stats_.batched_requests += batch.members.size();
    stats_.max_batch_seen = std::max(stats_.max_batch_seen, batch.members.size());
    ++stats_.batch_size_histogram[CoalescerStats::BucketOf(batch.members.size())];
    return batch;
  }

  // Runs the batch function (no lock held) and delivers the results.
  void Execute(Batch& batch) LOCKSTEP_EXCLUDES(mu_) {
    const std::size_t count = batch.members.size();
    const Clock::time_point start = Clock::Real().Now();
    Status whole = Status::Ok();
    std::size_t results = 0;
    try {
      whole = types_.RunBatch(batch.group->key, batch.members.data(), count, batch.deadline, &results);
    } catch (const std::exception& e) {
      whole = Status::Internal("coalescer: batch function threw: ", e.what());
    } catch (...) {
      whole = Status::Internal("coalescer: batch function threw");
    }
    if (whole.ok() && results != count) {
      whole = Status::Internal("coalescer: batch function returned ", results, " results for ", count, " requests");
    }
    const bool whole_batch_error = !whole.ok();
    const BatchEvent event{count, batch.max_wait, Clock::Real().Now() - start, whole_batch_error};

    bool post = false;
    {
      MutexLock lock(&mu_);
      if (whole_batch_error) ++stats_.whole_batch_errors;
      // EWMA with weight 1/8 (the first batch sets it).
      stats_.smoothed_run_time = stats_.smoothed_run_time == Clock::duration::zero()
                                     ? event.run_time
                                     : stats_.smoothed_run_time + (event.run_time - stats_.smoothed_run_time) / 8;
      for (CoalescerMember* m : batch.members) {
        m->running = false;
        // Completed already: its deadline passed during the batch and it got kUnknown.
        m->delivered_by_batch = !m->completed;
        if (m->delivered_by_batch) {
          m->completed = true;
          if (m->timer_index != CoalescerMember::kNoTimer) RemoveTimerLocked(*m);
        }
      }
      running_members_ -= count;
      CoalescerGroup& g = *batch.group;
      g.running = false;
      if (g.head != nullptr && !stopping_) {
        MakeReadyLocked(g);  // Back of the line: round-robin across keys.
        post = true;
      } else if (g.head == nullptr) {
        EraseGroupLocked(g);
      }
    }
    if (post) Wake();
    // No other thread touches a member this batch completed: it left its queue and timers.
    for (CoalescerMember* m : batch.members) {
      if (m->delivered_by_batch) types_.Deliver(m, whole_batch_error ? &whole : nullptr);
      Unref(m);
    }
    if (options_.observer.on_batch) options_.observer.on_batch(event);
  }

  // Waits for the earliest deadline of a queued or running member and completes it.
  void TimerLoop() LOCKSTEP_EXCLUDES(mu_) {
    mu_.Lock();
    while (!timer_stop_) {
      if (timers_.empty()) {
        timer_cv_.Wait(&mu_);
      } else {
        timer_cv_.WaitUntil(&mu_, timers_.front()->deadline);
      }
      std::vector<Completion> completions;
      const Clock::time_point now = Clock::Real().Now();
      while (!timers_.empty() && timers_.front()->deadline.when() <= now) {
        CoalescerMember& m = *timers_.front();
        if (m.running) {
          CompleteLocked(m, Status::Unknown("coalescer: outcome unknown, the deadline passed while its batch "
                                            "was running; resolve by request id"),
                         &completions);
          ++stats_.outcome_unknown;
        } else {
          // Still queued: stays in its key's queue as completed, skipped by TakeBatchLocked.
          // Its group exists: a key with a non-empty queue is never erased.
          --m.group->live;
          --queued_;
          CompleteLocked(m, NotStarted(), &completions);
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

  // The group of `key`, created (with a copy of the key) if there is none.
  CoalescerGroup& GroupLocked(std::size_t hash, const void* key) LOCKSTEP_REQUIRES(mu_) {
    auto it = groups_.find(KeyRef{hash, key});
    if (it != groups_.end()) return it->second;
    void* copy = types_.CopyKey(key);
    CoalescerGroup& g = groups_.try_emplace(KeyRef{hash, copy}).first->second;
    g.key = copy;
    g.hash = hash;
    return g;
  }

  // REQUIRES: g has no queued member and no running batch. Invalidates g.
  void EraseGroupLocked(CoalescerGroup& g) LOCKSTEP_REQUIRES(mu_) {
    void* key = g.key;
    groups_.erase(KeyRef{g.hash, key});
    types_.DeleteKey(key);
  }

  // The first member of g's FIFO, removed from it; nullptr if empty.
  static CoalescerMember* PopFrontLocked(CoalescerGroup& g) {
    CoalescerMember* m = g.head;
    if (m == nullptr) return nullptr;
    g.head = m->next;
    if (g.head == nullptr) g.tail = nullptr;
    m->next = nullptr;
    return m;
  }

  // Appends g to the ready list. The caller then calls Wake() once, after unlocking.
  // The task for a user executor is counted here, under the lock that decided to post it,
  // so Shutdown's wait for posted_tasks_ == 0 cannot miss it.
  void MakeReadyLocked(CoalescerGroup& g) LOCKSTEP_REQUIRES(mu_) {
    g.in_ready = true;
    if (ready_tail_ == nullptr) {
      ready_head_ = &g;
    } else {
      ready_tail_->next_ready = &g;
    }
    ready_tail_ = &g;
    if (options_.executor) ++posted_tasks_;
  }

  // Marks m completed, detaches its timer and queues its callback (with a reference).
  // REQUIRES: !m.completed.
  void CompleteLocked(CoalescerMember& m, Status status, std::vector<Completion>* out) LOCKSTEP_REQUIRES(mu_) {
    m.completed = true;
    if (m.timer_index != CoalescerMember::kNoTimer) RemoveTimerLocked(m);
    m.refs.fetch_add(1, std::memory_order_relaxed);  // The caller holds one already.
    out->push_back(Completion{&m, std::move(status)});
  }

  void RunCompletions(std::vector<Completion>& completions) LOCKSTEP_EXCLUDES(mu_) {
    for (Completion& c : completions) {
      types_.Deliver(c.member, &c.status);
      Unref(c.member);
    }
    completions.clear();
  }

  // Drops one reference to m; the last one deletes it.
  void Unref(CoalescerMember* m) {
    if (m->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) types_.DeleteMember(m);
  }

  // The deadline heap: a binary min-heap over deadline.when() in timers_, each member
  // knowing its slot (timer_index), so removal needs no search and no allocation.
  static bool Earlier(const CoalescerMember* a, const CoalescerMember* b) {
    return a->deadline.when() < b->deadline.when();
  }
  void SwapTimersLocked(std::size_t i, std::size_t j) LOCKSTEP_REQUIRES(mu_) {
    std::swap(timers_[i], timers_[j]);
    timers_[i]->timer_index = i;
    timers_[j]->timer_index = j;
  }
  void SiftUpLocked(std::size_t i) LOCKSTEP_REQUIRES(mu_) {
    while (i > 0 && Earlier(timers_[i], timers_[(i - 1) / 2])) {
      SwapTimersLocked(i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
  }
  void SiftDownLocked(std::size_t i) LOCKSTEP_REQUIRES(mu_) {
    for (;;) {
      std::size_t first = i;
      for (std::size_t child : {2 * i + 1, 2 * i + 2}) {
        if (child < timers_.size() && Earlier(timers_[child], timers_[first])) first = child;
      }
      if (first == i) return;
      SwapTimersLocked(i, first);
      i = first;
    }
  }
  void AddTimerLocked(CoalescerMember* m) LOCKSTEP_REQUIRES(mu_) {
    m->timer_index = timers_.size();
    timers_.push_back(m);
    SiftUpLocked(m->timer_index);
  }
  void RemoveTimerLocked(CoalescerMember& m) LOCKSTEP_REQUIRES(mu_) {
    const std::size_t i = m.timer_index;
    m.timer_index = CoalescerMember::kNoTimer;
    CoalescerMember* last = timers_.back();
    timers_.pop_back();
    if (last == &m) return;
    timers_[i] = last;
    last->timer_index = i;
    SiftUpLocked(i);
    SiftDownLocked(last->timer_index);
  }

  const CoalescerOptions options_;
  CoalescerTypes& types_;

  mutable Mutex mu_;
  CondVar work_cv_;   // A ready key or stopping_ (owned workers).
  CondVar timer_cv_;  // timers_ got an earlier deadline, or timer_stop_.
  CondVar idle_cv_;   // posted_tasks_ reached 0.
  std::unordered_map<KeyRef, CoalescerGroup, KeyRefHash, KeyRefEqual> groups_ LOCKSTEP_GUARDED_BY(mu_);
  // Keys with queued work, not running, FIFO (linked through CoalescerGroup::next_ready).
  CoalescerGroup* ready_head_ LOCKSTEP_GUARDED_BY(mu_) = nullptr;
  CoalescerGroup* ready_tail_ LOCKSTEP_GUARDED_BY(mu_) = nullptr;
  std::vector<CoalescerMember*> timers_ LOCKSTEP_GUARDED_BY(mu_);  // Uncompleted, finite deadline.
  std::size_t queued_ LOCKSTEP_GUARDED_BY(mu_) = 0;  // Live queued members over all keys.
  std::size_t running_members_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  std::size_t posted_tasks_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  bool stopping_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool timer_stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  CoalescerStats stats_ LOCKSTEP_GUARDED_BY(mu_);
  std::vector<std::thread> workers_;
  std::thread timer_thread_;
};

CoalescerCore::CoalescerCore(CoalescerOptions options, CoalescerTypes& types)
    : impl_(std::make_unique<Impl>(std::move(options), types)) {}

CoalescerCore::~CoalescerCore() = default;

Status CoalescerCore::Submit(const void* key, CoalescerMember* member) { return impl_->Submit(key, member); }

CoalescerStats CoalescerCore::stats() const { return impl_->stats(); }

}  // namespace lockstep::batch::internal
