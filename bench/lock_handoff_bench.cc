// Lock hand-offs under contention: W waiter threads (spread over S LockServices, each with
// its own subscriber connection, as S processes would have) take one lock in turn, hold it
// for --hold-us, release it, and ask again. Prints per run: grants/s, hand-off latency
// (from the holder starting its Release() to the next holder's grant) p50/p99/max, Lua
// scripts per grant (Redis INFO commandstats: EVALSHA + EVAL), release-message wake-ups
// and fallback polls per grant, give-ups, how often the releasing thread re-took the lock
// at once, and the spread of grants per thread.
//
//   eval "$(scripts/stack.sh up)" && build/bench/bench/lockstep_lock_handoff_bench
//   lockstep_lock_handoff_bench [--waiters 32] [--services 2] [--seconds 5] [--hold-us 200] [--fair]
//
// Needs a running Redis: port from LOCKSTEP_REDIS_PORT (default 16379, like TestEnv).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_env.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/redis/client.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Args {
  int waiters = 32;
  int services = 2;
  int seconds = 5;
  int hold_us = 200;
  bool fair = false;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> int {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "lock_handoff_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (arg == "--waiters") {
      a.waiters = next();
    } else if (arg == "--services") {
      a.services = next();
    } else if (arg == "--seconds") {
      a.seconds = next();
    } else if (arg == "--hold-us") {
      a.hold_us = next();
    } else if (arg == "--fair") {
      a.fair = true;
    } else {
      std::fprintf(stderr, "lock_handoff_bench: unknown argument %s\n", arg.c_str());
      std::exit(2);
    }
  }
  if (a.waiters < 2 || a.services < 1 || a.seconds < 1 || a.hold_us < 0) {
    std::fprintf(stderr, "lock_handoff_bench: need --waiters >= 2, --services >= 1, --seconds >= 1\n");
    std::exit(2);
  }
  return a;
}

// Sum of EVALSHA and EVAL calls so far (INFO commandstats), or -1.
int64_t ScriptCalls(lockstep::redis::Client& client) {
  auto reply = client.Command({"INFO", "commandstats"}, lockstep::Deadline::After(2s));
  if (!reply.ok() || !reply->is_string()) return -1;
  const std::string& text = reply->str();
  int64_t total = 0;
  for (const char* name : {"cmdstat_evalsha:calls=", "cmdstat_eval:calls="}) {
    const size_t at = text.find(name);
    if (at != std::string::npos) total += std::atoll(text.c_str() + at + std::strlen(name));
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  lockstep::redis::Client* client = lockstep::bench::SharedRedisClient();
  if (client == nullptr) {
    std::fprintf(stderr, "lock_handoff_bench: cannot connect to redis on port %d\n", lockstep::bench::RedisPort());
    return 1;
  }
  const std::string prefix = "bench:lock:" + std::to_string(::getpid()) + ":";
  std::vector<std::unique_ptr<lockstep::lock::LockService>> services;
  for (int s = 0; s < args.services; ++s) {
    auto service = lockstep::lock::LockService::Create(*client, {.key_prefix = prefix});
    if (!service.ok()) {
      std::fprintf(stderr, "lock_handoff_bench: %s\n", service.status().ToString().c_str());
      return 1;
    }
    services.push_back(std::move(service).value());
  }

  // Atomics: the previous holder's release start (ns since `origin`) and thread index; the
  // next holder reads them after its grant (ordered through Redis, not through memory).
  const Clock::time_point origin = Clock::now();
  std::atomic<int64_t> release_started{-1};
  std::atomic<int> last_holder{-1};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> give_ups{0}, retakes{0}, errors{0};
  std::vector<std::vector<int64_t>> handoffs(static_cast<size_t>(args.waiters));
  std::vector<int64_t> grants(static_cast<size_t>(args.waiters), 0);

  lockstep::lock::LockOptions options;
  // The limit of this run: one thread taking and releasing an uncontended lock (two
  // script round trips per cycle), for one second.
  int64_t solo_cycles = 0;
  const Clock::time_point solo_start = Clock::now();
  while (Clock::now() - solo_start < 1s) {
    auto guard = services[0]->Acquire("solo", options, lockstep::Deadline::After(10s));
    if (!guard.ok() || !guard->Release().ok()) {
      std::fprintf(stderr, "lock_handoff_bench: uncontended cycle failed\n");
      return 1;
    }
    ++solo_cycles;
  }
  const double solo_rate = static_cast<double>(solo_cycles) / std::chrono::duration<double>(Clock::now() - solo_start).count();
  const int64_t scripts_before = ScriptCalls(*client);
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < args.waiters; ++t) {
    threads.emplace_back([&, t] {
      lockstep::lock::LockService& service = *services[static_cast<size_t>(t % args.services)];
      lockstep::lock::LockOptions mine = options;
      mine.fair = args.fair;
      while (!stop.load(std::memory_order_relaxed)) {
        auto guard = service.Acquire("hot", mine, lockstep::Deadline::After(10s));
        if (!guard.ok()) {
          if (guard.status().reason() == "lock_busy") {
            give_ups.fetch_add(1);
          } else {
            errors.fetch_add(1);
          }
          continue;
        }
        const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin).count();
        const int64_t released = release_started.load();
        if (released >= 0) handoffs[static_cast<size_t>(t)].push_back(now - released);
        if (last_holder.load() == t) retakes.fetch_add(1);
        ++grants[static_cast<size_t>(t)];
        if (args.hold_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(args.hold_us));
        last_holder.store(t);
        release_started.store(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin).count());
        if (!guard->Release().ok()) errors.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
  stop.store(true);
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const int64_t scripts_after = ScriptCalls(*client);

  std::vector<int64_t> all;
  for (auto& h : handoffs) all.insert(all.end(), h.begin(), h.end());
  int64_t total = 0;
  for (int64_t g : grants) total += g;
  uint64_t wakes = 0, polls = 0;
  for (auto& s : services) {
    wakes += s->stats().wakes;
    polls += s->stats().polls;
  }
  const auto [min_g, max_g] = std::minmax_element(grants.begin(), grants.end());
  const double per_grant = total > 0 ? 1.0 / static_cast<double>(total) : 0;
  std::printf("mode=%s waiters=%d services=%d hold=%dus seconds=%.1f\n", args.fair ? "fair" : "default", args.waiters,
              args.services, args.hold_us, elapsed);
  std::printf("limit: uncontended acquire+release cycles/s=%.0f (one thread)\n", solo_rate);
  std::printf("grants=%lld grants/s=%.0f (%.2f of the limit) handoff_ms p50=%.2f p99=%.2f max=%.2f\n", static_cast<long long>(total),
              static_cast<double>(total) / elapsed, static_cast<double>(total) / elapsed / solo_rate, lockstep::bench::Percentile(all, 0.50) / 1000.0, lockstep::bench::Percentile(all, 0.99) / 1000.0,
              lockstep::bench::Percentile(all, 1.0) / 1000.0);
  std::printf("scripts/grant=%.2f wakes/grant=%.2f polls/grant=%.2f give_ups=%lld errors=%lld retake_share=%.3f "
              "grants_per_thread min=%lld max=%lld\n",
              scripts_before >= 0 && scripts_after >= 0 ? static_cast<double>(scripts_after - scripts_before) * per_grant
                                                        : -1.0,
              static_cast<double>(wakes) * per_grant, static_cast<double>(polls) * per_grant,
              static_cast<long long>(give_ups.load()), static_cast<long long>(errors.load()),
              static_cast<double>(retakes.load()) * per_grant, static_cast<long long>(*min_g),
              static_cast<long long>(*max_g));
  return errors.load() == 0 ? 0 : 1;
}
