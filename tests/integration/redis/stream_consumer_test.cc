#include "lockstep/redis/stream_consumer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "lockstep/base/mutex.h"
#include "lockstep/redis/streams.h"
#include "support/redis_test.h"

namespace lockstep::testing {
namespace {

using namespace std::chrono_literals;
using redis::StreamConsumer;
using redis::StreamConsumerOptions;
using redis::StreamEntry;

// Generous bound for awaited conditions (a loaded 2-core CI machine never gets near it).
constexpr auto kWaitBound = 60s;

// What handlers saw, by entry id, with a condition to await on.
class Seen {
 public:
  void Add(const std::string& id) {
    MutexLock lock(&mu_);
    ++count_[id];
    cv_.SignalAll();
  }
  // Waits until `pred(count_)` holds; false after kWaitBound.
  bool Await(const std::function<bool(const std::map<std::string, int>&)>& pred) {
    const Deadline d = Deadline::After(kWaitBound);
    MutexLock lock(&mu_);
    while (!pred(count_)) {
      if (!cv_.WaitUntil(&mu_, d) && !pred(count_)) return false;
    }
    return true;
  }
  std::map<std::string, int> counts() {
    MutexLock lock(&mu_);
    return count_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::map<std::string, int> count_ LOCKSTEP_GUARDED_BY(mu_);
};

class StreamConsumerTest : public RedisTest {
 protected:
  StreamConsumerOptions Options(const std::string& consumer) {
    StreamConsumerOptions o;
    o.stream = Key("orders");
    o.group = "persister";
    o.consumer = consumer;
    o.batch_size = 16;
    o.block = 50ms;
    o.claim_interval = 50ms;
    o.trim_interval = 0ms;
    o.retry_backoff = {.initial = 5ms, .max = 50ms};
    return o;
  }
  std::vector<std::string> AddEntries(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      Result<std::string> id = redis::XAdd(client(), Key("orders"), {{"n", std::to_string(i)}}, Deadline::After(5s));
      EXPECT_TRUE(id.ok()) << id.status();
      if (id.ok()) ids.push_back(*id);
    }
    return ids;
  }
  int64_t PendingCount() {
    Result<redis::PendingSummary> p = redis::XPendingSummary(client(), Key("orders"), "persister", Deadline::After(5s));
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? p->count : -1;
  }
  // Awaits `cond` re-evaluated after each stats change of `c` is impossible to observe
  // directly; the Redis state is polled instead, with a yield-free bounded wait per round.
  bool AwaitPendingCount(int64_t n) {
    const Deadline d = Deadline::After(kWaitBound);
    while (!d.expired()) {
      if (PendingCount() == n) return true;
      Clock::Real().SleepFor(10ms);  // Polling a server-side condition, not synchronising threads.
    }
    return false;
  }
};

TEST_F(StreamConsumerTest, ProcessesEachEntryOnceAndAcksIt) {
  ASSERT_TRUE(redis::XGroupCreate(client(), Key("orders"), "persister", "0", true, Deadline::After(5s)).ok());
  std::vector<std::string> ids = AddEntries(40);
  Seen seen;
  auto consumer = StreamConsumer::Start(client(), Options("c1"),
                                        [&](std::vector<StreamEntry>& entries, std::vector<Status>&) {
                                          for (const StreamEntry& e : entries) seen.Add(e.id);
                                          return Status::Ok();
                                        });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ids.push_back(AddEntries(1).at(0));  // One more while the loop runs.
  ASSERT_TRUE(seen.Await([&](const auto& c) { return c.size() == ids.size(); }));
  ASSERT_TRUE(AwaitPendingCount(0));
  (*consumer)->Stop();
  std::map<std::string, int> counts = seen.counts();
  for (const std::string& id : ids) EXPECT_EQ(counts[id], 1) << id;
  EXPECT_EQ((*consumer)->stats().entries_acked, ids.size());
  EXPECT_EQ(PendingCount(), 0);
}

TEST_F(StreamConsumerTest, FailedEntriesStayPendingAndAreRedelivered) {
  std::vector<std::string> ids = AddEntries(6);  // Group created by Start (MKSTREAM, from 0).
  Seen seen;
  Mutex mu;
  int whole_batch_failures_left = 1;  // Guarded by mu.
  int errors_reported = 0;            // Guarded by mu.
  StreamConsumerOptions options = Options("c1");
  options.on_error = [&](const Status&) {
    MutexLock lock(&mu);
    ++errors_reported;
  };
  auto consumer = StreamConsumer::Start(client(), options,
                                        [&](std::vector<StreamEntry>& entries, std::vector<Status>& per_entry) {
                                          for (const StreamEntry& e : entries) seen.Add(e.id);
                                          {
                                            MutexLock lock(&mu);
                                            if (whole_batch_failures_left > 0) {
                                              --whole_batch_failures_left;
                                              return Status::Unavailable("db down");
                                            }
                                          }
                                          // Entry 2 fails once more on its own.
                                          for (std::size_t i = 0; i < entries.size(); ++i) {
                                            if (entries[i].id == ids[2] && seen.counts()[ids[2]] < 3) {
                                              per_entry[i] = Status::Aborted("deadlock");
                                            }
                                          }
                                          return Status::Ok();
                                        });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE(seen.Await([&](const auto& c) {
    auto it = c.find(ids[2]);
    return c.size() == ids.size() && it != c.end() && it->second >= 3;
  }));
  ASSERT_TRUE(AwaitPendingCount(0));
  (*consumer)->Stop();
  std::map<std::string, int> counts = seen.counts();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    // The first batch failed as a whole: everything in it came again.
    EXPECT_GE(counts[ids[i]], 2) << i;
  }
  EXPECT_EQ(counts[ids[2]], 3);
  const redis::StreamConsumerStats stats = (*consumer)->stats();
  EXPECT_EQ(stats.entries_acked, ids.size());
  EXPECT_GE(stats.handler_failures, ids.size() + 1);
  MutexLock lock(&mu);
  EXPECT_GE(errors_reported, 2);
}

TEST_F(StreamConsumerTest, DeadConsumersEntriesAreReclaimed) {
  ASSERT_TRUE(redis::XGroupCreate(client(), Key("orders"), "persister", "0", true, Deadline::After(5s)).ok());
  std::vector<std::string> ids = AddEntries(5);
  // "dead" reads them and never acks (a crashed process).
  Result<std::vector<StreamEntry>> taken =
      redis::XReadGroup(client(), "persister", "dead", Key("orders"), 100, 0ms, Deadline::After(5s));
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), ids.size());
  ASSERT_EQ(PendingCount(), 5);

  Seen seen;
  StreamConsumerOptions options = Options("alive");
  options.claim_idle = 200ms;
  auto consumer = StreamConsumer::Start(client(), options,
                                        [&](std::vector<StreamEntry>& entries, std::vector<Status>&) {
                                          for (const StreamEntry& e : entries) seen.Add(e.id);
                                          return Status::Ok();
                                        });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE(seen.Await([&](const auto& c) { return c.size() == ids.size(); }));
  ASSERT_TRUE(AwaitPendingCount(0));
  (*consumer)->Stop();
  EXPECT_EQ((*consumer)->stats().entries_claimed, ids.size());
  for (auto& [id, n] : seen.counts()) EXPECT_EQ(n, 1) << id;
}

TEST_F(StreamConsumerTest, StoppedConsumerLeavesUnackedEntriesForAnother) {
  std::vector<std::string> ids = AddEntries(3);
  Seen first_seen;
  StreamConsumerOptions options = Options("first");
  auto first = StreamConsumer::Start(client(), options,
                                     [&](std::vector<StreamEntry>& entries, std::vector<Status>&) {
                                       for (const StreamEntry& e : entries) first_seen.Add(e.id);
                                       return Status::Unavailable("crashing before commit");
                                     });
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first_seen.Await([&](const auto& c) { return c.size() == ids.size(); }));
  (*first)->Stop();  // "Dies" with its entries pending.
  EXPECT_EQ(PendingCount(), 3);

  Seen second_seen;
  StreamConsumerOptions second_options = Options("second");
  second_options.claim_idle = 200ms;
  auto second = StreamConsumer::Start(client(), second_options,
                                      [&](std::vector<StreamEntry>& entries, std::vector<Status>&) {
                                        for (const StreamEntry& e : entries) second_seen.Add(e.id);
                                        return Status::Ok();
                                      });
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(second_seen.Await([&](const auto& c) { return c.size() == ids.size(); }));
  ASSERT_TRUE(AwaitPendingCount(0));
  (*second)->Stop();
}

// Consumer "alive" of the test's group, trimming every 20 ms, recording what it handles
// (claim_idle long: nobody else's pending entries are taken).
Result<std::unique_ptr<StreamConsumer>> StartTrimmingConsumerOn(redis::Client& client, StreamConsumerOptions options,
                                                                 Seen& seen) {
  options.claim_idle = std::chrono::hours(1);
  options.trim_interval = 20ms;
  return StreamConsumer::Start(client, options, [&seen](std::vector<StreamEntry>& entries, std::vector<Status>&) {
    for (const StreamEntry& e : entries) seen.Add(e.id);
    return Status::Ok();
  });
}

// Polls XLEN until the stream holds at most one entry (a trim left only the newest) or
// kWaitBound passed; returns the last length (-1 on error).
int64_t AwaitLengthAtMostOne(redis::Client& client, const std::string& stream) {
  const Deadline d = Deadline::After(kWaitBound);
  while (true) {
    Result<int64_t> len = redis::XLen(client, stream, Deadline::After(5s));
    if (!len.ok()) return -1;
    if (*len <= 1 || d.expired()) return *len;
    Clock::Real().SleepFor(10ms);  // Polling a server-side condition.
  }
}

// Awaits two trims after now: one of them ran after everything handled so far was acked.
bool AwaitTwoMoreTrims(const StreamConsumer& consumer) {
  const uint64_t before = consumer.stats().trims;
  const Deadline d = Deadline::After(kWaitBound);
  while (consumer.stats().trims < before + 2 && !d.expired()) Clock::Real().SleepFor(5ms);
  return consumer.stats().trims >= before + 2;
}

TEST_F(StreamConsumerTest, TrimmingNeverRemovesPendingEntries) {
  ASSERT_TRUE(redis::XGroupCreate(client(), Key("orders"), "persister", "0", true, Deadline::After(5s)).ok());
  std::vector<std::string> ids = AddEntries(10);
  // "dead" holds the first 4 pending; claim_idle is long so nobody reclaims them here.
  Result<std::vector<StreamEntry>> taken =
      redis::XReadGroup(client(), "persister", "dead", Key("orders"), 4, 0ms, Deadline::After(5s));
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 4u);

  Seen seen;
  auto consumer = StartTrimmingConsumerOn(client(), Options("alive"), seen);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE(seen.Await([&](const auto& c) { return c.size() == 6u; }));
  // Await a trim that ran after everything of "alive" was acked.
  ASSERT_TRUE(AwaitTwoMoreTrims(**consumer));
  EXPECT_EQ(PendingCount(), 4);
  // The pending entries are intact (a trimmed one would come back with no fields).
  Result<std::vector<StreamEntry>> again =
      redis::XReadGroup(client(), "persister", "dead", Key("orders"), 100, 0ms, Deadline::After(5s), "0");
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*again)[i].id, ids[i]);
    EXPECT_FALSE((*again)[i].fields.empty()) << "pending entry " << ids[i] << " was trimmed";
  }
  // The tail after the oldest pending entry is kept too (trimming is MINID, not MAXLEN).
  Result<int64_t> len = redis::XLen(client(), Key("orders"), Deadline::After(5s));
  ASSERT_TRUE(len.ok());
  EXPECT_EQ(*len, 10);

  // Once "dead"'s entries are acked, trimming removes everything below the last ack.
  ASSERT_TRUE(redis::XAck(client(), Key("orders"), "persister",
                          {ids[0], ids[1], ids[2], ids[3]}, Deadline::After(5s)).ok());
  EXPECT_LE(AwaitLengthAtMostOne(client(), Key("orders")), 1);
  (*consumer)->Stop();
}

// Another consumer group on the same stream (e.g. the outbox relay beside the cache
// invalidator on a CDC stream): trimming keeps what that group has not read yet.
TEST_F(StreamConsumerTest, TrimmingKeepsWhatAnotherGroupHasNotRead) {
  ASSERT_TRUE(redis::XGroupCreate(client(), Key("orders"), "other", "0", true, Deadline::After(5s)).ok());
  std::vector<std::string> ids = AddEntries(10);
  // "other" read (and acked) the first 3 only.
  Result<std::vector<StreamEntry>> read =
      redis::XReadGroup(client(), "other", "o1", Key("orders"), 3, 0ms, Deadline::After(5s));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 3u);
  ASSERT_TRUE(redis::XAck(client(), Key("orders"), "other", {ids[0], ids[1], ids[2]}, Deadline::After(5s)).ok());

  Seen seen;
  auto consumer = StartTrimmingConsumerOn(client(), Options("alive"), seen);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE(seen.Await([&](const auto& c) { return c.size() == 10u; }));
  ASSERT_TRUE(AwaitTwoMoreTrims(**consumer));
  // Everything "other" has not read is still there (MINID = its last-delivered id).
  Result<int64_t> len = redis::XLen(client(), Key("orders"), Deadline::After(5s));
  ASSERT_TRUE(len.ok());
  EXPECT_GE(*len, 7);
  Result<std::vector<StreamEntry>> rest =
      redis::XReadGroup(client(), "other", "o1", Key("orders"), 100, 0ms, Deadline::After(5s));
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->size(), 7u);
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ((*rest)[i].id, ids[i + 3]);
  // Once "other" acked everything, the stream shrinks to (at most) the newest entry.
  std::vector<std::string> rest_ids;
  for (const StreamEntry& e : *rest) rest_ids.push_back(e.id);
  ASSERT_TRUE(redis::XAck(client(), Key("orders"), "other", rest_ids, Deadline::After(5s)).ok());
  EXPECT_LE(AwaitLengthAtMostOne(client(), Key("orders")), 1);
  (*consumer)->Stop();
}

}  // namespace
}  // namespace lockstep::testing
