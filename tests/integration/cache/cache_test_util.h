#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "lockstep/base/mutex.h"
#include "lockstep/cache/byte_cache.h"
#include "support/redis_test.h"

namespace lockstep::cache::testing {

using namespace std::chrono_literals;

// Generous bound for awaited conditions; never a timing assertion.
constexpr auto kWaitBound = 30s;

// The "database": rows with versions, bumped on every write, and a count of loads.
// Thread-safe.
class FakeDb {
 public:
  void Put(const std::string& key, const std::string& value) {
    MutexLock lock(&mu_);
    auto& row = rows_[key];
    row.first = value;
    ++row.second;
  }
  int64_t Version(const std::string& key) {
    MutexLock lock(&mu_);
    auto it = rows_.find(key);
    return it == rows_.end() ? 0 : it->second.second;
  }
  Result<Versioned<std::string>> Load(std::string_view key) {
    loads_.fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(&mu_);
    auto it = rows_.find(std::string(key));
    if (it == rows_.end()) return Versioned<std::string>::NotFound();
    return Versioned<std::string>::Of(it->second.first, it->second.second);
  }
  ByteCache::Loader LoaderFor(std::string_view key) {
    std::string k(key);
    return [this, k](const Deadline&) { return Load(k); };
  }
  int loads() const { return loads_.load(std::memory_order_relaxed); }

 private:
  Mutex mu_;
  std::map<std::string, std::pair<std::string, int64_t>> rows_ LOCKSTEP_GUARDED_BY(mu_);
  // Atomic: a tally read after the threads joined or as a monotone progress figure.
  std::atomic<int> loads_{0};
};

// A one-shot pause point for CacheObserver::on_loaded: the armed key blocks there until
// Release(). Thread-safe.
class FillGate {
 public:
  void Arm(std::string key) {
    MutexLock lock(&mu_);
    key_ = std::move(key);
    reached_ = false;
    released_ = false;
  }
  CacheObserver Observer() {
    CacheObserver h;
    h.on_loaded = [this](std::string_view key) {
      MutexLock lock(&mu_);
      if (key_.empty() || key != key_) return;
      key_.clear();  // One shot.
      reached_ = true;
      cv_.SignalAll();
      const Deadline d = Deadline::After(kWaitBound);
      while (!released_ && cv_.WaitUntil(&mu_, d)) {
      }
    };
    return h;
  }
  bool AwaitReached() {
    const Deadline d = Deadline::After(kWaitBound);
    MutexLock lock(&mu_);
    while (!reached_) {
      if (!cv_.WaitUntil(&mu_, d) && !reached_) return false;
    }
    return true;
  }
  void Release() {
    MutexLock lock(&mu_);
    released_ = true;
    cv_.SignalAll();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::string key_ LOCKSTEP_GUARDED_BY(mu_);
  bool reached_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool released_ LOCKSTEP_GUARDED_BY(mu_) = false;
};

// Options for a test cache under the test's Redis key prefix.
inline CacheOptions TestCacheOptions(const std::string& prefix) {
  CacheOptions o;
  o.key_prefix = prefix;
  o.name = "c";
  o.ttl_jitter = 0.1;
  return o;
}

inline std::unique_ptr<ByteCache> OpenCache(redis::Client& client, const CacheOptions& options,
                                            CacheObserver observer = {}) {
  CacheOptions with_observer = options;
  with_observer.observer = std::move(observer);
  auto opened = ByteCache::Open(client, with_observer);
  EXPECT_TRUE(opened.ok()) << opened.status();
  return opened.ok() ? std::move(opened).value() : nullptr;
}

}  // namespace lockstep::cache::testing
