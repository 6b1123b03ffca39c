// GET through lockstep::redis::Client (pool + deadline per call) against a bare hiredis GET
// on one redisContext, same server and key; plus pipelined variants. Needs a running Redis:
// port from LOCKSTEP_REDIS_PORT (default 16379, like TestEnv), e.g.
//   eval "$(scripts/stack.sh up)" && ./redis_bench
// Report the ratio Client/bare from one run; absolute numbers depend on the machine.
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_env.h"
#include "lockstep/redis/client.h"

namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "bench:redis:get";

using lockstep::bench::RedisPort;

// The shared client, with kKey set once. Never destroyed.
lockstep::redis::Client* SharedClient() {
  static lockstep::redis::Client* client = [] {
    lockstep::redis::Client* c = lockstep::bench::SharedRedisClient();
    // A failed SET shows up as errors in the benchmarks themselves.
    if (c != nullptr) (void)c->Set(kKey, std::string(64, 'v'), lockstep::Deadline::After(5s));
    return c;
  }();
  return client;
}

struct ContextCloser {
  void operator()(redisContext* c) const { redisFree(c); }
};

std::unique_ptr<redisContext, ContextCloser> BareContext(benchmark::State& state) {
  std::unique_ptr<redisContext, ContextCloser> c(redisConnect("127.0.0.1", RedisPort()));
  if (c == nullptr || c->err != 0) {
    state.SkipWithError("cannot connect to redis (set LOCKSTEP_REDIS_PORT)");
    return nullptr;
  }
  return c;
}

void BM_ClientGet(benchmark::State& state) {
  lockstep::redis::Client* client = SharedClient();
  if (client == nullptr) {
    state.SkipWithError("cannot open client");
    return;
  }
  for (auto _ : state) {
    auto value = client->Get(kKey, lockstep::Deadline::After(1s));
    if (!value.ok()) {
      state.SkipWithError(value.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClientGet)->Threads(1)->Threads(4)->UseRealTime();

void BM_BareHiredisGet(benchmark::State& state) {
  SharedClient();  // Makes sure the key exists.
  auto context = BareContext(state);
  if (context == nullptr) return;
  for (auto _ : state) {
    auto* reply = static_cast<redisReply*>(redisCommand(context.get(), "GET %s", kKey));
    if (reply == nullptr) {
      state.SkipWithError(context->errstr);
      break;
    }
    benchmark::DoNotOptimize(reply->len);
    freeReplyObject(reply);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BareHiredisGet)->UseRealTime();

void BM_ClientPipelineGet(benchmark::State& state) {
  lockstep::redis::Client* client = SharedClient();
  if (client == nullptr) {
    state.SkipWithError("cannot open client");
    return;
  }
  const std::vector<std::vector<std::string>> commands(static_cast<size_t>(state.range(0)), {"GET", kKey});
  for (auto _ : state) {
    auto replies = client->Pipeline(commands, lockstep::Deadline::After(5s));
    if (!replies.ok()) {
      state.SkipWithError(replies.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(replies);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ClientPipelineGet)->Arg(16)->Arg(128)->UseRealTime();

void BM_BareHiredisPipelineGet(benchmark::State& state) {
  SharedClient();
  auto context = BareContext(state);
  if (context == nullptr) return;
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) redisAppendCommand(context.get(), "GET %s", kKey);
    for (int i = 0; i < n; ++i) {
      void* reply = nullptr;
      if (redisGetReply(context.get(), &reply) != REDIS_OK) {
        state.SkipWithError(context->errstr);
        return;
      }
      freeReplyObject(reply);
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BareHiredisPipelineGet)->Arg(16)->Arg(128)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
