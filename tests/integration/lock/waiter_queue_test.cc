// LockService's waiter queue against a real Redis: a release wakes one waiter (the queue's
// head), a waiter that gives up leaves the queue, fair mode serves waiters in queue order
// across processes and cannot be barged, a dead head is skipped once its registration
// expires. Awaits conditions; never asserts durations.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lockstep/lock/test_peer.h"
#include "lock_test_util.h"
#include "lockstep/lock/lock_service.h"
#include "support/child_process.h"
#include "support/redis_test.h"

namespace lockstep::lock {
namespace {

using namespace std::chrono_literals;

// Waits until `probe()` holds; false after a generous bound (not a timing assertion).
template <typename Probe>
bool AwaitTrue(Probe probe) {
  for (int i = 0; i < 12'000; ++i) {
    if (probe()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

int64_t QueueLength(redis::Client& client, const std::string& lock_key) {
  Result<redis::Reply> r = client.Command({"ZCARD", lock_key + ":q"}, Deadline::After(10s));
  return r.ok() && r->is_integer() ? r->integer() : -1;
}

class WaiterQueueTest : public lockstep::testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    for (int i = 0; i < 2; ++i) {
      LockServiceOptions o;
      o.key_prefix = "";
      o.release_channel = Key("released");
      Result<std::unique_ptr<LockService>> s = LockService::Create(client(), o);
      ASSERT_TRUE(s.ok()) << s.status();
      services_.push_back(std::move(*s));
    }
  }
  void TearDown() override {
    services_.clear();
    RedisTest::TearDown();
  }
  uint64_t Wakes() const { return services_[0]->stats().wakes + services_[1]->stats().wakes; }
  uint64_t Polls() const { return services_[0]->stats().polls + services_[1]->stats().polls; }

  std::vector<std::unique_ptr<LockService>> services_;  // Two, as two processes would have.
};

// Six waiters (three per service) queue behind a holder; the poll and the leases are far
// longer than the test, so only release messages can hand the lock on. Each release must
// wake exactly one waiter (a broadcast wakes 6 + 5 + ... + 1 = 21), in queue order.
TEST_F(WaiterQueueTest, EachReleaseWakesOnlyTheQueueHead) {
  const std::string name = Key("one");
  Result<LockGuard> holder = services_[0]->Acquire(name, {.lease = 120s}, Deadline::After(30s));
  ASSERT_TRUE(holder.ok()) << holder.status();
  constexpr int kWaiters = 6;
  std::vector<Result<int64_t>> tickets(kWaiters, Status::Unknown("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      Result<LockGuard> g =
          services_[i % 2]->Acquire(name, {.lease = 120s, .poll_interval = 600s}, Deadline::After(120s));
      if (!g.ok()) {
        tickets[i] = g.status();
        return;
      }
      tickets[i] = LockGuardTestPeer::QueueTicket(*g);
      Status released = g->Release();
      if (!released.ok()) tickets[i] = released;
    });
    // One at a time, so the queue order is the start order.
    ASSERT_TRUE(AwaitTrue([&] { return QueueLength(client(), name) == i + 1; })) << "waiter " << i << " never queued";
  }
  const uint64_t wakes_before = Wakes();
  ASSERT_TRUE(holder->Release().ok());
  for (auto& t : threads) t.join();
  for (int i = 0; i < kWaiters; ++i) {
    ASSERT_TRUE(tickets[i].ok()) << "waiter " << i << ": " << tickets[i].status();
    if (i > 0) {
      EXPECT_GT(*tickets[i], *tickets[i - 1]) << "granted in queue order";
    }
  }
  EXPECT_EQ(Wakes() - wakes_before, static_cast<uint64_t>(kWaiters)) << "one wake-up per release";
  EXPECT_EQ(Polls(), 0u);
  EXPECT_EQ(QueueLength(client(), name), 0) << "granted waiters leave the queue";
}

// A waiter that gives up removes itself; the next release wakes the one behind it.
TEST_F(WaiterQueueTest, WaiterThatGivesUpLeavesTheQueue) {
  const std::string name = Key("leave");
  Result<LockGuard> holder = services_[0]->Acquire(name, {.lease = 120s}, Deadline::After(30s));
  ASSERT_TRUE(holder.ok()) << holder.status();
  Result<LockGuard> quitter = Status::Unknown("not run");
  std::thread early([&] { quitter = services_[0]->Acquire(name, {.poll_interval = 600s}, Deadline::After(2s)); });
  ASSERT_TRUE(AwaitTrue([&] { return QueueLength(client(), name) >= 1; }));
  early.join();
  EXPECT_EQ(quitter.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(QueueLength(client(), name), 0) << "the waiter that gave up left the queue";

  Result<LockGuard> patient = Status::Unknown("not run");
  std::thread late([&] { patient = services_[1]->Acquire(name, {.poll_interval = 600s}, Deadline::After(120s)); });
  ASSERT_TRUE(AwaitTrue([&] { return QueueLength(client(), name) == 1; }));
  ASSERT_TRUE(holder->Release().ok());
  late.join();
  ASSERT_TRUE(patient.ok()) << patient.status();
  EXPECT_EQ(services_[1]->stats().wakes, 1u);
  EXPECT_EQ(Polls(), 0u);
}

// Fair mode: with a waiter queued, the releasing thread's TryAcquire must fail, whether the
// head has already taken the lock or not (a non-fair TryAcquire may take it in between).
TEST_F(WaiterQueueTest, FairTryAcquireCannotBargeAheadOfTheQueue) {
  const std::string name = Key("fair");
  const LockOptions fair{.lease = 120s, .poll_interval = 600s, .fair = true};
  Result<LockGuard> holder = services_[0]->Acquire(name, fair, Deadline::After(30s));
  ASSERT_TRUE(holder.ok()) << holder.status();
  Result<LockGuard> waited = Status::Unknown("not run");
  std::thread waiter([&] { waited = services_[1]->Acquire(name, fair, Deadline::After(120s)); });
  ASSERT_TRUE(AwaitTrue([&] { return QueueLength(client(), name) == 1; }));
  ASSERT_TRUE(holder->Release().ok());
  Result<LockGuard> barger = services_[0]->TryAcquire(name, fair);
  EXPECT_FALSE(barger.ok()) << "a fair TryAcquire took the lock ahead of a queued waiter";
  if (!barger.ok()) {
    EXPECT_EQ(barger.status().reason(), "lock_busy");
  }
  waiter.join();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_GT(LockGuardTestPeer::QueueTicket(*waited), 0);
  ASSERT_TRUE(waited->Release().ok());
  Result<LockGuard> free_now = services_[0]->TryAcquire(name, fair);
  EXPECT_TRUE(free_now.ok()) << "queue empty: a fair TryAcquire gets a free lock";
}

// A head that died without leaving (a registration nobody refreshes) blocks fair acquirers
// only until its registration expires; then it is purged and the next one is served.
TEST_F(WaiterQueueTest, FairQueueSkipsADeadHeadOnceItsRegistrationExpires) {
  const std::string name = Key("ghost");
  const std::string ghost = Key("released") + ":gone-service#1";
  Result<redis::Reply> now = client().Command({"TIME"}, Deadline::After(10s));
  ASSERT_TRUE(now.ok() && now->is_array()) << now.status();
  const int64_t now_ms = std::stoll(now->array()[0].str()) * 1000 + std::stoll(now->array()[1].str()) / 1000;
  ASSERT_TRUE(client().Command({"ZADD", name + ":q", "1", ghost}, Deadline::After(10s)).ok());
  ASSERT_TRUE(client().Command({"ZADD", name + ":qt", std::to_string(now_ms + 4000), ghost}, Deadline::After(10s)).ok());
  ASSERT_TRUE(client().Command({"SET", name + ":qseq", "1"}, Deadline::After(10s)).ok());

  Result<LockGuard> blocked = services_[0]->TryAcquire(name, {.fair = true});
  EXPECT_FALSE(blocked.ok()) << "the lock is free but a live registration is queued ahead";
  Result<LockGuard> waited = services_[0]->Acquire(name, {.poll_interval = 50ms, .fair = true}, Deadline::After(120s));
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(LockGuardTestPeer::QueueTicket(*waited), 2) << "served from the queue, behind the ghost";
  EXPECT_EQ(QueueLength(client(), name), 0) << "the ghost was purged";
}

// ---- Fair mode across processes ------------------------------------------------------

constexpr const char* kFairKeyEnv = "LOCKSTEP_FAIR_KEY";
constexpr int kFairChildren = 3;
constexpr int kFairThreads = 4;
constexpr int kFairRounds = 15;

// Runs only as a child of FairCheckerTest: kFairThreads threads take the fair lock
// kFairRounds times each (hold ~1ms) and RPUSH "<fence> <ticket>" of every grant to
// "<key>:log"; exits non-zero if any acquire gave up.
TEST(FairChild, DISABLED_Worker) {
  const char* key_env = std::getenv(kFairKeyEnv);
  if (key_env == nullptr) GTEST_SKIP() << "child only";
  const std::string key = key_env;
  auto client = redis::Client::Open(lockstep::testing::RedisTestOptions(0));
  ASSERT_TRUE(client.ok()) << client.status();
  auto service = LockService::Create(**client, {.key_prefix = "", .release_channel = key + ":released"});
  ASSERT_TRUE(service.ok()) << service.status();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kFairThreads; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < kFairRounds; ++round) {
        Result<LockGuard> g =
            (*service)->Acquire(key, {.lease = 5s, .poll_interval = 200ms, .fair = true}, Deadline::After(120s));
        if (!g.ok()) {
          std::fprintf(stderr, "fair acquire failed: %s\n", g.status().ToString().c_str());
          failures.fetch_add(1);
          continue;
        }
        const std::string entry = std::to_string(g->fence()) + " " + std::to_string(LockGuardTestPeer::QueueTicket(*g));
        if (!(*client)->Command({"RPUSH", key + ":log", entry}, Deadline::After(10s)).ok()) failures.fetch_add(1);
        std::this_thread::sleep_for(1ms);
        if (!g->Release().ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
}

class FairCheckerTest : public lockstep::testing::RedisTest {};

// Three processes x four threads contend for one fair lock. Every grant made from the queue
// must be in ticket order (fence order = queue order), and no acquire may give up.
TEST_F(FairCheckerTest, GrantsFollowQueueOrderAcrossProcesses) {
  const std::string key = Key("lock");
  std::vector<pid_t> children;
  struct Reap {
    std::vector<pid_t>* pids;
    ~Reap() {
      for (pid_t p : *pids) {
        ::kill(p, SIGKILL);
        ::waitpid(p, nullptr, 0);
      }
    }
  } reap{&children};
  for (int c = 0; c < kFairChildren; ++c) {
    const pid_t child = lockstep::testing::SpawnSelf("FairChild.DISABLED_Worker", {std::string(kFairKeyEnv) + "=" + key});
    ASSERT_GT(child, 0);
    children.push_back(child);
  }
  for (pid_t& child : children) {
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    child = -1;
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "a child failed (an acquire gave up?)";
  }
  children.clear();

  Result<redis::Reply> log = client().Command({"LRANGE", key + ":log", "0", "-1"}, Deadline::After(10s));
  ASSERT_TRUE(log.ok() && log->is_array()) << log.status();
  std::vector<std::pair<int64_t, int64_t>> grants;  // (fence, ticket)
  for (const redis::Reply& e : log->array()) {
    const std::string& s = e.str();
    grants.emplace_back(std::stoll(s.substr(0, s.find(' '))), std::stoll(s.substr(s.find(' ') + 1)));
  }
  ASSERT_EQ(grants.size(), static_cast<size_t>(kFairChildren * kFairThreads * kFairRounds));
  std::sort(grants.begin(), grants.end());
  int64_t last_ticket = 0;
  int queued = 0;
  for (size_t i = 0; i < grants.size(); ++i) {
    if (i > 0) {
      ASSERT_LT(grants[i - 1].first, grants[i].first) << "fences are unique";
    }
    if (grants[i].second == 0) continue;  // Granted at once: the queue was empty.
    ++queued;
    EXPECT_GT(grants[i].second, last_ticket) << "grant with fence " << grants[i].first
                                             << " overtook a waiter queued before it";
    last_ticket = grants[i].second;
  }
  EXPECT_GT(queued, static_cast<int>(grants.size()) / 2) << "the run was contended";
}

}  // namespace
}  // namespace lockstep::lock
