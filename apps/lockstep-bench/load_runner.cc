#include "load_runner.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

namespace lockstep::bench {

using Clock = std::chrono::steady_clock;

LoadStats::Summary RunLoad(const CommonOptions& opt, const std::vector<Endpoint>& endpoints, const char* name,
                           const RequestBody& body) {
  LoadStats stats;
  std::atomic<int64_t> next{0};
  const auto start = Clock::now();
  const auto stop_at = opt.duration_s > 0 ? start + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(opt.duration_s))
                                          : Clock::time_point::max();
  std::atomic<bool> finished{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < opt.connections; ++t) {
    threads.emplace_back([&, t] {
      const Endpoint& ep = endpoints[static_cast<size_t>(t) % endpoints.size()];
      http_client::Client client(ep.host, ep.port);
      LoadStats::Shard shard;
      for (;;) {
        const int64_t i = next.fetch_add(1);
        if (opt.duration_s > 0 ? Clock::now() >= stop_at : i >= opt.requests) break;
        const auto t0 = Clock::now();
        const int status = body(t, i, client);
        shard.latencies_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
        shard.statuses[status]++;
        stats.Tick(status != 0 && status < 500);
      }
      stats.Merge(std::move(shard));
    });
  }
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
  return stats.Summarize(Clock::now() - start);
}

std::string RequestHeaders(int timeout_ms) { return "X-Request-Timeout-Ms: " + std::to_string(timeout_ms) + "\r\n"; }

}  // namespace lockstep::bench
