// The consistency races of cache-aside (seed text 003: a reader that loaded the old row
// writes it back after the writer's delete), replayed deterministically against a real
// Redis, with versioning on (the stale fill is refused) and off (the race is real).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "cache_test_util.h"
#include "lockstep/cache/cache.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/subscriber.h"

namespace lockstep::cache::testing {
namespace {

class CacheTest : public lockstep::testing::RedisTest {
 protected:
  // Value of `key` through `cache` with the db's loader.
  std::string ValueOf(ByteCache& cache, const std::string& key) {
    auto r = cache.Get(key, db_.LoaderFor(key), Deadline::After(kWaitBound));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || !r->found()) return "<not found>";
    return *r->value;
  }
  // Runs the race: `reader` loads `key` (old row) and pauses before its fill; meanwhile
  // the row is updated and `writer` invalidates it; then the fill runs. Returns what the
  // paused reader's Get returned.
  std::string RaceReaderAgainstWriter(ByteCache& reader, ByteCache& writer, FillGate& gate, const std::string& key) {
    gate.Arm(key);
    std::string seen;
    std::thread t([&] { seen = ValueOf(reader, key); });
    EXPECT_TRUE(gate.AwaitReached());
    db_.Put(key, "new");
    EXPECT_TRUE(writer.Invalidate(key, db_.Version(key), Deadline::After(kWaitBound)).ok());
    gate.Release();
    t.join();
    return seen;
  }

  FakeDb db_;
};

TEST_F(CacheTest, LoadsOnceThenServesFromL1AndL2) {
  auto cache = OpenCache(client(), TestCacheOptions(prefix()));
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->WaitBusHealthy(Deadline::After(kWaitBound)).ok());
  db_.Put("a", "v1");
  EXPECT_EQ(ValueOf(*cache, "a"), "v1");
  EXPECT_EQ(ValueOf(*cache, "a"), "v1");
  EXPECT_EQ(db_.loads(), 1);
  CacheStats s = cache->stats();
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.fills, 1u);
  EXPECT_EQ(s.l1_hits, 1u);
  // A second instance (no L1 entry yet) is served by L2.
  auto other = OpenCache(client(), TestCacheOptions(prefix()));
  EXPECT_EQ(ValueOf(*other, "a"), "v1");
  EXPECT_EQ(other->stats().l2_hits, 1u);
  EXPECT_EQ(db_.loads(), 1);
}

TEST_F(CacheTest, TypedCacheRoundTripsThroughTheCodec) {
  struct IntCodec {
    static std::string EncodeKey(int k) { return "n" + std::to_string(k); }
    static std::string Encode(const int& v) { return std::to_string(v); }
    static Result<int> Decode(std::string_view b) { return std::stoi(std::string(b)); }
  };
  Cache<int, int, IntCodec> ints(OpenCache(client(), TestCacheOptions(prefix())));
  int loads = 0;
  auto loader = [&](const Deadline&) -> Result<Versioned<int>> {
    ++loads;
    return Versioned<int>::Of(42, 3);
  };
  for (int i = 0; i < 3; ++i) {
    auto r = ints.Get(7, loader, Deadline::After(kWaitBound));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r->value, 42);
    EXPECT_EQ(r->version, 3);
  }
  EXPECT_EQ(loads, 1);
  EXPECT_TRUE(ints.Invalidate(7, 4, Deadline::After(kWaitBound)).ok());
  ASSERT_TRUE(ints.Get(7, loader, Deadline::After(kWaitBound)).ok());
  EXPECT_EQ(loads, 2);
}

// The race, versioned: the paused reader's fill is refused and nobody sees "old" after
// the writer's invalidation returned.
TEST_F(CacheTest, StaleFillAfterInvalidationIsRefused) {
  FillGate gate;
  auto reader = OpenCache(client(), TestCacheOptions(prefix()), gate.Observer());
  auto writer = OpenCache(client(), TestCacheOptions(prefix()));
  ASSERT_TRUE(reader && writer);
  db_.Put("p", "old");
  EXPECT_EQ(RaceReaderAgainstWriter(*reader, *writer, gate, "p"), "old");  // Began before the write.
  EXPECT_EQ(reader->stats().stale_fills_refused, 1u);
  EXPECT_EQ(ValueOf(*reader, "p"), "new");
  EXPECT_EQ(ValueOf(*writer, "p"), "new");
  auto third = OpenCache(client(), TestCacheOptions(prefix()));
  EXPECT_EQ(ValueOf(*third, "p"), "new");
}

// The same schedule with versioning off (classic cache-aside: fill overwrites, invalidate
// deletes) leaves the old value in the cache: the race is real.
TEST_F(CacheTest, WithoutVersioningTheSameRaceServesTheOldValue) {
  CacheOptions o = TestCacheOptions(prefix());
  o.versioned_fills = false;
  FillGate gate;
  auto reader = OpenCache(client(), o, gate.Observer());
  auto writer = OpenCache(client(), o);
  ASSERT_TRUE(reader && writer);
  db_.Put("p", "old");
  EXPECT_EQ(RaceReaderAgainstWriter(*reader, *writer, gate, "p"), "old");
  auto third = OpenCache(client(), o);
  EXPECT_EQ(ValueOf(*third, "p"), "old") << "the stale fill should have won without versioning";
  EXPECT_EQ(reader->stats().stale_fills_refused, 0u);
}

// A reader paused for longer than T: the tombstone has expired, yet the fill is refused
// because its load started more than T ago (Redis TIME).
TEST_F(CacheTest, FillOfALoadOlderThanTombstoneTtlIsRefused) {
  CacheOptions o = TestCacheOptions(prefix());
  o.tombstone_ttl = 300ms;
  o.loader_budget = 100ms;
  o.negative_ttl = 300ms;
  FillGate gate;
  auto reader = OpenCache(client(), o, gate.Observer());
  auto writer = OpenCache(client(), o);
  db_.Put("p", "old");
  gate.Arm("p");
  std::thread t([&] { (void)ValueOf(*reader, "p"); });
  ASSERT_TRUE(gate.AwaitReached());
  db_.Put("p", "new");
  ASSERT_TRUE(writer->Invalidate("p", db_.Version("p"), Deadline::After(kWaitBound)).ok());
  std::this_thread::sleep_for(600ms);  // > T: the tombstone is gone from Redis.
  auto gone = client().Command({"EXISTS", prefix() + "c:p"}, Deadline::After(kWaitBound));
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->integer(), 0);
  gate.Release();
  t.join();
  EXPECT_EQ(reader->stats().old_fills_refused, 1u);
  EXPECT_EQ(ValueOf(*writer, "p"), "new");
}

// Delayed double delete. Without versioning it is the seed's remedy: the stale fill wins
// for a while and the second delete removes it. With versioning the second delete
// rewrites the tombstone (a stale fill could not land in the first place).
TEST_F(CacheTest, DelayedSecondDeleteRemovesAStaleFillWithoutVersioning) {
  CacheOptions o = TestCacheOptions(prefix());
  o.versioned_fills = false;
  o.second_delete_delay = 1000ms;
  FillGate gate;
  auto reader = OpenCache(client(), o, gate.Observer());
  auto writer = OpenCache(client(), o);
  db_.Put("p", "old");
  EXPECT_EQ(RaceReaderAgainstWriter(*reader, *writer, gate, "p"), "old");
  auto probe = OpenCache(client(), [&] {
    CacheOptions p = o;
    p.l1_enabled = false;
    p.second_delete_delay = 0ms;
    return p;
  }());
  EXPECT_EQ(ValueOf(*probe, "p"), "old");  // The window the second delete closes.
  const Deadline d = Deadline::After(kWaitBound);
  while (ValueOf(*probe, "p") != "new" && !d.expired()) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(ValueOf(*probe, "p"), "new");
}

TEST_F(CacheTest, DelayedSecondDeleteRewritesTheTombstone) {
  CacheOptions o = TestCacheOptions(prefix());
  o.second_delete_delay = 200ms;
  auto cache = OpenCache(client(), o);
  ASSERT_TRUE(cache->Invalidate("p", 5, Deadline::After(kWaitBound)).ok());
  auto first = client().Command({"HMGET", prefix() + "c:p", "k", "v", "ts"}, Deadline::After(kWaitBound));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->array().at(0).str(), "x");
  EXPECT_EQ(first->array().at(1).str(), "5");
  const std::string ts = first->array().at(2).str();
  const Deadline d = Deadline::After(kWaitBound);
  std::string now_ts = ts;
  while (now_ts == ts && !d.expired()) {
    std::this_thread::sleep_for(20ms);
    auto again = client().Command({"HMGET", prefix() + "c:p", "k", "v", "ts"}, Deadline::After(kWaitBound));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->array().at(0).str(), "x");
    now_ts = again->array().at(2).str();
  }
  EXPECT_NE(now_ts, ts);
}

// A cached not-found cannot hide a row created later: the create writes a tombstone with
// the new row's version; a paused not-found fill is refused.
TEST_F(CacheTest, CachedNotFoundThenCreate) {
  FillGate gate;
  auto reader = OpenCache(client(), TestCacheOptions(prefix()), gate.Observer());
  auto writer = OpenCache(client(), TestCacheOptions(prefix()));
  EXPECT_EQ(ValueOf(*reader, "n"), "<not found>");
  EXPECT_EQ(ValueOf(*reader, "n"), "<not found>");
  EXPECT_EQ(db_.loads(), 1);  // The not-found is cached.
  db_.Put("n", "created");
  ASSERT_TRUE(writer->Invalidate("n", db_.Version("n"), Deadline::After(kWaitBound)).ok());
  // At once on every instance: not-founds live only in L2, where the tombstone already is.
  EXPECT_EQ(ValueOf(*reader, "n"), "created");
  EXPECT_EQ(ValueOf(*writer, "n"), "created");

  // Racing: a not-found read before the create, filled after it.
  gate.Arm("m");
  std::string seen;
  std::thread t([&] { seen = ValueOf(*reader, "m"); });
  ASSERT_TRUE(gate.AwaitReached());
  db_.Put("m", "created");
  ASSERT_TRUE(writer->Invalidate("m", db_.Version("m"), Deadline::After(kWaitBound)).ok());
  gate.Release();
  t.join();
  EXPECT_EQ(seen, "<not found>");
  EXPECT_EQ(reader->stats().stale_fills_refused, 1u);
  EXPECT_EQ(ValueOf(*reader, "m"), "created");
}

// An invalidation with an unknown version refuses fills of loads that started before it.
TEST_F(CacheTest, UnknownVersionInvalidationUsesLoadStartTime) {
  FillGate gate;
  auto reader = OpenCache(client(), TestCacheOptions(prefix()), gate.Observer());
  auto writer = OpenCache(client(), TestCacheOptions(prefix()));
  db_.Put("u", "old");
  gate.Arm("u");
  std::thread t([&] { (void)ValueOf(*reader, "u"); });
  ASSERT_TRUE(gate.AwaitReached());
  db_.Put("u", "new");
  ASSERT_TRUE(writer->Invalidate("u", kUnknownVersion, Deadline::After(kWaitBound)).ok());
  gate.Release();
  t.join();
  EXPECT_EQ(reader->stats().stale_fills_refused, 1u);
  EXPECT_EQ(ValueOf(*reader, "u"), "new");
  EXPECT_EQ(ValueOf(*reader, "u"), "new");
}

// After Invalidate returns on this instance, no Get here returns the old value, even one
// that joins a load that was already in flight (it is detached).
TEST_F(CacheTest, InvalidateDetachesTheInFlightLoad) {
  FillGate gate;
  auto cache = OpenCache(client(), TestCacheOptions(prefix()), gate.Observer());
  db_.Put("d", "old");
  gate.Arm("d");
  std::thread t([&] { EXPECT_EQ(ValueOf(*cache, "d"), "old"); });
  ASSERT_TRUE(gate.AwaitReached());
  db_.Put("d", "new");
  ASSERT_TRUE(cache->Invalidate("d", db_.Version("d"), Deadline::After(kWaitBound)).ok());
  EXPECT_EQ(ValueOf(*cache, "d"), "new");  // Does not wait for (or share) the paused load.
  gate.Release();
  t.join();
  EXPECT_EQ(ValueOf(*cache, "d"), "new");
}

// Another instance's invalidation reaches this instance's L1 over the bus.
TEST_F(CacheTest, InvalidationReachesOtherInstancesL1) {
  auto a = OpenCache(client(), TestCacheOptions(prefix()));
  auto b = OpenCache(client(), TestCacheOptions(prefix()));
  ASSERT_TRUE(a->WaitBusHealthy(Deadline::After(kWaitBound)).ok());
  db_.Put("x", "v1");
  EXPECT_EQ(ValueOf(*a, "x"), "v1");
  EXPECT_EQ(ValueOf(*a, "x"), "v1");
  ASSERT_GE(a->stats().l1_hits, 1u);
  db_.Put("x", "v2");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(b->Invalidate("x", db_.Version("x"), Deadline::After(kWaitBound)).ok());
  const Deadline d = Deadline::After(kWaitBound);
  while (ValueOf(*a, "x") != "v2" && !d.expired()) std::this_thread::yield();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ValueOf(*a, "x"), "v2");
  EXPECT_GE(a->stats().bus_messages, 1u);
  RecordProperty("converged_us", std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  std::printf("other instance converged in %lld us\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
}

// InvalidateMany: the same effect per key as Invalidate (every instance's L1 and L2 drop
// the old value, a paused fill of the old row is refused), for 1,200 keys in three
// pipelines; a repeated key and an unknown version included.
TEST_F(CacheTest, InvalidateManyActsAsInvalidateForEveryKey) {
  FillGate gate;
  auto a = OpenCache(client(), TestCacheOptions(prefix()), gate.Observer());
  auto b = OpenCache(client(), TestCacheOptions(prefix()));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->WaitBusHealthy(Deadline::After(kWaitBound)).ok());
  constexpr int kKeys = 1'200;
  for (int i = 0; i < kKeys; ++i) db_.Put("k" + std::to_string(i), "old");
  for (int i = 0; i < kKeys; i += 100) EXPECT_EQ(ValueOf(*a, "k" + std::to_string(i)), "old");  // L1 + L2.
  // A fill of key "racer" that read the old row waits at the gate during the invalidation.
  db_.Put("racer", "old");
  gate.Arm("racer");
  std::string raced;
  std::thread t([&] { raced = ValueOf(*a, "racer"); });
  ASSERT_TRUE(gate.AwaitReached());
  std::vector<ByteCache::Invalidation> items;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "k" + std::to_string(i);
    db_.Put(key, "new");
    items.push_back({key, i % 2 == 0 ? db_.Version(key) : kUnknownVersion});
  }
  items.push_back(items.front());  // A key twice.
  db_.Put("racer", "new");
  items.push_back({"racer", db_.Version("racer")});
  ASSERT_TRUE(b->InvalidateMany(items, Deadline::After(kWaitBound)).ok());
  gate.Release();
  t.join();
  EXPECT_EQ(raced, "old");  // Its load began before the write.
  EXPECT_EQ(a->stats().stale_fills_refused, 1u);
  EXPECT_EQ(ValueOf(*a, "racer"), "new");
  // Instance a's L1 converges through the bus; L2 (a third instance) at once.
  auto c = OpenCache(client(), TestCacheOptions(prefix()));
  for (int i = 0; i < kKeys; i += 100) {
    const std::string key = "k" + std::to_string(i);
    EXPECT_EQ(ValueOf(*c, key), "new") << key;
    const Deadline d = Deadline::After(kWaitBound);
    while (ValueOf(*a, key) != "new" && !d.expired()) std::this_thread::yield();
    EXPECT_EQ(ValueOf(*a, key), "new") << key;
  }
  EXPECT_EQ(b->stats().invalidations, static_cast<uint64_t>(kKeys + 2));
  // An out-of-range version refuses the whole call before anything is done.
  std::vector<ByteCache::Invalidation> bad = {{"k1", 5}, {"k2", -7}};
  EXPECT_EQ(b->InvalidateMany(bad, Deadline::After(kWaitBound)).code(), StatusCode::kInvalidArgument);
}

// Heartbeats go to a channel of the sending instance only, never over the shared bus: a
// watcher on the bus sees invalidations and no heartbeat, while its pattern subscription
// sees the heartbeats arrive on their own channel (so some were sent while it watched).
TEST_F(CacheTest, HeartbeatsStayOffTheSharedBus) {
  const CacheOptions options = TestCacheOptions(prefix());
  const std::string bus = options.key_prefix + options.name + ":~bus";
  Mutex mu;
  CondVar cv;
  std::vector<redis::Message> seen;  // Guarded by mu.
  redis::SubscriberOptions so;
  so.redis = client().options();
  so.on_message = [&](const redis::Message& m) {
    MutexLock lock(&mu);
    seen.push_back(m);
    cv.SignalAll();
  };
  auto watcher = redis::Subscriber::Open(std::move(so));
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_TRUE((*watcher)->Subscribe(bus).ok());
  ASSERT_TRUE((*watcher)->PSubscribe(bus + ":*").ok());
  ASSERT_TRUE((*watcher)->WaitSubscribed(Deadline::After(kWaitBound)).ok());

  auto cache = OpenCache(client(), options);
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->WaitBusHealthy(Deadline::After(kWaitBound)).ok());
  auto count = [&](auto pred) {
    MutexLock lock(&mu);
    return std::count_if(seen.begin(), seen.end(), pred);
  };
  auto is_heartbeat = [](const redis::Message& m) { return m.payload.rfind("h ", 0) == 0; };
  auto await = [&](auto pred) {
    const Deadline d = Deadline::After(kWaitBound);
    MutexLock lock(&mu);
    while (std::none_of(seen.begin(), seen.end(), pred) && cv.WaitUntil(&mu, d)) {
    }
    return std::any_of(seen.begin(), seen.end(), pred);
  };
  ASSERT_TRUE(await([&](const redis::Message& m) { return is_heartbeat(m) && !m.pattern.empty(); }));
  ASSERT_TRUE(cache->Invalidate("k", 1, Deadline::After(kWaitBound)).ok());
  ASSERT_TRUE(await([&](const redis::Message& m) { return m.channel == bus && m.payload == "i 1 k"; }));
  EXPECT_EQ(count([&](const redis::Message& m) { return m.channel == bus && is_heartbeat(m); }), 0);
  EXPECT_EQ(count([&](const redis::Message& m) { return m.channel != bus && !is_heartbeat(m); }), 0);
}

// Stampede: 500 concurrent Gets of a cold key -> exactly one loader call.
TEST_F(CacheTest, StampedeOfAColdKeyLoadsOnce) {
  auto cache = OpenCache(client(), TestCacheOptions(prefix()));
  db_.Put("hot", "v");
  std::atomic<int> loader_calls{0};
  auto slow_loader = [&](const Deadline&) -> Result<Versioned<std::string>> {
    loader_calls.fetch_add(1);
    std::this_thread::sleep_for(200ms);  // Keeps the load in flight while the crowd arrives.
    return db_.Load("hot");
  };
  constexpr int kCallers = 500;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  threads.reserve(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&] {
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      auto r = cache->Get("hot", slow_loader, Deadline::After(kWaitBound));
      if (r.ok() && r->found() && *r->value == "v") ok.fetch_add(1);
    });
  }
  while (ready.load() < kCallers) std::this_thread::yield();
  go.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kCallers);
  EXPECT_EQ(loader_calls.load(), 1);
  const CacheStats s = cache->stats();
  std::printf("stampede: loads=%llu shared=%llu l2_hits=%llu l1_hits=%llu\n",
              static_cast<unsigned long long>(s.loads), static_cast<unsigned long long>(s.shared_loads),
              static_cast<unsigned long long>(s.l2_hits), static_cast<unsigned long long>(s.l1_hits));
}

// Waiters share the leader's error; the error is not cached.
TEST_F(CacheTest, WaitersShareTheLoadErrorAndItIsNotCached) {
  auto cache = OpenCache(client(), TestCacheOptions(prefix()));
  std::atomic<int> calls{0};
  std::atomic<int> arrived{0};
  auto failing = [&](const Deadline&) -> Result<Versioned<std::string>> {
    calls.fetch_add(1);
    // The first load stays in flight until every caller is on its way into Get (bounded),
    // so on a loaded machine the callers still overlap it instead of arriving one by one.
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (arrived.load() < 20 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);
    return Status::Unavailable("db down");
  };
  std::vector<std::thread> threads;
  std::atomic<int> unavailable{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      arrived.fetch_add(1);
      auto r = cache->Get("e", failing, Deadline::After(kWaitBound));
      if (!r.ok() && r.status().code() == StatusCode::kUnavailable) unavailable.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unavailable.load(), 20);
  EXPECT_LT(calls.load(), 20);
  db_.Put("e", "fine");
  EXPECT_EQ(ValueOf(*cache, "e"), "fine");
}

// Penetration: 10,000 Gets of random missing ids -> loader calls bounded by the number of
// distinct ids (not-found is cached).
TEST_F(CacheTest, MissingIdsAreLoadedAtMostOnceEach) {
  CacheOptions o = TestCacheOptions(prefix());
  o.negative_ttl = 120s;  // Outlives the test on a slow (TSan) run.
  auto cache = OpenCache(client(), o);
  constexpr int kGets = 10'000;
  constexpr int kThreads = 8;
  std::vector<std::set<int>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::uniform_int_distribution<int> id(1, 2'000);
      for (int i = 0; i < kGets / kThreads; ++i) {
        const int k = id(rng);
        seen[static_cast<size_t>(t)].insert(k);
        const std::string key = "missing:" + std::to_string(k);
        auto r = cache->Get(key, db_.LoaderFor(key), Deadline::After(kWaitBound));
        ASSERT_TRUE(r.ok()) << r.status();
        ASSERT_FALSE(r->found());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int> distinct;
  for (const auto& s : seen) distinct.insert(s.begin(), s.end());
  EXPECT_LE(db_.loads(), static_cast<int>(distinct.size()));
  std::printf("penetration: %d gets, %zu distinct ids, %d loader calls\n", kGets, distinct.size(), db_.loads());
}

// Penetration with the Bloom filter: once it is marked ready, keys it never saw read as
// not-found without a load; keys added to it (before their create returns) load normally.
TEST_F(CacheTest, BloomFilterAnswersNeverCreatedKeysWithoutALoad) {
  CacheOptions o = TestCacheOptions(prefix());
  o.bloom_bits = uint64_t{1} << 20;
  auto cache = OpenCache(client(), o);
  ASSERT_NE(cache, nullptr);
  for (int i = 0; i < 100; ++i) {
    const std::string key = "exists:" + std::to_string(i);
    db_.Put(key, "v" + std::to_string(i));
    ASSERT_TRUE(cache->BloomAdd(key, Deadline::After(kWaitBound)).ok());
  }
  // Not ready yet: the filter is not consulted.
  EXPECT_EQ(ValueOf(*cache, "missing:0"), "<not found>");
  EXPECT_EQ(db_.loads(), 1);
  ASSERT_TRUE(cache->BloomMarkReady(Deadline::After(kWaitBound)).ok());

  std::mt19937 rng(7);
  std::uniform_int_distribution<int> id(1, 2'000);
  std::set<int> distinct;
  for (int i = 0; i < 10'000; ++i) {
    const int k = id(rng);
    distinct.insert(k);
    EXPECT_EQ(ValueOf(*cache, "missing:" + std::to_string(k)), "<not found>");
  }
  const int missing_loads = db_.loads() - 1;
  std::printf("bloom: %d gets of %zu distinct missing ids, %d loader calls, %llu rejected by the filter\n", 10'000,
              distinct.size(), missing_loads, static_cast<unsigned long long>(cache->stats().bloom_rejections));
  EXPECT_LE(missing_loads, 2);  // False positives only (~0 at 100 keys in 2^20 bits).
  EXPECT_EQ(ValueOf(*cache, "exists:42"), "v42");

  // A create: add to the filter, then invalidate, then it is visible.
  db_.Put("created", "c");
  ASSERT_TRUE(cache->BloomAdd("created", Deadline::After(kWaitBound)).ok());
  ASSERT_TRUE(cache->Invalidate("created", db_.Version("created"), Deadline::After(kWaitBound)).ok());
  EXPECT_EQ(ValueOf(*cache, "created"), "c");

  auto plain = OpenCache(client(), TestCacheOptions(prefix()));
  EXPECT_EQ(plain->BloomAdd("x", Deadline::After(kWaitBound)).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace lockstep::cache::testing
