#include "load_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <optional>
#include <thread>

#include "arrival_schedule.h"

namespace lockstep::bench {

using Clock = std::chrono::steady_clock;

LoadStats::Summary RunLoad(const CommonOptions& opt, const std::vector<Endpoint>& endpoints, const char* name,
                           const RequestBody& body) {
  LoadStats stats;
  std::atomic<int64_t> next{0};
  std::optional<ArrivalSchedule> schedule;
  if (opt.rate > 0) schedule.emplace(opt.rate, opt.connections);
  const int64_t scheduled = schedule ? schedule->Count(opt.duration_s, opt.requests) : 0;
  // Written before `go` opens and read by the threads only after it (the latch orders it).
  Clock::time_point start;
  Clock::time_point stop_at;
  std::latch go(1);
  // The latest actual send of an open-loop run, in ns after start (a max over threads).
  std::atomic<int64_t> last_send_ns{0};
  std::atomic<bool> finished{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < opt.connections; ++t) {
    threads.emplace_back([&, t] {
      const Endpoint& ep = endpoints[static_cast<size_t>(t) % endpoints.size()];
      http_client::Client client(ep.host, ep.port);
      LoadStats::Shard shard;
      go.wait();
      auto record = [&](int status, Clock::time_point from) {
        shard.Add(status, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - from).count());
        stats.Tick(status != 0 && status < 500);
      };
      if (schedule) {
        Clock::duration last_send{0};
        for (int64_t i = schedule->First(t); i < scheduled; i = schedule->Next(i)) {
          const auto intended = start + schedule->Offset(i);
          std::this_thread::sleep_until(intended);  // Returns at once when already late.
          last_send = std::max(last_send, Clock::now() - start);
          record(body(t, i, client), intended);
        }
        const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(last_send).count();
        for (int64_t seen = last_send_ns.load(); seen < ns && !last_send_ns.compare_exchange_weak(seen, ns);) {
        }
      } else {
        for (;;) {
          const int64_t i = next.fetch_add(1);
          if (opt.duration_s > 0 ? Clock::now() >= stop_at : i >= opt.requests) break;
          const auto t0 = Clock::now();
          record(body(t, i, client), t0);
        }
      }
      stats.Merge(std::move(shard));
    });
  }
  start = Clock::now();
  stop_at = opt.duration_s > 0
                ? start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.duration_s))
                : Clock::time_point::max();
  go.count_down();
  std::thread progress([&] {
    int64_t last = 0;
    while (!finished.load()) {
      for (int k = 0; k < 10 && !finished.load(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const int64_t done = stats.done();
      const double secs = std::chrono::duration<double>(Clock::now() - start).count();
      std::fprintf(stderr, "[%s %5.1fs] %lld done, %lld/s, %lld errors\n", name, secs, static_cast<long long>(done),
                   static_cast<long long>(done - last), static_cast<long long>(stats.errors()));
      last = done;
    }
  });
  for (auto& th : threads) th.join();
  finished = true;
  progress.join();
  LoadStats::Summary summary = stats.Summarize(Clock::now() - start);
  if (schedule) {
    summary.target_rps = schedule->rate();
    summary.offered_rps = schedule->OfferedRate(scheduled, std::chrono::nanoseconds(last_send_ns.load()));
    if (schedule->FellBehind(summary.offered_rps)) {
      std::fprintf(stderr,
                   "lockstep-bench: WARNING: the generator fell behind: offered %.0f/s of --rate %.0f/s (%.0f%% short); "
                   "more --connections are needed for this latency\n",
                   summary.offered_rps, schedule->rate(), 100.0 * (1.0 - summary.offered_rps / schedule->rate()));
    }
  }
  return summary;
}

std::string RequestHeaders(int timeout_ms) { return "X-Request-Timeout-Ms: " + std::to_string(timeout_ms) + "\r\n"; }

}  // namespace lockstep::bench
