// lockstep::cache Get on an L1 hit, an L2 hit (L1 off) and a load (every Get misses: the
// key is invalidated first, so each iteration is L2 read + loader + L2 fill). The loader is
// an in-memory function, so "load" measures the cache's own Redis round trips (the fill
// is a write: with appendfsync always it includes an fsync). Needs a
// running Redis: port from LOCKSTEP_REDIS_PORT (default 16379), e.g.
//   eval "$(scripts/stack.sh up)" && LOCKSTEP_REDIS_PORT=${LOCKSTEP_REDIS_PORTS%%,*} ./cache_bench
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include <unistd.h>

#include "bench_env.h"
#include "lockstep/cache/byte_cache.h"
#include "lockstep/redis/client.h"

namespace {

using namespace std::chrono_literals;
using lockstep::Deadline;
using lockstep::Result;
using lockstep::cache::ByteCache;
using lockstep::cache::CacheOptions;
using lockstep::cache::Versioned;

using lockstep::bench::SharedRedisClient;

std::unique_ptr<ByteCache> OpenCache(benchmark::State& state, bool l1) {
  if (SharedRedisClient() == nullptr) {
    state.SkipWithError("cannot open redis client");
    return nullptr;
  }
  CacheOptions o;
  o.key_prefix = "bench:";
  o.name = l1 ? "l1" : "l2";
  o.l1_enabled = l1;
  auto cache = ByteCache::Open(*SharedRedisClient(), o);
  if (!cache.ok()) {
    state.SkipWithError("cannot open cache");
    return nullptr;
  }
  if (l1 && !(*cache)->WaitBusHealthy(Deadline::After(10s)).ok()) {
    state.SkipWithError("bus not healthy (is redis running?)");
    return nullptr;
  }
  return std::move(cache).value();
}

const ByteCache::Loader kLoader = [](const Deadline&) -> Result<Versioned<std::string>> {
  return Versioned<std::string>::Of(std::string(200, 'p'), 1);
};

void BM_GetL1Hit(benchmark::State& state) {
  auto cache = OpenCache(state, true);
  if (cache == nullptr) return;
  (void)cache->Get("k", kLoader, Deadline::After(1s));
  for (auto _ : state) {
    auto r = cache->Get("k", kLoader, Deadline::After(1s));
    benchmark::DoNotOptimize(r);
  }
  state.counters["l1_hits"] = static_cast<double>(cache->stats().l1_hits);
}
BENCHMARK(BM_GetL1Hit)->UseRealTime();
BENCHMARK(BM_GetL1Hit)->Threads(2)->UseRealTime();

void BM_GetL2Hit(benchmark::State& state) {
  auto cache = OpenCache(state, false);
  if (cache == nullptr) return;
  (void)cache->Get("k", kLoader, Deadline::After(1s));
  for (auto _ : state) {
    auto r = cache->Get("k", kLoader, Deadline::After(1s));
    benchmark::DoNotOptimize(r);
  }
  state.counters["l2_hits"] = static_cast<double>(cache->stats().l2_hits);
}
BENCHMARK(BM_GetL2Hit)->UseRealTime();

void BM_GetLoad(benchmark::State& state) {
  auto cache = OpenCache(state, false);
  if (cache == nullptr) return;
  static int64_t i = 0;  // Keys never repeat across the benchmark's repetitions.
  const std::string prefix = "load:" + std::to_string(::getpid()) + ":";
  for (auto _ : state) {
    // A fresh key per iteration: L2 read (miss) + loader + L2 fill.
    auto r = cache->Get(prefix + std::to_string(i++), kLoader, Deadline::After(1s));
    benchmark::DoNotOptimize(r);
  }
  state.counters["loads"] = static_cast<double>(cache->stats().loads);
}
BENCHMARK(BM_GetLoad)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
