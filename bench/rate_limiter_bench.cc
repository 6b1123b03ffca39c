// The rate limiters' own cost. Prints one line per run:
//   local TokenBucket, T threads on one bucket: decisions/s (no server).
//   distributed RateLimiter::Decide, T threads (1, 8, 32), one shared pooled Client: decisions/s
//     and latency per decision p50/p99 (µs); keys rotate over 1,000 ("rlb:k:<i>"), rate 1e6/s
//     and burst 1e9 so every decision writes (the admitted path, the script's full cost).
//   batched RateLimiter::DecideMany, T threads, --batch keys per call (one pipelined round
//     trip): decisions/s and latency per call.
// scripts/bench.sh micro runs it beside redis-benchmark running the same script (EVALSHA,
// the same arguments) at the same concurrencies: the raw limit.
//   rate_limiter_bench [--seconds 3] [--batch 16] [--mode local|decide|many --threads T]
// Without --mode: every run above (local 1 and 2 threads, Decide 1/8/32, DecideMany 1/8);
// with it: that one run at T threads (bench.sh pairs each with its redis-benchmark run).
// Needs a running Redis: port from LOCKSTEP_REDIS_PORT (default 16379, like TestEnv).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_env.h"
#include "lockstep/redis/client.h"
#include "lockstep/resilience/rate_limiter.h"
#include "lockstep/resilience/token_bucket.h"

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

struct Args {
  int seconds = 3;
  int batch = 16;
  std::string mode;  // "" = all.
  int threads = 0;   // With mode.
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--seconds" || arg == "--batch" || arg == "--threads") && i + 1 < argc) {
      (arg == "--seconds" ? a.seconds : arg == "--batch" ? a.batch : a.threads) = std::atoi(argv[++i]);
    } else if (arg == "--mode" && i + 1 < argc) {
      a.mode = argv[++i];
    } else {
      std::fprintf(stderr, "rate_limiter_bench: unknown argument %s\n", arg.c_str());
      std::exit(2);
    }
  }
  const bool mode_ok = a.mode.empty() || ((a.mode == "local" || a.mode == "decide" || a.mode == "many") && a.threads >= 1);
  if (a.seconds < 1 || a.batch < 1 || !mode_ok) {
    std::fprintf(stderr, "rate_limiter_bench: need --seconds >= 1, --batch >= 1, --mode local|decide|many with --threads >= 1\n");
    std::exit(2);
  }
  return a;
}

// Runs body(thread, &latencies_ns) on `threads` threads until `seconds` passed; body returns
// the decisions it made in one call. Prints decisions/s and per-call latency.
template <typename Body>
void Run(const char* label, int threads, int seconds, Body body) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> decisions{0};
  std::vector<std::vector<int64_t>> latencies(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  const auto start = SteadyClock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      int64_t mine = 0;
      auto& lat = latencies[static_cast<size_t>(t)];
      while (!stop.load(std::memory_order_relaxed)) {
        const auto before = SteadyClock::now();
        mine += body(t);
        lat.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - before).count());
      }
      decisions.fetch_add(mine);
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop.store(true);
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::vector<int64_t> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  const double p50 = lockstep::bench::Percentile(all, 0.50);
  const double p99 = lockstep::bench::Percentile(all, 0.99);
  std::printf("%s threads=%d: %.0f decisions/s, per call p50 %.1f us p99 %.1f us (%zu calls)\n", label, threads,
              static_cast<double>(decisions.load()) / elapsed, p50, p99, all.size());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  // The thread counts of one kind of run: the --threads given with its --mode, else `all`
  // (none when another mode was chosen).
  auto counts = [&](const char* mode, std::vector<int> all) {
    if (args.mode.empty()) return all;
    return args.mode == mode ? std::vector<int>{args.threads} : std::vector<int>{};
  };
  for (int threads : counts("local", {1, 2})) {
    lockstep::resilience::TokenBucket bucket(1e9, 1e9);
    // Local decisions take ~10-50ns: time them in groups of 1,000 calls.
    Run("local TokenBucket::TryAcquire x1000", threads, args.seconds, [&](int) {
      int64_t n = 0;
      for (int i = 0; i < 1000; ++i) n += bucket.TryAcquire().allowed ? 1 : 0;
      return n == 0 ? 1000 : n;
    });
  }

  if (args.mode == "local") return 0;
  lockstep::redis::RedisOptions ro;
  ro.port = lockstep::bench::RedisPort();
  ro.pool_size = std::max(40, args.threads + 8);
  auto client = lockstep::redis::Client::Open(ro);
  if (!client.ok()) {
    std::fprintf(stderr, "rate_limiter_bench: %s\n", client.status().ToString().c_str());
    return 1;
  }
  lockstep::resilience::RateLimiterOptions o;
  o.rate = 1e6;  // Interval 1 us: the same arguments as the redis-benchmark run.
  o.burst = 1'000'000'000;
  o.key_prefix = "rlb:";
  auto limiter = lockstep::resilience::RateLimiter::Create(**client, o);
  if (!limiter.ok()) {
    std::fprintf(stderr, "rate_limiter_bench: %s\n", limiter.status().ToString().c_str());
    return 1;
  }
  lockstep::resilience::RateLimiter& l = **limiter;
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(std::to_string(i));
  std::atomic<int64_t> failures{0};
  std::atomic<int64_t> local{0};
  for (int threads : counts("decide", {1, 8, 32})) {
    std::vector<size_t> next(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t) next[static_cast<size_t>(t)] = static_cast<size_t>(t) * 31;
    Run("distributed RateLimiter::Decide", threads, args.seconds, [&](int t) {
      size_t& k = next[static_cast<size_t>(t)];
      auto d = l.Decide(keys[k++ % keys.size()], lockstep::Deadline::After(5s));
      if (!d.ok()) failures.fetch_add(1);
      else if (d->local) local.fetch_add(1);
      return 1;
    });
  }
  for (int threads : counts("many", {1, 8})) {
    std::vector<size_t> next(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t) next[static_cast<size_t>(t)] = static_cast<size_t>(t) * 31;
    const std::string label = "batched RateLimiter::DecideMany(" + std::to_string(args.batch) + " keys)";
    Run(label.c_str(), threads, args.seconds, [&](int t) {
      size_t& k = next[static_cast<size_t>(t)];
      std::vector<std::string> batch;
      for (int i = 0; i < args.batch; ++i) batch.push_back(keys[k++ % keys.size()]);
      auto d = l.DecideMany(batch, lockstep::Deadline::After(5s));
      if (!d.ok()) failures.fetch_add(1);
      return args.batch;
    });
  }
  std::printf("errors %lld, local (fallback) decisions %lld\n", static_cast<long long>(failures.load()),
              static_cast<long long>(local.load()));
  return failures.load() == 0 && local.load() == 0 ? 0 : 1;
}
