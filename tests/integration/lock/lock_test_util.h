#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "lockstep/lock/options.h"

namespace lockstep::lock::testing {

using namespace std::chrono_literals;

// Named event counters fed by LockObserver callbacks; tests await conditions on them.
// Thread-safe.
class EventCounter {
 public:
  void Add(std::string_view event) {
    // Notifies under the lock: a test that awaited this event may destroy the counter as
    // soon as Await returns, which it cannot do before Add has let go of everything.
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[std::string(event)];
    cv_.notify_all();
  }
  int Get(std::string_view event) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = counts_.find(std::string(event));
    return it == counts_.end() ? 0 : it->second;
  }
  // Waits until counter `event` >= n; false after `timeout` (a generous bound, not a
  // timing assertion).
  bool Await(std::string_view event, int n, std::chrono::seconds timeout = 60s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      auto it = counts_.find(std::string(event));
      return it != counts_.end() && it->second >= n;
    });
  }
  // Callbacks that count "acquired", "wait", "wake", "renewed", "renew_failed", "lost",
  // "fenced_rejected".
  LockObserver Observer() {
    LockObserver m;
    m.on_acquired = [this](std::string_view, std::chrono::nanoseconds) { Add("acquired"); };
    m.on_wait = [this](std::string_view) { Add("wait"); };
    m.on_wake = [this](std::string_view) { Add("wake"); };
    m.on_renewal = [this](std::string_view, const Status& s) { Add(s.ok() ? "renewed" : "renew_failed"); };
    m.on_lost = [this](std::string_view) { Add("lost"); };
    m.on_fenced_rejected = [this](std::string_view) { Add("fenced_rejected"); };
    return m;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> counts_;
};

// The tables of the fenced-write checkers: a counter and a claim row written under a lock
// with their fence, and the log of accepted writes (fence, holder) in commit order.
inline constexpr const char* kFencedCheckerSchema[] = {
    "CREATE TABLE counter (id BIGINT PRIMARY KEY, value BIGINT NOT NULL, fence BIGINT NOT NULL DEFAULT 0) "
    "ENGINE=InnoDB",
    "CREATE TABLE claim (id BIGINT PRIMARY KEY, holder VARCHAR(64) NOT NULL, fence BIGINT NOT NULL DEFAULT 0) "
    "ENGINE=InnoDB",
    "CREATE TABLE accepted (seq BIGINT AUTO_INCREMENT PRIMARY KEY, fence BIGINT NOT NULL, "
    "holder VARCHAR(64) NOT NULL) ENGINE=InnoDB",
    "INSERT INTO counter (id, value) VALUES (1, 0)",
    "INSERT INTO claim (id, holder) VALUES (1, '')",
};

}  // namespace lockstep::lock::testing

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "lockstep/redis/client.h"
#include "support/redis_test.h"
#include "support/test_env.h"

namespace lockstep::lock::testing {

// Clients for every Redis master of the test stack plus a per-test key prefix; deletes the
// test's keys on every reachable master at the end. Not thread-safe; clients are.
class MultiRedis {
 public:
  void Open() {
    prefix_ = "{t:" + lockstep::testing::UniqueTestName() + "}:";
    const int n = static_cast<int>(lockstep::testing::TestEnv::FromEnvironment().redis_ports.size());
    for (int i = 0; i < n; ++i) {
      Result<std::unique_ptr<redis::Client>> c = redis::Client::Open(lockstep::testing::RedisTestOptions(i));
      ASSERT_TRUE(c.ok()) << c.status();
      ASSERT_TRUE((*c)->Ping(Deadline::After(30s)).ok()) << "redis master " << i << " is not up";
      clients_.push_back(std::move(*c));
    }
  }
  void Cleanup() {
    for (auto& c : clients_) {
      Result<redis::Reply> keys = c->Command({"KEYS", prefix_ + "*"}, Deadline::After(10s));
      if (!keys.ok()) continue;
      std::vector<std::string> names;
      for (const redis::Reply& k : keys->array()) names.push_back(k.str());
      if (!names.empty()) (void)c->Del(names, Deadline::After(10s));
    }
  }
  std::string Key(std::string_view name) const { return prefix_ + std::string(name); }
  redis::Client& client(int i) { return *clients_[i]; }
  std::vector<redis::Client*> all() {
    std::vector<redis::Client*> out;
    for (auto& c : clients_) out.push_back(c.get());
    return out;
  }
  int size() const { return static_cast<int>(clients_.size()); }

 private:
  std::string prefix_;
  std::vector<std::unique_ptr<redis::Client>> clients_;
};

// Restarts the listed Redis masters when it goes out of scope (fault tests).
class RestartRedisOnExit {
 public:
  explicit RestartRedisOnExit(std::vector<int> indexes) : indexes_(std::move(indexes)) {}
  ~RestartRedisOnExit() {
    for (int i : indexes_) EXPECT_EQ(lockstep::testing::RunStackCommand("start-redis " + std::to_string(i)), 0);
  }
  RestartRedisOnExit(const RestartRedisOnExit&) = delete;
  RestartRedisOnExit& operator=(const RestartRedisOnExit&) = delete;

 private:
  std::vector<int> indexes_;
};

}  // namespace lockstep::lock::testing
