#include "scenarios/reads.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client/client.h"
#include "json_fields.h"
#include "load_runner.h"
#include "lockstep/base/mutex.h"
#include "lockstep/sql/pool.h"
#include "report.h"
#include "run_setup.h"
#include "split_mix64.h"
#include "targets.h"
#include "zipf.h"

namespace lockstep::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Inserts `count` products named prefix + index by SQL (1,000 per statement); their ids
// in order, or nullopt (after printing why, for the insert and count checks).
std::optional<std::vector<int64_t>> CreateProducts(sql::Pool& pool, const std::string& prefix, int count) {
  std::vector<int64_t> ids;
  {
    auto conn = pool.Acquire(Deadline::After(std::chrono::seconds(10)));
    if (!conn.ok()) return std::nullopt;
    const Deadline d = Deadline::After(std::chrono::minutes(5));
    for (int start = 0; start < count; start += 1000) {
      std::string sql = "INSERT INTO products (name, price, stock, version, stock_mode) VALUES ";
      for (int i = start; i < std::min(count, start + 1000); ++i) {
        sql += (i == start ? "" : ",") + std::string("('") + prefix + std::to_string(i) + "', 100, 1000, 1, 'batched')";
      }
      if (!conn->Execute(sql, d).ok()) {
        std::fprintf(stderr, "setup: cannot insert products\n");
        return std::nullopt;
      }
    }
    auto rows = conn->Query("SELECT id FROM products WHERE name LIKE ? ORDER BY id", prefix + "%", d);
    if (!rows.ok()) return std::nullopt;
    for (const auto& row : *rows) ids.push_back(*row.GetInt64(0));
  }
  if (ids.size() != static_cast<size_t>(count)) {
    std::fprintf(stderr, "setup: expected %d products, found %zu\n", count, ids.size());
    return std::nullopt;
  }
  return ids;
}

// GETs every product of `ids` once on every endpoint, on opt.connections threads.
void Warmup(const CommonOptions& opt, const std::vector<Endpoint>& endpoints, const std::vector<int64_t>& ids,
            const std::string& headers) {
  const auto warm_start = Clock::now();
  std::atomic<size_t> next{0};
  std::vector<std::thread> warmers;
  for (int t = 0; t < opt.connections; ++t) {
    warmers.emplace_back([&] {
      std::vector<std::unique_ptr<http_client::Client>> clients;
      for (const Endpoint& ep : endpoints) clients.push_back(std::make_unique<http_client::Client>(ep.host, ep.port));
      for (size_t k = next.fetch_add(1); k < ids.size(); k = next.fetch_add(1)) {
        for (auto& c : clients) {
          (void)c->Send("GET", "/v1/products/" + std::to_string(ids[k]), "",
                        Deadline::After(std::chrono::milliseconds(opt.timeout_ms)), headers);
        }
      }
    });
  }
  for (auto& w : warmers) w.join();
  std::fprintf(stderr, "warmup: every product read once on every instance in %.1fs\n",
               std::chrono::duration<double>(Clock::now() - warm_start).count());
}

// The PUTs that returned, per product, sharded so that readers of different products
// rarely meet on one lock (64 reader threads). Thread-safe.
class WriteLog {
 public:
  void Add(int64_t id, int64_t version, Clock::time_point returned) {
    Shard& shard = ShardOf(id);
    MutexLock lock(&shard.mu);
    shard.by_id[id].push_back({version, returned});
  }

  // For a GET of `id` that started at `started`: the newest version whose PUT returned
  // more than `bound` before it (`required`) and the newest whose PUT returned before it.
  struct Expected {
    int64_t required = 0;
    int64_t returned_before = 0;
  };
  Expected For(int64_t id, Clock::time_point started, Clock::duration bound) {
    Expected e;
    Shard& shard = ShardOf(id);
    MutexLock lock(&shard.mu);
    auto it = shard.by_id.find(id);
    if (it != shard.by_id.end()) {
      for (const Write& w : it->second) {
        if (w.returned + bound < started) e.required = std::max(e.required, w.version);
        if (w.returned < started) e.returned_before = std::max(e.returned_before, w.version);
      }
    }
    return e;
  }

 private:
  struct Write {
    int64_t version;
    Clock::time_point returned;
  };
  struct Shard {
    Mutex mu;
    std::map<int64_t, std::vector<Write>> by_id LOCKSTEP_GUARDED_BY(mu);
  };
  Shard& ShardOf(int64_t id) { return shards_[static_cast<size_t>(id) % shards_.size()]; }

  std::array<Shard, 64> shards_;
};

}  // namespace

int RunReads(const CommonOptions& opt, const ReadsOptions& ropt) {
  std::optional<RunSetup> run = StartRun(opt, 'r');
  if (!run) return 2;
  const std::vector<Endpoint>& endpoints = run->targets.endpoints;
  std::mt19937_64& seed_rng = run->seed_rng;
  const std::string& prefix = run->prefix;
  const std::optional<std::vector<int64_t>> created = CreateProducts(*run->targets.pool, prefix, ropt.products);
  if (!created) return 2;
  const std::vector<int64_t>& ids = *created;
  std::fprintf(stderr, "setup: %d products (zipf s=%.2f), writer %.1f PUT/s, bound %d ms\n", ropt.products, ropt.zipf_s,
               ropt.writes_per_s, ropt.bound_ms);
  const Zipf zipf(ropt.products, ropt.zipf_s);
  const std::string headers = RequestHeaders(opt.timeout_ms);
  if (ropt.warmup) Warmup(opt, endpoints, ids, headers);
  const auto bound = std::chrono::milliseconds(ropt.bound_ms);

  WriteLog write_log;
  Mutex mu;
  std::atomic<bool> stop_writer{false};
  std::atomic<int64_t> writes_done{0}, write_errors{0}, stale_beyond{0}, stale_within{0}, checked{0};
  std::vector<std::string> stale_examples;  // Guarded by mu.
  // Drawn before the writer starts: seed_rng is not thread-safe.
  const uint64_t writer_seed = seed_rng();
  std::thread writer([&] {
    if (ropt.writes_per_s <= 0) return;
    http_client::Client client(endpoints[0].host, endpoints[0].port);
    std::mt19937_64 rng(writer_seed);
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / ropt.writes_per_s));
    auto next = Clock::now();
    for (int64_t n = 0; !stop_writer.load(); ++n) {
      std::this_thread::sleep_until(next);
      next += period;
      const int64_t id = ids[zipf.Sample(rng)];
      const std::string body = nlohmann::json{{"price", 100 + n}}.dump();
      auto r = client.Send("PUT", "/v1/products/" + std::to_string(id), body,
                           Deadline::After(std::chrono::milliseconds(opt.timeout_ms)), headers);
      const Clock::time_point returned = Clock::now();
      if (!r.ok() || r->status != 200) {
        write_errors.fetch_add(1);
        continue;
      }
      const int64_t version = IntField(r->body, "version");
      writes_done.fetch_add(1);
      write_log.Add(id, version, returned);
    }
  });
  const uint64_t base_seed = seed_rng();
  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) {
    stop_writer = true;
    writer.join();
    return 2;
  }
  auto summary = RunLoad(opt, endpoints, "reads", [&](int, int64_t i, http_client::Client& client) {
    SplitMix64 rng = SplitMix64::ForRequest(base_seed, i);
    const int64_t id = ids[zipf.Sample(rng)];
    const Clock::time_point started = Clock::now();
    auto r = client.Send("GET", "/v1/products/" + std::to_string(id), "",
                         Deadline::After(std::chrono::milliseconds(opt.timeout_ms)), headers);
    if (!r.ok()) return 0;
    if (r->status != 200) return r->status;
    const int64_t version = IntField(r->body, "version");
    const WriteLog::Expected expected = write_log.For(id, started, bound);
    checked.fetch_add(1);
    if (version < expected.required) {
      stale_beyond.fetch_add(1);
      MutexLock lock(&mu);
      if (stale_examples.size() < 5) {
        stale_examples.push_back("product " + std::to_string(id) + " answered version " + std::to_string(version) +
                                 " > " + std::to_string(ropt.bound_ms) + " ms after version " +
                                 std::to_string(expected.required) + " was written");
      }
    } else if (version < expected.returned_before) {
      stale_within.fetch_add(1);
    }
    return r->status;
  });
  stop_writer = true;
  writer.join();
  nlohmann::json j = SummaryJson("reads", summary, opt);
  AddCpu(j, *cpu, summary.requests);
  j["instances"] = endpoints.size();
  j["products"] = ropt.products;
  j["writes"] = writes_done.load();
  j["write_errors"] = write_errors.load();
  j["bound_ms"] = ropt.bound_ms;
  j["stale_beyond_bound"] = stale_beyond.load();
  j["stale_within_bound"] = stale_within.load();
  PrintHuman(j);
  std::fprintf(stderr, "reads: %lld PUTs; %lld GETs checked: %lld older than a PUT returned > %d ms before, %lld within the bound\n",
               static_cast<long long>(writes_done.load()), static_cast<long long>(checked.load()),
               static_cast<long long>(stale_beyond.load()), ropt.bound_ms, static_cast<long long>(stale_within.load()));
  std::vector<std::string> violations;
  {
    MutexLock lock(&mu);
    violations = stale_examples;
  }
  if (stale_beyond.load() > 0 && violations.empty()) violations.push_back("stale reads beyond the bound");
  return FinishRun(opt, j, violations, summary);
}

}  // namespace lockstep::bench
