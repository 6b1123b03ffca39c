#include "lockstep/redis/client.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_test.h"
#include "support/process_pause.h"
#include "support/test_env.h"

namespace lockstep::testing {
namespace {

using namespace std::chrono_literals;
using redis::Reply;

class ClientTest : public RedisTest {};

TEST_F(ClientTest, BinarySafeValuesRoundTrip) {
  const std::vector<std::string> values = {
      std::string("nul\0inside", 10), "crlf\r\nin\r\nthe middle\r\n", "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
      std::string("\0\0\0", 3), "", std::string(100'000, 'x') + std::string("\0end", 4)};
  for (size_t i = 0; i < values.size(); ++i) {
    // Keys are binary too.
    const std::string key = Key(std::string("bin\0key\r\n", 9) + std::to_string(i));
    ASSERT_TRUE(client().Set(key, values[i], Deadline::After(5s)).ok());
    Result<std::optional<std::string>> got = client().Get(key, Deadline::After(5s));
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ(**got, values[i]) << "value " << i;
  }
  Result<std::optional<std::string>> missing = client().Get(Key("missing"), Deadline::After(5s));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(ClientTest, PipelineKeepsReplyOrder) {
  const std::string key = Key("counter");
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 1000; ++i) {
    commands.push_back({"INCR", key});
    commands.push_back({"GET", key});
  }
  Result<std::vector<Result<Reply>>> replies = client().Pipeline(commands, Deadline::After(10s));
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 2000u);
  for (int i = 0; i < 1000; ++i) {
    const Result<Reply>& incr = (*replies)[2 * i];
    const Result<Reply>& get = (*replies)[2 * i + 1];
    ASSERT_TRUE(incr.ok() && get.ok());
    ASSERT_TRUE(incr->is_integer());
    EXPECT_EQ(incr->integer(), i + 1);
    ASSERT_TRUE(get->is_string());
    EXPECT_EQ(*get->AsInteger(), i + 1);
  }
}

TEST_F(ClientTest, PipelineErrorReplyStaysInItsSlot) {
  const std::string list = Key("list");
  const std::string counter = Key("n");
  Result<std::vector<Result<Reply>>> replies = client().Pipeline(
      {{"RPUSH", list, "a"}, {"INCR", list}, {"INCR", counter}, {"NOSUCHCOMMAND"}, {"INCR", counter}},
      Deadline::After(5s));
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 5u);
  EXPECT_TRUE((*replies)[0].ok());
  ASSERT_FALSE((*replies)[1].ok());
  EXPECT_EQ((*replies)[1].status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*replies)[1].status().reason(), "wrongtype");
  ASSERT_TRUE((*replies)[2].ok());
  EXPECT_EQ((*replies)[2]->integer(), 1);
  ASSERT_FALSE((*replies)[3].ok());
  EXPECT_EQ((*replies)[3].status().code(), StatusCode::kInternal);
  ASSERT_TRUE((*replies)[4].ok());
  EXPECT_EQ((*replies)[4]->integer(), 2);
  // The connection stays usable after error replies (they are not I/O errors).
  EXPECT_EQ(client().stats().discarded, 0u);
}

TEST_F(ClientTest, ErrorReplyBecomesClassifiedStatus) {
  ASSERT_TRUE(client().Set(Key("s"), "text", Deadline::After(5s)).ok());
  Result<int64_t> r = client().IncrBy(Key("s"), 1, Deadline::After(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);  // "ERR value is not an integer".
  Result<Reply> w = client().Command({"LPUSH", Key("s"), "x"}, Deadline::After(5s));
  EXPECT_EQ(w.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ClientTest, ConcurrentIncrementsGiveExactTotal) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  const std::string key = Key("total");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!client().IncrBy(key, 1, Deadline::After(30s)).ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  Result<std::optional<std::string>> total = client().Get(key, Deadline::After(5s));
  ASSERT_TRUE(total.ok() && total->has_value());
  EXPECT_EQ(**total, std::to_string(kThreads * kPerThread));
  const redis::ClientStats stats = client().stats();
  EXPECT_LE(stats.open, options().pool_size);
  EXPECT_EQ(stats.in_use, 0);
}

TEST_F(ClientTest, PoolWaitsForAFreeConnectionUntilTheDeadline) {
  redis::RedisOptions one = options();
  one.pool_size = 1;
  Result<std::unique_ptr<redis::Client>> small = redis::Client::Open(one);
  ASSERT_TRUE(small.ok());
  // Hold the only connection in a blocking pop; a second call must time out in the pool.
  std::thread holder([&] {
    Result<Reply> r = (*small)->Command({"BLPOP", Key("never"), "1"}, Deadline::After(10s));
    EXPECT_TRUE(r.ok()) << r.status();
  });
  // Await the holder actually owning the connection (no sleep as synchronisation).
  const Deadline until = Deadline::After(10s);
  while ((*small)->stats().in_use == 0 && !until.expired()) std::this_thread::yield();
  Result<Reply> waited = (*small)->Command({"PING"}, Deadline::After(50ms));
  holder.join();
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.status().code(), StatusCode::kDeadlineExceeded) << waited.status();
  // After the holder returned it, the connection is reused.
  EXPECT_TRUE((*small)->Ping(Deadline::After(5s)).ok());
  EXPECT_EQ((*small)->stats().connects, 1u);
}

TEST_F(ClientTest, RecoversAfterServerRestart) {
  ASSERT_TRUE(client().Set(Key("a"), "1", Deadline::After(5s)).ok());
  ASSERT_EQ(RunStackCommand("stop-redis 0"), 0);
  struct Restart {
    ~Restart() { RunStackCommand("start-redis 0"); }  // Idempotent; also on assertion failure.
  } restart;
  for (int i = 0; i < 3; ++i) {
    const auto budget = 5s;
    const auto start = std::chrono::steady_clock::now();
    Result<std::optional<std::string>> r = client().Get(Key("a"), Deadline::After(budget));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
    EXPECT_LT(elapsed, budget + 1s);  // Fails, does not hang (refused connect is immediate).
  }
  ASSERT_EQ(RunStackCommand("start-redis 0"), 0);
  // Pooled connections died with the old server; the next call reconnects by itself.
  EXPECT_TRUE(client().Set(Key("b"), "2", Deadline::After(5s)).ok());
  Result<std::optional<std::string>> b = client().Get(Key("b"), Deadline::After(5s));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->value_or(""), "2");
}

TEST_F(ClientTest, DeadlineAgainstStoppedServerAndRecovery) {
  const TestEnv env = TestEnv::FromEnvironment();
  std::ifstream pid_file(env.stack_dir + "/redis-0/redis.pid");
  pid_t pid = 0;
  ASSERT_TRUE(pid_file >> pid) << "no pid file under " << env.stack_dir;
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(client().Ping(Deadline::After(5s)).ok());  // One idle pooled connection.

  struct Continue {
    pid_t pid;
    ~Continue() { ::kill(pid, SIGCONT); }
  } resume{pid};
  ASSERT_TRUE(lockstep::testing::StopProcessAndAwait(pid)) << "redis-server did not stop";
  for (int i = 0; i < 2; ++i) {  // Pooled connection, then a fresh one (connect is accepted by the kernel).
    const auto budget = 300ms;
    const auto start = std::chrono::steady_clock::now();
    Result<int64_t> r = client().IncrBy(Key("paused"), 1, Deadline::After(budget));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().code() == StatusCode::kDeadlineExceeded ||
                r.status().code() == StatusCode::kUnavailable)
        << r.status();
    EXPECT_LT(elapsed, budget + 3s);  // Generous slack for a loaded machine; it must not hang.
  }
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  Result<int64_t> after = client().IncrBy(Key("paused"), 1, Deadline::After(10s));
  ASSERT_TRUE(after.ok()) << after.status();
  // The timed-out INCRs may have run once the server resumed (documented), so 1..3.
  EXPECT_GE(*after, 1);
  EXPECT_LE(*after, 3);
  EXPECT_GE(client().stats().discarded, 1u);
}

}  // namespace
}  // namespace lockstep::testing
