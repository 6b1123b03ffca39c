#include "lockstep/base/mutex.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace lockstep {
namespace {

class Counter {  // Thread-safe.
 public:
  void Add() LOCKSTEP_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    ++value_;
    if (value_ == target_) done_.SignalAll();
  }
  bool AwaitValue(int target, const Deadline& deadline) LOCKSTEP_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    target_ = target;
    while (value_ < target) {
      if (!done_.WaitUntil(&mu_, deadline) && value_ < target) return false;
    }
    return true;
  }

 private:
  Mutex mu_;
  CondVar done_;
  int value_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  int target_ LOCKSTEP_GUARDED_BY(mu_) = -1;
};

TEST(Mutex, CountsExactlyUnderContention) {
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) counter.Add();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(counter.AwaitValue(80000, Deadline::After(std::chrono::seconds(1))));
}

TEST(CondVar, WaitUntilTimesOutWithoutSignal) {
  Counter counter;
  EXPECT_FALSE(counter.AwaitValue(1, Deadline::After(std::chrono::milliseconds(10))));
}

TEST(CondVar, WakesAWaiter) {
  Counter counter;
  std::thread adder([&] { counter.Add(); });
  EXPECT_TRUE(counter.AwaitValue(1, Deadline::After(std::chrono::seconds(60))));
  adder.join();
}

}  // namespace
}  // namespace lockstep
