// lockstep::batch::Coalescer's own cost: no servers, the batch function answers every member
// at once, so the figures are the scheduling (queues, timers, hand-offs, completions).
//   BM_SubmitAndWait/threads:T  T caller threads, each SubmitAndWait in a loop on key
//                               (thread % 4), 10 s deadlines: items/s, per-call latency
//                               p50/p99 (µs), heap allocations per item.
//   BM_SubmitWindow/threads:T   T threads, each keeps 64 Submits outstanding (a callback
//                               counts them down) on key (thread % 4): the throughput with
//                               larger batches, allocations per item.
// Default CoalescerOptions (4 executor threads, max_batch 256).
//   build/bench/bench/lockstep_coalescer_bench (scripts/bench.sh micro runs it)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/batch/coalescer.h"

// Counts heap allocations (every operator new of the process goes through here). g++ 12
// inlines these replacements and then flags malloc/free as mismatched with new/delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
// Relaxed: a statistic read after the threads met at the benchmark's barrier.
std::atomic<uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace std::chrono_literals;
using lockstep::Deadline;
using lockstep::Result;
using lockstep::batch::Coalescer;
using lockstep::batch::CoalescerOptions;

using BenchCoalescer = Coalescer<int64_t, int64_t, int64_t>;
constexpr int64_t kKeys = 4;
constexpr int kWindow = 64;

std::unique_ptr<BenchCoalescer> NewCoalescer() {
  CoalescerOptions options;
  options.name = "bench";
  auto c = BenchCoalescer::Create(std::move(options), [](const int64_t& key, std::vector<int64_t*>& batch,
                                                         const Deadline&) {
    std::vector<Result<int64_t>> out;
    out.reserve(batch.size());
    for (int64_t* r : batch) out.emplace_back(key + *r);
    return out;
  });
  return c.ok() ? std::move(c).value() : nullptr;
}

// Shared by the threads of one benchmark run; set up and read by thread 0 outside the timed
// loop (the loop starts and ends with a barrier of all threads).
std::unique_ptr<BenchCoalescer> g_coalescer;
std::vector<std::vector<int64_t>> g_latency_ns;  // One vector per thread.
uint64_t g_allocations_at_start = 0;

void Start(benchmark::State& state) {
  if (state.thread_index() != 0) return;
  g_coalescer = NewCoalescer();
  g_latency_ns.assign(state.threads(), {});
  for (auto& v : g_latency_ns) v.reserve(1 << 16);
  g_allocations_at_start = g_allocations.load(std::memory_order_relaxed);
}

void Finish(benchmark::State& state, int64_t items) {
  state.SetItemsProcessed(items);
  if (state.thread_index() != 0) return;
  const uint64_t allocations = g_allocations.load(std::memory_order_relaxed) - g_allocations_at_start;
  const auto stats = g_coalescer->stats();
  g_coalescer.reset();
  std::vector<int64_t> all;
  for (auto& v : g_latency_ns) all.insert(all.end(), v.begin(), v.end());
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    state.counters["p50_us"] = static_cast<double>(all[all.size() / 2]) / 1e3;
    state.counters["p99_us"] = static_cast<double>(all[all.size() * 99 / 100]) / 1e3;
  }
  const double submitted = static_cast<double>(stats.submitted);
  state.counters["allocs_per_item"] = submitted == 0 ? 0 : static_cast<double>(allocations) / submitted;
  state.counters["avg_batch"] = stats.batches == 0 ? 0 : static_cast<double>(stats.batched_requests) / stats.batches;
}

void BM_SubmitAndWait(benchmark::State& state) {
  Start(state);
  const int64_t key = state.thread_index() % kKeys;
  int64_t i = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    Result<int64_t> r = g_coalescer->SubmitAndWait(key, i++, Deadline::After(10s));
    g_latency_ns[state.thread_index()].push_back((std::chrono::steady_clock::now() - start).count());
    if (!r.ok()) state.SkipWithError("SubmitAndWait failed");
    benchmark::DoNotOptimize(r);
  }
  Finish(state, state.iterations());
}
BENCHMARK(BM_SubmitAndWait)->Threads(1)->Threads(8)->Threads(64)->UseRealTime();

// Outstanding Submits of one thread.
class Window {
 public:
  void Acquire() {
    lockstep::MutexLock lock(&mu_);
    while (outstanding_ >= kWindow) cv_.Wait(&mu_);
    ++outstanding_;
  }
  void Release() {
    lockstep::MutexLock lock(&mu_);
    --outstanding_;
    cv_.Signal();
  }
  void Drain() {
    lockstep::MutexLock lock(&mu_);
    while (outstanding_ > 0) cv_.Wait(&mu_);
  }

 private:
  lockstep::Mutex mu_;
  lockstep::CondVar cv_;
  int outstanding_ LOCKSTEP_GUARDED_BY(mu_) = 0;
};

void BM_SubmitWindow(benchmark::State& state) {
  Start(state);
  const int64_t key = state.thread_index() % kKeys;
  Window window;
  int64_t i = 0;
  for (auto _ : state) {
    window.Acquire();
    const auto s = g_coalescer->Submit(key, i++, Deadline::After(10s), [&window](Result<int64_t> r) {
      benchmark::DoNotOptimize(r);
      window.Release();
    });
    if (!s.ok()) {
      window.Release();
      state.SkipWithError("Submit failed");
    }
  }
  window.Drain();
  Finish(state, state.iterations());
}
BENCHMARK(BM_SubmitWindow)->Threads(1)->Threads(8)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
