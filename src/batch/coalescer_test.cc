#include "lockstep/batch/coalescer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "lockstep/base/mutex.h"

namespace lockstep::batch {
namespace {

using namespace std::chrono_literals;
using IntCoalescer = Coalescer<int, int, int>;

// Generous bound for awaited conditions; a loaded 2-core machine never gets near it.
constexpr auto kWaitBound = 60s;

int Respond(int key, int request) { return key * 1'000'000 + request * 2; }

// A one-shot gate the batch function can block on, which also reports that it was reached.
class Gate {
 public:
  void Open() {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.SignalAll();
  }
  // Called by the batch function: marks "entered", then blocks until Open().
  void Pass() {
    MutexLock lock(&mu_);
    ++entered_;
    cv_.SignalAll();
    while (!open_) cv_.Wait(&mu_);
  }
  bool AwaitEntered(int n = 1) {
    const Deadline d = Deadline::After(kWaitBound);
    MutexLock lock(&mu_);
    while (entered_ < n) {
      if (!cv_.WaitUntil(&mu_, d) && entered_ < n) return false;
    }
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ LOCKSTEP_GUARDED_BY(mu_) = false;
  int entered_ LOCKSTEP_GUARDED_BY(mu_) = 0;
};

// Collects completions by caller id and counts duplicates.
class Recorder {
 public:
  IntCoalescer::Done Callback(int id) {
    return [this, id](Result<int> r) {
      MutexLock lock(&mu_);
      if (results_.count(id) != 0) ++duplicates_;
      results_.emplace(id, std::move(r));
      cv_.SignalAll();
    };
  }
  bool AwaitCount(std::size_t n) {
    const Deadline d = Deadline::After(kWaitBound);
    MutexLock lock(&mu_);
    while (results_.size() < n) {
      if (!cv_.WaitUntil(&mu_, d) && results_.size() < n) return false;
    }
    return true;
  }
  bool AwaitId(int id) {
    const Deadline d = Deadline::After(kWaitBound);
    MutexLock lock(&mu_);
    while (results_.count(id) == 0) {
      if (!cv_.WaitUntil(&mu_, d) && results_.count(id) == 0) return false;
    }
    return true;
  }
  Result<int> Get(int id) {
    MutexLock lock(&mu_);
    auto it = results_.find(id);
    if (it == results_.end()) return Status::NotFound("no result for ", id);
    return it->second;
  }
  std::size_t size() {
    MutexLock lock(&mu_);
    return results_.size();
  }
  int duplicates() {
    MutexLock lock(&mu_);
    return duplicates_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::map<int, Result<int>> results_ LOCKSTEP_GUARDED_BY(mu_);
  int duplicates_ LOCKSTEP_GUARDED_BY(mu_) = 0;
};

// Records what the batch function saw and checks per-key serialisation.
class BatchLog {
 public:
  void Enter(int key, const std::vector<int*>& batch) {
    MutexLock lock(&mu_);
    if (!in_flight_.insert(key).second) ++overlaps_;
    ++concurrent_;
    max_concurrent_ = std::max(max_concurrent_, concurrent_);
    sizes_.push_back(batch.size());
    for (int* r : batch) seen_.push_back(*r);
  }
  void Exit(int key) {
    MutexLock lock(&mu_);
    in_flight_.erase(key);
    --concurrent_;
  }
  int overlaps() {
    MutexLock lock(&mu_);
    return overlaps_;
  }
  int max_concurrent() {
    MutexLock lock(&mu_);
    return max_concurrent_;
  }
  std::vector<std::size_t> sizes() {
    MutexLock lock(&mu_);
    return sizes_;
  }
  bool Saw(int request) {
    MutexLock lock(&mu_);
    return std::find(seen_.begin(), seen_.end(), request) != seen_.end();
  }

 private:
  Mutex mu_;
  std::set<int> in_flight_ LOCKSTEP_GUARDED_BY(mu_);
  int overlaps_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  int concurrent_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  int max_concurrent_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  std::vector<std::size_t> sizes_ LOCKSTEP_GUARDED_BY(mu_);
  std::vector<int> seen_ LOCKSTEP_GUARDED_BY(mu_);
};

std::vector<Result<int>> RespondAll(int key, std::vector<int*>& batch) {
  std::vector<Result<int>> out;
  for (int* r : batch) out.emplace_back(Respond(key, *r));
  return out;
}

std::unique_ptr<IntCoalescer> MustCreate(CoalescerOptions options, IntCoalescer::BatchFn fn) {
  Result<std::unique_ptr<IntCoalescer>> c = IntCoalescer::Create(std::move(options), std::move(fn));
  LOCKSTEP_CHECK_MSG(c.ok(), c.status().ToString());
  return std::move(c).value();
}

TEST(CoalescerTest, RejectsBadOptions) {
  auto fn = [](const int& k, std::vector<int*>& b, const Deadline&) { return RespondAll(k, b); };
  EXPECT_EQ(IntCoalescer::Create({.max_batch = 0}, fn).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IntCoalescer::Create({.threads = 0}, fn).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IntCoalescer::Create({.batch_budget = 0ms}, fn).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IntCoalescer::Create({}, nullptr).status().code(), StatusCode::kInvalidArgument);
}

TEST(CoalescerTest, ManyThreadsFewKeysEveryCallerGetsItsOwnResponse) {
  BatchLog log;
  auto c = MustCreate({.threads = 4, .max_batch = 16}, [&](const int& key, std::vector<int*>& batch, const Deadline&) {
    log.Enter(key, batch);
    std::this_thread::yield();  // Widen the window in which an overlap would show.
    auto out = RespondAll(key, batch);
    log.Exit(key);
    return out;
  });
  constexpr int kThreads = 8;
  constexpr int kPerThread = 300;
  constexpr int kKeys = 3;
  std::atomic<int> wrong{0};  // Atomic: written by many caller threads, read after join.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int request = t * kPerThread + i;
        const int key = request % kKeys;
        Result<int> r = c->SubmitAndWait(key, request, Deadline::After(kWaitBound));
        if (!r.ok() || *r != Respond(key, request)) wrong.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(log.overlaps(), 0);
  const CoalescerStats stats = c->stats();
  EXPECT_EQ(stats.submitted, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(stats.batched_requests, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_EQ(stats.running, 0u);
  EXPECT_LE(log.max_concurrent(), kKeys);
}

TEST(CoalescerTest, QueuedRequestsRunAsOneBatchUpToMaxBatch) {
  Gate gate;
  BatchLog log;
  auto c = MustCreate({.threads = 2, .max_batch = 4}, [&](const int& key, std::vector<int*>& batch, const Deadline&) {
    log.Enter(key, batch);
    if (*batch[0] == 0) gate.Pass();
    log.Exit(key);
    return RespondAll(key, batch);
  });
  Recorder rec;
  ASSERT_TRUE(c->Submit(7, 0, Deadline::Infinite(), rec.Callback(0)).ok());
  ASSERT_TRUE(gate.AwaitEntered());
  // Key 7 is busy: these queue behind the running batch.
  for (int i = 1; i <= 9; ++i) ASSERT_TRUE(c->Submit(7, i, Deadline::Infinite(), rec.Callback(i)).ok());
  EXPECT_EQ(c->stats().queue_depth, 9u);
  gate.Open();
  ASSERT_TRUE(rec.AwaitCount(10));
  for (int i = 0; i <= 9; ++i) {
    Result<int> r = rec.Get(i);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, Respond(7, i));
  }
  EXPECT_EQ(log.sizes(), (std::vector<std::size_t>{1, 4, 4, 1}));
  const CoalescerStats stats = c->stats();
  EXPECT_EQ(stats.batches, 4u);
  EXPECT_EQ(stats.max_batch_seen, 4u);
  EXPECT_EQ(stats.batch_size_histogram[CoalescerStats::BucketOf(1)], 2u);
  EXPECT_EQ(stats.batch_size_histogram[CoalescerStats::BucketOf(4)], 2u);
  EXPECT_EQ(rec.duplicates(), 0);
}

TEST(CoalescerTest, ConcurrentCallersAreBatchedWhenTheBatchIsSlow) {
  Gate gate;
  BatchLog log;
  auto c = MustCreate({.threads = 2}, [&](const int& key, std::vector<int*>& batch, const Deadline&) {
    log.Enter(key, batch);
    if (*batch[0] == 0) gate.Pass();
    log.Exit(key);
    return RespondAll(key, batch);
  });
  std::thread first([&] { EXPECT_EQ(*c->SubmitAndWait(1, 0, Deadline::After(kWaitBound)), Respond(1, 0)); });
  ASSERT_TRUE(gate.AwaitEntered());
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};  // Atomic: written by caller threads, read after join.
  for (int i = 1; i <= 20; ++i) {
    callers.emplace_back([&, i] {
      Result<int> r = c->SubmitAndWait(1, i, Deadline::After(kWaitBound));
      if (!r.ok() || *r != Respond(1, i)) wrong.fetch_add(1);
    });
  }
  // Await every caller queued (no sleeps: Stats is the condition, polled with yields).
  const Deadline bound = Deadline::After(kWaitBound);
  while (c->stats().queue_depth < 20 && !bound.expired()) std::this_thread::yield();
  EXPECT_EQ(c->stats().queue_depth, 20u);
  gate.Open();
  first.join();
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(log.sizes(), (std::vector<std::size_t>{1, 20}));
  EXPECT_LT(c->stats().batches, 21u);
}

TEST(CoalescerTest, DeadlineBeforeStartIsNeverExecuted) {
  Gate gate;
  BatchLog log;
  auto c = MustCreate({.threads = 2}, [&](const int& key, std::vector<int*>& batch, const Deadline&) {
    log.Enter(key, batch);
    if (*batch[0] == 0) gate.Pass();
    log.Exit(key);
    return RespondAll(key, batch);
  });
  Recorder rec;
  // Already expired: refused at Submit.
  EXPECT_EQ(c->Submit(1, 99, Deadline::After(0ms), rec.Callback(99)).code(), StatusCode::kDeadlineExceeded);

  ASSERT_TRUE(c->Submit(1, 0, Deadline::Infinite(), rec.Callback(0)).ok());
  ASSERT_TRUE(gate.AwaitEntered());
  ASSERT_TRUE(c->Submit(1, 1, Deadline::After(50ms), rec.Callback(1)).ok());
  ASSERT_TRUE(c->Submit(1, 2, Deadline::Infinite(), rec.Callback(2)).ok());
  // Request 1 cannot start while key 1's batch is blocked: it expires queued.
  ASSERT_TRUE(rec.AwaitId(1));
  EXPECT_EQ(rec.Get(1).status().code(), StatusCode::kDeadlineExceeded);
  gate.Open();
  ASSERT_TRUE(rec.AwaitCount(3));
  EXPECT_TRUE(rec.Get(0).ok());
  EXPECT_TRUE(rec.Get(2).ok());
  EXPECT_FALSE(log.Saw(1));
  EXPECT_FALSE(log.Saw(99));
  const CoalescerStats stats = c->stats();
  EXPECT_EQ(stats.expired_before_start, 1u);
  EXPECT_EQ(stats.batched_requests, 2u);
  EXPECT_EQ(rec.duplicates(), 0);
}

TEST(CoalescerTest, DeadlineDuringTheBatchGivesOutcomeUnknown) {
  Gate gate;
  Mutex mu;
  CondVar cv;
  int batches_done = 0;
  Deadline seen_batch_deadline = Deadline::Infinite();
  auto c = MustCreate({.threads = 2, .batch_budget = 30s,
                       .observer = {.on_batch =
                                        [&](const BatchEvent&) {
                                          MutexLock lock(&mu);
                                          ++batches_done;
                                          cv.SignalAll();
                                        }}},
                      [&](const int& key, std::vector<int*>& batch, const Deadline& d) {
                        {
                          MutexLock lock(&mu);
                          seen_batch_deadline = d;
                        }
                        gate.Pass();
                        return RespondAll(key, batch);
                      });
  Recorder rec;
  const Deadline short_deadline = Deadline::After(100ms);
  ASSERT_TRUE(c->Submit(1, 1, short_deadline, rec.Callback(1)).ok());
  ASSERT_TRUE(gate.AwaitEntered());
  ASSERT_TRUE(rec.AwaitId(1));  // Completed at its deadline, batch still blocked.
  EXPECT_EQ(rec.Get(1).status().code(), StatusCode::kUnknown);
  gate.Open();
  {
    const Deadline bound = Deadline::After(kWaitBound);
    MutexLock lock(&mu);
    while (batches_done < 1 && cv.WaitUntil(&mu, bound)) {
    }
    ASSERT_EQ(batches_done, 1);
    // Batch deadline = min(start + budget, latest member deadline) = the member's here.
    EXPECT_EQ(seen_batch_deadline, short_deadline);
  }
  EXPECT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec.duplicates(), 0);  // The dropped batch result did not complete it again.
  EXPECT_EQ(c->stats().outcome_unknown, 1u);
}

TEST(CoalescerTest, QueuedDeadlinesExpireInDeadlineOrder) {
  Gate gate;
  auto c = MustCreate({.threads = 1}, [&](const int& key, std::vector<int*>& batch, const Deadline&) {
    if (*batch[0] == 0) gate.Pass();
    return RespondAll(key, batch);
  });
  Recorder rec;
  ASSERT_TRUE(c->Submit(1, 0, Deadline::Infinite(), rec.Callback(0)).ok());
  ASSERT_TRUE(gate.AwaitEntered());  // Key 1 is busy: everything below stays queued.
  Mutex mu;
  std::vector<int> order;  // Ids in completion order; guarded by mu.
  auto record = [&](int id) -> IntCoalescer::Done {
    return [&mu, &order, id, done = rec.Callback(id)](Result<int> r) {
      {
        MutexLock lock(&mu);
        order.push_back(id);
      }
      done(std::move(r));
    };
  };
  // Submitted out of deadline order (7 is coprime with 16: slots are a permutation), with a
  // long deadline in the middle that leaves the timers only when its batch completes it.
  constexpr int kExpiring = 16;
  const Clock::time_point base = Clock::Real().Now() + 300ms;
  std::vector<std::pair<int, int>> by_slot;
  for (int id = 1; id <= kExpiring; ++id) {
    const int slot = (id * 7) % kExpiring;
    by_slot.emplace_back(slot, id);
    ASSERT_TRUE(c->Submit(1, id, Deadline::At(base + slot * 2ms), record(id)).ok());
    if (id == kExpiring / 2) {
      ASSERT_TRUE(c->Submit(1, 100, Deadline::After(kWaitBound), record(100)).ok());
    }
  }
  std::sort(by_slot.begin(), by_slot.end());
  ASSERT_TRUE(rec.AwaitCount(kExpiring));
  gate.Open();
  ASSERT_TRUE(rec.AwaitCount(kExpiring + 2));
  std::vector<int> expected;
  for (const auto& [slot, id] : by_slot) expected.push_back(id);
  expected.push_back(100);  // Completed by its batch, after the gate opened.
  {
    MutexLock lock(&mu);
    EXPECT_EQ(order, expected);
  }
  for (int id = 1; id <= kExpiring; ++id) EXPECT_EQ(rec.Get(id).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*rec.Get(0), Respond(1, 0));
  EXPECT_EQ(*rec.Get(100), Respond(1, 100));
  EXPECT_EQ(c->stats().expired_before_start, uint64_t{kExpiring});
  EXPECT_EQ(rec.duplicates(), 0);
}

TEST(CoalescerTest, FullQueuesRejectAtOnce) {
  Gate gate;
  auto c = MustCreate({.threads = 1, .max_queued_per_key = 2, .max_queued = 3},
                      [&](const int& key, std::vector<int*>& batch, const Deadline&) {
                        if (*batch[0] == 0) gate.Pass();
                        return RespondAll(key, batch);
                      });
  Recorder rec;
  ASSERT_TRUE(c->Submit(1, 0, Deadline::Infinite(), rec.Callback(0)).ok());
  ASSERT_TRUE(gate.AwaitEntered());  // The only thread is busy; everything else queues.
  ASSERT_TRUE(c->Submit(1, 1, Deadline::Infinite(), rec.Callback(1)).ok());
  ASSERT_TRUE(c->Submit(1, 2, Deadline::Infinite(), rec.Callback(2)).ok());
  Status key_full = c->Submit(1, 3, Deadline::Infinite(), rec.Callback(3));
  EXPECT_EQ(key_full.code(), StatusCode::kResourceExhausted) << key_full;
  ASSERT_TRUE(c->Submit(2, 4, Deadline::Infinite(), rec.Callback(4)).ok());
  Status overloaded = c->Submit(3, 5, Deadline::Infinite(), rec.Callback(5));
  EXPECT_EQ(overloaded.code(), StatusCode::kUnavailable) << overloaded;
  gate.Open();
  ASSERT_TRUE(rec.AwaitCount(4));
  for (int id : {0, 1, 2, 4}) EXPECT_TRUE(rec.Get(id).ok()) << id;
  EXPECT_EQ(rec.size(), 4u);  // Rejected submits never complete.
  const CoalescerStats stats = c->stats();
  EXPECT_EQ(stats.rejected, 2u);
  EXPECT_EQ(stats.rejected_key_full, 1u);
  EXPECT_EQ(stats.rejected_overloaded, 1u);
}

TEST(CoalescerTest, ShedByDeadlineRefusesAtOnceWhatCouldNotCompleteInTime) {
  Gate gate;
  auto c = MustCreate({.threads = 1, .max_batch = 1, .shed_by_deadline = true},
                      [&](const int& key, std::vector<int*>& batch, const Deadline&) {
                        // The work being timed: request 100 takes >= 100 ms, request 0 waits for the gate.
                        if (*batch[0] == 100) std::this_thread::sleep_for(100ms);
                        if (*batch[0] == 0) gate.Pass();
                        return RespondAll(key, batch);
                      });
  Recorder rec;
  // Nothing timed yet: never shed, however short the deadline.
  ASSERT_TRUE(c->Submit(1, 100, Deadline::After(kWaitBound), rec.Callback(100)).ok());
  ASSERT_TRUE(rec.AwaitCount(1));
  EXPECT_GE(c->stats().smoothed_run_time, 100ms);
  ASSERT_TRUE(c->Submit(1, 0, Deadline::Infinite(), rec.Callback(0)).ok());
  ASSERT_TRUE(gate.AwaitEntered());  // Key 1 runs a batch now.
  // Behind the running batch, its own batch included: >= 200 ms; a 50 ms deadline is shed.
  Status shed = c->Submit(1, 1, Deadline::After(50ms), rec.Callback(1));
  EXPECT_EQ(shed.code(), StatusCode::kUnavailable) << shed;
  EXPECT_NE(shed.message().find("shed"), std::string_view::npos) << shed;
  // A deadline that leaves room is queued, and an idle key is never shed.
  ASSERT_TRUE(c->Submit(1, 2, Deadline::After(kWaitBound), rec.Callback(2)).ok());
  ASSERT_TRUE(c->Submit(2, 3, Deadline::After(1ms), rec.Callback(3)).ok());
  gate.Open();
  ASSERT_TRUE(rec.AwaitCount(4));
  EXPECT_TRUE(rec.Get(2).ok());
  const CoalescerStats stats = c->stats();
  EXPECT_EQ(stats.rejected, 1u);
  EXPECT_EQ(stats.rejected_shed, 1u);
}

TEST(CoalescerTest, OneBadMemberDoesNotFailTheOthers) {
  Gate gate;
  auto c = MustCreate({.threads = 2}, [&](const int& key, std::vector<int*>& batch, const Deadline&) {
    if (*batch[0] == 0) gate.Pass();
    std::vector<Result<int>> out;
    for (int* r : batch) {
      if (*r == 5) out.emplace_back(Status::FailedPrecondition("out of stock"));
      else out.emplace_back(Respond(key, *r));
    }
    return out;
  });
  Recorder rec;
  ASSERT_TRUE(c->Submit(1, 0, Deadline::Infinite(), rec.Callback(0)).ok());
  ASSERT_TRUE(gate.AwaitEntered());
  for (int i = 1; i <= 9; ++i) ASSERT_TRUE(c->Submit(1, i, Deadline::Infinite(), rec.Callback(i)).ok());
  gate.Open();
  ASSERT_TRUE(rec.AwaitCount(10));
  for (int i = 0; i <= 9; ++i) {
    if (i == 5) {
      EXPECT_EQ(rec.Get(i).status().code(), StatusCode::kFailedPrecondition);
    } else {
      ASSERT_TRUE(rec.Get(i).ok()) << i;
      EXPECT_EQ(*rec.Get(i), Respond(1, i));
    }
  }
  EXPECT_EQ(c->stats().batches, 2u);  // 5 really shared a batch with 1..4, 6..9.
}

TEST(CoalescerTest, WholeBatchErrorsReachEveryMember) {
  auto c = MustCreate({.threads = 2}, [&](const int& key, std::vector<int*>& batch,
                                          const Deadline&) -> Result<std::vector<Result<int>>> {
    if (key == 1) return Status::Aborted("deadlock, retries exhausted");
    if (key == 2) return std::vector<Result<int>>{};  // Size mismatch.
    if (key == 3) throw std::runtime_error("boom");
    return RespondAll(key, batch);
  });
  EXPECT_EQ(c->SubmitAndWait(1, 1, Deadline::After(kWaitBound)).status().code(), StatusCode::kAborted);
  EXPECT_EQ(c->SubmitAndWait(2, 1, Deadline::After(kWaitBound)).status().code(), StatusCode::kInternal);
  EXPECT_EQ(c->SubmitAndWait(3, 1, Deadline::After(kWaitBound)).status().code(), StatusCode::kInternal);
  EXPECT_EQ(*c->SubmitAndWait(4, 1, Deadline::After(kWaitBound)), Respond(4, 1));
  EXPECT_EQ(c->stats().whole_batch_errors, 3u);
}

TEST(CoalescerTest, OtherKeysProgressWhileOneKeyIsBlocked) {
  Gate gate;
  auto c = MustCreate({.threads = 2}, [&](const int& key, std::vector<int*>& batch, const Deadline&) {
    if (key == 1) gate.Pass();
    return RespondAll(key, batch);
  });
  Recorder rec;
  ASSERT_TRUE(c->Submit(1, 0, Deadline::Infinite(), rec.Callback(0)).ok());
  ASSERT_TRUE(gate.AwaitEntered());
  // More work for the blocked key must not take the second thread from key 2.
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(c->Submit(1, i, Deadline::Infinite(), rec.Callback(i)).ok());
  for (int i = 0; i < 50; ++i) {
    Result<int> r = c->SubmitAndWait(2, i, Deadline::After(kWaitBound));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, Respond(2, i));
  }
  EXPECT_EQ(rec.size(), 0u);
  gate.Open();
  ASSERT_TRUE(rec.AwaitCount(6));
}

TEST(CoalescerTest, DestructorCancelsQueuedAndFinishesRunning) {
  Gate gate;
  Recorder rec;
  auto c = MustCreate({.threads = 1}, [&](const int& key, std::vector<int*>& batch, const Deadline&) {
    if (*batch[0] == 0) gate.Pass();
    return RespondAll(key, batch);
  });
  ASSERT_TRUE(c->Submit(1, 0, Deadline::Infinite(), rec.Callback(0)).ok());
  ASSERT_TRUE(gate.AwaitEntered());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c->Submit(1, i, Deadline::Infinite(), rec.Callback(i)).ok());
  std::thread destroyer([&] { c.reset(); });
  ASSERT_TRUE(rec.AwaitCount(3));  // The queued ones, cancelled while the batch still runs.
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(rec.Get(i).status().code(), StatusCode::kCancelled);
  gate.Open();
  destroyer.join();
  ASSERT_TRUE(rec.Get(0).ok());
  EXPECT_EQ(*rec.Get(0), Respond(1, 0));
}

// A two-thread pool standing in for shopd's blocking pool.
class TestPool {
 public:
  TestPool() {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~TestPool() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
      cv_.SignalAll();
    }
    for (std::thread& t : threads_) t.join();
  }
  void Post(std::function<void()> task) {
    MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
    cv_.Signal();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        MutexLock lock(&mu_);
        while (!stop_ && tasks_.empty()) cv_.Wait(&mu_);
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> tasks_ LOCKSTEP_GUARDED_BY(mu_);
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

TEST(CoalescerTest, RunsOnAUserExecutor) {
  TestPool pool;
  BatchLog log;
  auto c = MustCreate({.executor = [&](std::function<void()> task) { pool.Post(std::move(task)); }},
                      [&](const int& key, std::vector<int*>& batch, const Deadline&) {
                        log.Enter(key, batch);
                        auto out = RespondAll(key, batch);
                        log.Exit(key);
                        return out;
                      });
  std::atomic<int> wrong{0};  // Atomic: written by caller threads, read after join.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const int request = t * 100 + i;
        Result<int> r = c->SubmitAndWait(request % 2, request, Deadline::After(kWaitBound));
        if (!r.ok() || *r != Respond(request % 2, request)) wrong.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(log.overlaps(), 0);
  c.reset();  // Waits for every posted task before the pool goes.
}

TEST(CoalescerStatsTest, BucketsAndRendering) {
  EXPECT_EQ(CoalescerStats::BucketOf(1), 0u);
  EXPECT_EQ(CoalescerStats::BucketOf(2), 1u);
  EXPECT_EQ(CoalescerStats::BucketOf(3), 2u);
  EXPECT_EQ(CoalescerStats::BucketOf(4), 2u);
  EXPECT_EQ(CoalescerStats::BucketOf(5), 3u);
  EXPECT_EQ(CoalescerStats::BucketOf(256), 8u);
  EXPECT_EQ(CoalescerStats::BucketOf(257), 9u);
  EXPECT_EQ(CoalescerStats::BucketOf(100000), 9u);
  EXPECT_EQ(CoalescerStats::BucketLabel(0), "1");
  EXPECT_EQ(CoalescerStats::BucketLabel(1), "2");
  EXPECT_EQ(CoalescerStats::BucketLabel(2), "3-4");
  EXPECT_EQ(CoalescerStats::BucketLabel(9), "257+");
  CoalescerStats s;
  s.batches = 3;
  s.batch_size_histogram[0] = 2;
  s.batch_size_histogram[2] = 1;
  EXPECT_NE(s.ToString().find("sizes={1:2,3-4:1}"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace lockstep::batch
