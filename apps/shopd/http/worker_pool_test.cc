#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <latch>

#include "http/testing/http_test_client.h"

namespace shopd::http {
namespace {

using testing::WaitUntil;

TEST(WorkerPoolTest, RunsJobs) {
  WorkerPool pool({.threads = 4, .queue_limit = 100});
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.TrySubmit([&] { done.fetch_add(1); }).ok());
  pool.Shutdown();
  EXPECT_EQ(done.load(), 50);
  EXPECT_EQ(pool.stats().completed_total, 50);
  EXPECT_FALSE(pool.TrySubmit([] {}).ok());
}

// Submits a job that blocks until `release` counts down, and waits until a worker runs it.
void OccupyWorker(WorkerPool& pool, std::latch& release) {
  auto started = std::make_shared<std::atomic<bool>>(false);  // Outlives a failed wait.
  ASSERT_TRUE(pool.TrySubmit([started, &release] {
    *started = true;
    release.wait();
  }).ok());
  ASSERT_TRUE(WaitUntil([&] { return started->load(); }));
}

TEST(WorkerPoolTest, ShedsWhenQueueIsFull) {
  WorkerPool pool({.threads = 1, .queue_limit = 1});
  std::latch release(1);
  ASSERT_NO_FATAL_FAILURE(OccupyWorker(pool, release));
  ASSERT_TRUE(pool.TrySubmit([] {}).ok());  // Waits in the queue.
  EXPECT_FALSE(pool.TrySubmit([] {}).ok());  // Queue full: shed at once.
  WorkerPoolStats s = pool.stats();
  EXPECT_EQ(s.queue_depth, 1);
  EXPECT_EQ(s.in_flight, 1);
  EXPECT_EQ(s.shed_total, 1);
  release.count_down();
  pool.Shutdown();
  EXPECT_EQ(pool.stats().completed_total, 2);
}

TEST(WorkerPoolTest, AdmissionShedsAtSubmitButNeverCritical) {
  lockstep::resilience::AdmissionOptions admission;
  admission.min_limit = admission.initial_limit = admission.max_limit = 2;
  WorkerPool pool({.threads = 1, .queue_limit = 100, .admission = admission});
  std::latch release(1);
  ASSERT_NO_FATAL_FAILURE(OccupyWorker(pool, release));
  ASSERT_TRUE(pool.TrySubmit([] {}).ok());  // Queued: two in flight, the limit.
  const lockstep::Status shed = pool.TrySubmit([] {});
  EXPECT_EQ(shed.code(), lockstep::StatusCode::kUnavailable);
  EXPECT_EQ(shed.reason(), "overloaded");
  EXPECT_TRUE(pool.TrySubmit([] {}, lockstep::resilience::Priority::kCritical).ok());
  WorkerPoolStats s = pool.stats();
  ASSERT_TRUE(s.admission.has_value());
  EXPECT_EQ(s.admission->shed_concurrency_limit, 1u);
  EXPECT_EQ(s.admission->in_flight, 3);
  EXPECT_EQ(s.shed_total, 1);
  release.count_down();
  pool.Shutdown();
  EXPECT_EQ(pool.stats().completed_total, 3);
  EXPECT_EQ(pool.stats().admission->in_flight, 0);
}

}  // namespace
}  // namespace shopd::http
