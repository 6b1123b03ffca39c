#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>

#include "http/testing/http_test_client.h"

namespace shopd::http {
namespace {

using testing::WaitUntil;

TEST(WorkerPoolTest, RunsJobs) {
  WorkerPool pool({.threads = 4, .queue_limit = 100});
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.TrySubmit([&] { done.fetch_add(1); }));
  pool.Shutdown();
  EXPECT_EQ(done.load(), 50);
  EXPECT_EQ(pool.stats().completed_total, 50);
  EXPECT_FALSE(pool.TrySubmit([] {}));
}

TEST(WorkerPoolTest, ShedsWhenQueueIsFull) {
  WorkerPool pool({.threads = 1, .queue_limit = 1});
  std::latch release(1);
  std::atomic<bool> started{false};
  ASSERT_TRUE(pool.TrySubmit([&] {
    started = true;
    release.wait();
  }));
  ASSERT_TRUE(WaitUntil([&] { return started.load(); }));
  ASSERT_TRUE(pool.TrySubmit([] {}));  // Waits in the queue.
  EXPECT_FALSE(pool.TrySubmit([] {}));  // Queue full: shed at once.
  WorkerPoolStats s = pool.stats();
  EXPECT_EQ(s.queue_depth, 1);
  EXPECT_EQ(s.in_flight, 1);
  EXPECT_EQ(s.shed_total, 1);
  release.count_down();
  pool.Shutdown();
  EXPECT_EQ(pool.stats().completed_total, 2);
}

}  // namespace
}  // namespace shopd::http
