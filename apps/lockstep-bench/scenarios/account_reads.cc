#include "scenarios/account_reads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client/client.h"
#include "load_runner.h"
#include "load_stats.h"
#include "report.h"
#include "split_mix64.h"
#include "targets.h"

namespace lockstep::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The newest token the writer saw. Thread-safe.
class LatestToken {
 public:
  void Set(std::string t) {
    std::lock_guard<std::mutex> lock(mu_);
    token_ = std::move(t);
  }
  std::string Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return token_;
  }

 private:
  mutable std::mutex mu_;
  std::string token_;
};

// Every value of the gauge `name` in Prometheus text `text` (one per label set), in ms.
void CollectGaugeMs(const std::string& text, const std::string& name, std::vector<int64_t>& out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' ')) {
      continue;
    }
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const double seconds = std::strtod(line.c_str() + space + 1, nullptr);
    if (std::isnan(seconds)) continue;
    out.push_back(static_cast<int64_t>(std::llround(seconds * 1000)));
  }
}

}  // namespace

int RunAccountReads(const CommonOptions& opt, const AccountReadsOptions& ropt) {
  auto endpoints = Endpoints(opt.urls);
  if (!endpoints.ok()) {
    std::fprintf(stderr, "lockstep-bench: %s\n", endpoints.status().ToString().c_str());
    return 2;
  }
  if (ropt.consistency != "primary" && ropt.consistency != "replica" && ropt.consistency != "token") {
    std::fprintf(stderr, "lockstep-bench: --consistency must be primary, replica or token\n");
    return 2;
  }
  const Endpoint& first = endpoints->front();
  const auto setup_deadline = [] { return Deadline::After(std::chrono::seconds(30)); };
  http_client::Client setup(first.host, first.port);
  std::vector<int64_t> ids;
  LatestToken latest;
  for (int i = 0; i < ropt.accounts; ++i) {
    const nlohmann::json body = {{"owner", "r" + std::to_string(i)}, {"balance", 1'000'000'000}};
    auto r = setup.Send("POST", "/v1/accounts", body.dump(), setup_deadline());
    if (!r.ok() || r->status != 201) {
      std::fprintf(stderr, "setup: cannot create account %d\n", i);
      return 2;
    }
    ids.push_back(nlohmann::json::parse(r->body).at("id").get<int64_t>());
    latest.Set(r->Header("x-consistency-token"));
  }
  if (ids.size() < 2) {
    std::fprintf(stderr, "setup: --accounts must be >= 2\n");
    return 2;
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> writes{0};
  std::thread writer;
  if (ropt.writes_per_s > 0) {
    writer = std::thread([&] {
      http_client::Client client(first.host, first.port);
      SplitMix64 rng(opt.seed ^ 0x5eed);
      const std::string prefix = "ar-" + std::to_string(std::random_device{}()) + "-";
      const auto start = Clock::now();
      for (int64_t n = 0; !stop.load(); ++n) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(n / ropt.writes_per_s)));
        const size_t from = rng() % ids.size();
        const size_t to = (from + 1 + rng() % (ids.size() - 1)) % ids.size();
        const nlohmann::json body = {
            {"request_id", prefix + std::to_string(n)}, {"from", ids[from]}, {"to", ids[to]}, {"amount", 1}};
        auto r = client.Send("POST", "/v1/transfers", body.dump(), Deadline::After(std::chrono::seconds(10)));
        if (r.ok() && r->status == 200) {
          latest.Set(r->Header("x-consistency-token"));
          ++writes;
        }
      }
    });
  }
  std::vector<int64_t> lag_ms, staleness_ms;
  std::thread sampler([&] {
    http_client::Client client(first.host, first.port);
    while (!stop.load()) {
      auto r = client.Send("GET", "/metrics", "", Deadline::After(std::chrono::seconds(5)));
      if (r.ok() && r->status == 200) {
        CollectGaugeMs(r->body, "shopd_routing_replica_lag_seconds", lag_ms);
        CollectGaugeMs(r->body, "shopd_routing_replica_staleness_seconds", staleness_ms);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(ropt.lag_sample_ms));
    }
  });

  const std::string base_headers = RequestHeaders(opt.timeout_ms);
  const std::string fixed = ropt.consistency == "primary"   ? "X-Max-Staleness-Ms: 0\r\n"
                            : ropt.consistency == "replica" ? "X-Max-Staleness-Ms: " + std::to_string(ropt.bound_ms) + "\r\n"
                                                            : "";
  std::mutex sources_mu;
  std::map<std::string, int64_t> sources;
  std::atomic<int64_t> not_ok{0};
  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) {
    stop = true;
    if (writer.joinable()) writer.join();
    sampler.join();
    return 2;
  }
  auto summary = RunLoad(opt, *endpoints, "account-reads", [&](int thread, int64_t index, http_client::Client& client) {
    const int64_t id = ids[SplitMix64(opt.seed + static_cast<uint64_t>(index) * 7919 + static_cast<uint64_t>(thread))() %
                           ids.size()];
    const std::string headers =
        base_headers + (ropt.consistency == "token" ? "X-Consistency-Token: " + latest.Get() + "\r\n" : fixed);
    auto r = client.Send("GET", "/v1/accounts/" + std::to_string(id), "",
                         Deadline::After(std::chrono::milliseconds(opt.timeout_ms)), headers);
    if (!r.ok()) return 0;
    if (r->status != 200) ++not_ok;
    std::lock_guard<std::mutex> lock(sources_mu);
    ++sources[r->Header("x-read-source")];
    return r->status;
  });
  stop = true;
  if (writer.joinable()) writer.join();
  sampler.join();

  nlohmann::json j = SummaryJson("account-reads", summary, opt);
  j["consistency"] = ropt.consistency;
  j["bound_ms"] = ropt.bound_ms;
  j["writes"] = writes.load();
  j["not_200"] = not_ok.load();
  int64_t replica_answers = 0, total = 0;
  for (const auto& [source, n] : sources) {
    j["sources"][source.empty() ? "none" : source] = n;
    total += n;
    if (source.rfind("replica:", 0) == 0) replica_answers += n;
  }
  j["replica_share"] = total > 0 ? static_cast<double>(replica_answers) / static_cast<double>(total) : 0.0;
  std::sort(lag_ms.begin(), lag_ms.end());
  j["lag_samples"] = lag_ms.size();
  j["lag_p50_ms"] = Percentile(lag_ms, 0.5);
  j["lag_p99_ms"] = Percentile(lag_ms, 0.99);
  j["lag_max_ms"] = lag_ms.empty() ? 0 : lag_ms.back();
  std::sort(staleness_ms.begin(), staleness_ms.end());
  j["staleness_p50_ms"] = Percentile(staleness_ms, 0.5);
  j["staleness_p99_ms"] = Percentile(staleness_ms, 0.99);
  AddCpu(j, *cpu, summary.requests);
  return PrintUnchecked(j);
}

}  // namespace lockstep::bench
