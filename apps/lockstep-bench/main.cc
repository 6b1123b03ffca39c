// lockstep-bench: load generator + invariant checker for shopd. Speaks API.md over HTTP
// only, plus SQL to verify the core tables after a run.
//   lockstep-bench transfers --url http://127.0.0.1:8080 --mysql mysql://...   (load + verify)
//   lockstep-bench verify --manifest run.json --mysql mysql://...               (re-check)
//   lockstep-bench flashsale --url ... --mysql ... --stock 100 --mode batched  (hot product)
//   lockstep-bench verify-flashsale --manifest sale.json --mysql mysql://...    (re-check)
//   (flashsale and verify-flashsale first wait until pending `reserved` orders settle)
//   lockstep-bench http-noop --url ...                 (GET /healthz: the HTTP overhead)
//   lockstep-bench reads --url A --url B --mysql ... --products 10000 --writes-per-s 20
//                                                      (zipf GETs + PUTs; staleness check)
//   lockstep-bench sql-baseline --mysql ...            (bare two-UPDATE transactions: the limit)
//   lockstep-bench sql-hotrow --mysql ...              (bare autocommit hot-row decrements: the limit)
// Progress goes to stderr once a second; the last stdout line is one JSON object.
// Exit codes: 0 ok, 1 invariant violated (or --max-5xx exceeded), 2 usage/setup error.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "cpu_meter.h"
#include "http_client.h"
#include "load_stats.h"
#include "lockstep/base/mutex.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/url.h"
#include "manifest.h"

namespace lockstep::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Endpoint {
  std::string host;
  int port;
};

struct CommonOptions {
  std::vector<std::string> urls{"http://127.0.0.1:8080"};
  std::string mysql = "mysql://lockstep:lockstep@127.0.0.1:13306/shop";
  int connections = 64;
  int64_t requests = 20'000;
  double duration_s = 0;  // > 0: run for this long instead of a fixed count.
  int timeout_ms = 10'000;
  uint64_t seed = 0;
  int64_t max_5xx = -1;  // >= 0: exit 1 if more 5xx answers than this.
  std::vector<std::string> cpu_pids;  // "label=pid": report their CPU time per request.
};

// The --cpu-pid meter of a run, started; nullopt (after printing why) on a bad flag.
std::optional<CpuMeter> StartCpuMeter(const CommonOptions& opt) {
  std::map<std::string, int> pids;
  for (const auto& text : opt.cpu_pids) {
    auto parsed = ParseCpuPid(text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s\n", parsed.status().ToString().c_str());
      return std::nullopt;
    }
    pids[parsed->first] = parsed->second;
  }
  auto meter = CpuMeter::Create(pids);
  if (!meter.ok()) {
    std::fprintf(stderr, "%s\n", meter.status().ToString().c_str());
    return std::nullopt;
  }
  meter->Start();
  return std::move(meter).value();
}

// Stops `meter` (unless stopped already) and adds "cpu_us_per_request" {label: CPU
// microseconds per request} to `j`.
void AddCpu(nlohmann::json& j, CpuMeter& meter, int64_t requests) {
  meter.Stop();
  nlohmann::json per = nlohmann::json::object();
  for (const auto& [label, seconds] : meter.Seconds()) {
    per[label] = requests > 0 ? seconds * 1e6 / static_cast<double>(requests) : 0.0;
  }
  j["cpu_us_per_request"] = per;
  nlohmann::json by_thread = nlohmann::json::object();
  for (const auto& [label, threads] : meter.SecondsByThread()) {
    if (label == "client") continue;
    for (const auto& [name, seconds] : threads) {
      if (seconds > 0) by_thread[label][name] = requests > 0 ? seconds * 1e6 / static_cast<double>(requests) : 0.0;
    }
  }
  j["cpu_us_per_request_by_thread"] = by_thread;
}

Result<std::vector<Endpoint>> Endpoints(const std::vector<std::string>& urls) {
  std::vector<Endpoint> out;
  for (const auto& u : urls) {
    LOCKSTEP_ASSIGN_OR_RETURN(auto hp, ParseHttpUrl(u));
    out.push_back({hp.first, hp.second});
  }
  return out;
}

Result<std::unique_ptr<sql::Pool>> OpenPool(const std::string& url, int connections) {
  LOCKSTEP_ASSIGN_OR_RETURN(sql::ConnectionOptions o, sql::ParseMysqlUrl(url));
  sql::PoolOptions po;
  po.max_connections = std::max(2, connections);
  po.acquire_timeout = std::chrono::seconds(10);
  return sql::Pool::Open(o, po);
}

// The shopd endpoints and a small MariaDB pool of a load run; prints what failed (the
// caller exits 2).
struct RunTargets {
  std::vector<Endpoint> endpoints;
  std::unique_ptr<sql::Pool> pool;
};
std::optional<RunTargets> OpenTargets(const CommonOptions& opt) {
  auto endpoints = Endpoints(opt.urls);
  if (!endpoints.ok()) {
    std::fprintf(stderr, "lockstep-bench: %s\n", endpoints.status().ToString().c_str());
    return std::nullopt;
  }
  auto pool = OpenPool(opt.mysql, 2);
  if (!pool.ok()) {
    std::fprintf(stderr, "lockstep-bench: cannot open --mysql: %s\n", pool.status().ToString().c_str());
    return std::nullopt;
  }
  return RunTargets{std::move(endpoints).value(), std::move(pool).value()};
}

// The integer field `key` of a flat JSON object as shopd writes it ("key":N, no spaces),
// found by a scan when it occurs once: the checkers parse ~30k bodies/s and a DOM costs a
// visible share of the load generator's CPU. Anything else takes the full parse; 0 if the
// body is not JSON or lacks the field. The bench's own strings (request ids, product
// names) are digits and dashes, so they cannot fake a match.
int64_t IntField(const std::string& body, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\":";
  const size_t at = body.find(quoted);
  if (at != std::string::npos && body.find(quoted, at + 1) == std::string::npos) {
    const char* begin = body.c_str() + at + quoted.size();
    char* end = nullptr;
    const long long v = std::strtoll(begin, &end, 10);
    if (end != begin && (*end == ',' || *end == '}')) return v;
  }
  try {
    return nlohmann::json::parse(body).value(std::string(key), int64_t{0});
  } catch (const std::exception&) {
    return 0;
  }
}

// A per-request random source, cheap to seed (std::mt19937_64 initialises 312 words per
// seeding, a visible share of the load generator's CPU at 30k requests/s). SplitMix64
// (Steele, Lea, Flood 2014). A UniformRandomBitGenerator; not thread-safe.
class SplitMix64 {
 public:
  using result_type = uint64_t;
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Runs `body(thread_index, request_index, client, shard)` on `connections` threads until the
// request budget or the duration is used up, printing a progress line every second.
template <typename Body>
LoadStats::Summary RunLoad(const CommonOptions& opt, const std::vector<Endpoint>& endpoints, const char* name,
                           Body body) {
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
      HttpClient client(ep.host, ep.port);
      LoadStats::Shard shard;
      for (;;) {
        const int64_t i = next.fetch_add(1);
        if (opt.duration_s > 0 ? Clock::now() >= stop_at : i >= opt.requests) break;
        const auto t0 = Clock::now();
        const int status = body(t, i, client, shard);
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

nlohmann::json SummaryJson(const char* scenario, const LoadStats::Summary& s) {
  nlohmann::json statuses = nlohmann::json::object();
  for (const auto& [status, count] : s.statuses) statuses[std::to_string(status)] = count;
  return {{"scenario", scenario},
          {"requests", s.requests},
          {"seconds", s.seconds},
          {"throughput", s.throughput},
          {"p50_ms", s.p50_us / 1000.0},
          {"p95_ms", s.p95_us / 1000.0},
          {"p99_ms", s.p99_us / 1000.0},
          {"max_ms", s.max_us / 1000.0},
          {"statuses", statuses}};
}

int64_t Count5xx(const LoadStats::Summary& s) {
  int64_t n = 0;
  for (const auto& [status, count] : s.statuses) {
    if (status >= 500 || status == 0) n += count;
  }
  return n;
}

void PrintHuman(const nlohmann::json& j) {
  std::fprintf(stderr, "%s: %lld requests in %.2fs = %.0f/s; p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms; statuses %s\n",
               j["scenario"].get<std::string>().c_str(), static_cast<long long>(j["requests"].get<int64_t>()),
               j["seconds"].get<double>(), j["throughput"].get<double>(), j["p50_ms"].get<double>(),
               j["p95_ms"].get<double>(), j["p99_ms"].get<double>(), j["max_ms"].get<double>(),
               j["statuses"].dump().c_str());
}

struct TransfersOptions {
  int accounts = 1000;
  int hot = 0;  // > 0: every transfer is among the first `hot` accounts.
  int64_t initial_balance = 100'000;
  int64_t max_amount = 100;
  int replay_every = 10;      // Every Nth request is sent again (must replay identically).
  int duplicate_every = 50;   // Every Nth request is sent twice at once (two connections).
  std::string manifest_path;  // Where to write the run manifest (optional).
  std::string prefix;         // request_id prefix; default: random per run.
};

std::string RequestHeaders(int timeout_ms) { return "X-Request-Timeout-Ms: " + std::to_string(timeout_ms) + "\r\n"; }

// Prints the violations and the summary line (with "invariants" and "violations" added);
// the exit code of a checked run: 0, or 1 when an invariant broke.
int PrintChecked(nlohmann::json j, const std::vector<std::string>& violations) {
  j["invariants"] = violations.empty() ? "ok" : "violated";
  j["violations"] = violations;
  for (const auto& v : violations) std::fprintf(stderr, "VIOLATION: %s\n", v.c_str());
  std::cout << j.dump() << std::endl;
  return violations.empty() ? 0 : 1;
}

// PrintChecked, then --max-5xx: 1 if more 5xx/transport errors than allowed.
int FinishRun(const CommonOptions& opt, nlohmann::json j, const std::vector<std::string>& violations,
              const LoadStats::Summary& summary) {
  const int rc = PrintChecked(std::move(j), violations);
  if (rc != 0) return rc;
  if (opt.max_5xx >= 0 && Count5xx(summary) > opt.max_5xx) {
    std::fprintf(stderr, "lockstep-bench: %lld 5xx/transport errors > --max-5xx %lld\n",
                 static_cast<long long>(Count5xx(summary)), static_cast<long long>(opt.max_5xx));
    return 1;
  }
  return 0;
}

// `verify` / `verify-flashsale`: re-checks a finished run from its manifest file.
template <typename Manifest, typename VerifyFn>
int RunVerifyManifest(const CommonOptions& opt, const std::string& manifest_path, const char* scenario,
                      VerifyFn verify) {
  std::ifstream in(manifest_path);
  if (!in) {
    std::fprintf(stderr, "lockstep-bench: cannot read manifest %s\n", manifest_path.c_str());
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto manifest = Manifest::FromJson(text.str());
  auto pool = OpenPool(opt.mysql, 2);
  if (!manifest.ok() || !pool.ok()) {
    std::fprintf(stderr, "lockstep-bench: %s\n", (!manifest.ok() ? manifest.status() : pool.status()).ToString().c_str());
    return 2;
  }
  auto violations = verify(**pool, *manifest);
  if (!violations.ok()) {
    std::fprintf(stderr, "verify: %s\n", violations.status().ToString().c_str());
    return 2;
  }
  return PrintChecked({{"scenario", scenario}}, *violations);
}

int RunTransfers(const CommonOptions& opt, const TransfersOptions& topt) {
  auto targets = OpenTargets(opt);
  if (!targets) return 2;
  auto* endpoints = &targets->endpoints;
  auto* pool = &targets->pool;
  std::mt19937_64 seed_rng(opt.seed != 0 ? opt.seed : std::random_device{}());
  TransfersManifest manifest;
  manifest.request_prefix = !topt.prefix.empty() ? topt.prefix : "b" + std::to_string(seed_rng() % 1'000'000'000) + "-";
  const std::string headers = RequestHeaders(opt.timeout_ms);

  // Setup: the accounts, created through the API.
  std::fprintf(stderr, "setup: creating %d accounts with balance %lld\n", topt.accounts,
               static_cast<long long>(topt.initial_balance));
  std::vector<int64_t> ids(static_cast<size_t>(topt.accounts));
  std::atomic<int> next{0};
  std::atomic<bool> setup_failed{false};
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < std::min(opt.connections, 16); ++t) {
      threads.emplace_back([&, t] {
        const Endpoint& ep = (*endpoints)[static_cast<size_t>(t) % endpoints->size()];
        HttpClient client(ep.host, ep.port);
        for (int i; (i = next.fetch_add(1)) < topt.accounts && !setup_failed;) {
          const nlohmann::json body = {{"owner", manifest.request_prefix + "owner-" + std::to_string(i)},
                                       {"balance", topt.initial_balance}};
          auto r = client.Send("POST", "/v1/accounts", body.dump(), Deadline::After(std::chrono::seconds(30)), headers);
          if (!r.ok() || r->status != 201) {
            std::fprintf(stderr, "setup: POST /v1/accounts failed: %s\n",
                         r.ok() ? (std::to_string(r->status) + " " + r->body).c_str() : r.status().ToString().c_str());
            setup_failed = true;
            return;
          }
          ids[static_cast<size_t>(i)] = nlohmann::json::parse(r->body).at("id").get<int64_t>();
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  if (setup_failed) return 2;
  for (int64_t id : ids) manifest.initial_balances[id] = topt.initial_balance;

  Mutex mu;
  std::map<std::string, TransfersManifest::Ack> answers;  // Guarded by mu.
  std::atomic<int64_t> replay_mismatches{0}, duplicate_mismatches{0};
  std::vector<std::string> mismatch_examples;  // Guarded by mu.
  auto note_mismatch = [&](std::atomic<int64_t>& counter, std::string what) {
    counter.fetch_add(1);
    MutexLock lock(&mu);
    if (mismatch_examples.size() < 5) mismatch_examples.push_back(std::move(what));
  };
  const size_t span = topt.hot > 0 ? std::min<size_t>(static_cast<size_t>(topt.hot), ids.size()) : ids.size();
  const uint64_t base_seed = seed_rng();

  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, *endpoints, "transfers", [&](int t, int64_t i, HttpClient& client, LoadStats::Shard&) {
    SplitMix64 rng(base_seed ^ (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull));
    const size_t a = rng() % span;
    size_t b = rng() % (span - 1);
    if (b >= a) ++b;
    const int64_t amount = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(topt.max_amount));
    const std::string rid = manifest.request_prefix + std::to_string(i);
    const std::string body = nlohmann::json{{"request_id", rid}, {"from", ids[a]}, {"to", ids[b]}, {"amount", amount}}.dump();
    const Deadline deadline = Deadline::After(std::chrono::milliseconds(opt.timeout_ms + 5000));

    Result<HttpResponse> r = Status::Internal("not sent");
    const bool duplicate = topt.duplicate_every > 0 && i % topt.duplicate_every == 1;
    if (duplicate) {
      // The same request at the same time on a second connection (to the next endpoint).
      const Endpoint& other = (*endpoints)[static_cast<size_t>(t + 1) % endpoints->size()];
      auto twin = std::async(std::launch::async, [&] {
        HttpClient c2(other.host, other.port);
        return c2.Send("POST", "/v1/transfers", body, deadline, headers);
      });
      r = client.Send("POST", "/v1/transfers", body, deadline, headers);
      auto r2 = twin.get();
      if (r.ok() && r2.ok() && r->status < 500 && r2->status < 500 && (r->status != r2->status || r->body != r2->body)) {
        note_mismatch(duplicate_mismatches, rid + ": concurrent duplicates answered " + std::to_string(r->status) +
                                                " " + r->body + " vs " + std::to_string(r2->status) + " " + r2->body);
      }
    } else {
      r = client.Send("POST", "/v1/transfers", body, deadline, headers);
    }
    if (!r.ok()) return 0;
    if (r->status == 200 || r->status == 404 || r->status == 409) {
      MutexLock lock(&mu);
      answers[rid] = {ids[a], ids[b], amount, r->status};
    }
    if (topt.replay_every > 0 && i % topt.replay_every == 0 && r->status < 500) {
      auto again = client.Send("POST", "/v1/transfers", body, deadline, headers);
      if (again.ok() && again->status < 500 &&
          (again->status != r->status || again->body != r->body || again->Header("idempotent-replay") != "true")) {
        note_mismatch(replay_mismatches, rid + ": replay answered " + std::to_string(again->status) + " " +
                                             again->body + " (Idempotent-Replay: " + again->Header("idempotent-replay") +
                                             ") vs original " + std::to_string(r->status) + " " + r->body);
      }
    }
    return r->status;
  });
  {
    MutexLock lock(&mu);
    manifest.answers = answers;
  }
  if (!topt.manifest_path.empty()) {
    std::ofstream(topt.manifest_path) << manifest.ToJson();
  }
  auto violations = VerifyTransfers(**pool, manifest);
  if (!violations.ok()) {
    std::fprintf(stderr, "verify: cannot read the database: %s\n", violations.status().ToString().c_str());
    return 2;
  }
  {
    MutexLock lock(&mu);
    for (const auto& m : mismatch_examples) violations->push_back(m);
  }
  if (replay_mismatches > 0) violations->push_back(std::to_string(replay_mismatches.load()) + " replay mismatches");
  if (duplicate_mismatches > 0) violations->push_back(std::to_string(duplicate_mismatches.load()) + " duplicate mismatches");

  nlohmann::json j = SummaryJson("transfers", summary);
  AddCpu(j, *cpu, summary.requests);
  j["accounts"] = topt.accounts;
  j["hot"] = topt.hot;
  j["connections"] = opt.connections;
  j["request_prefix"] = manifest.request_prefix;
  j["replay_mismatches"] = replay_mismatches.load();
  j["duplicate_mismatches"] = duplicate_mismatches.load();
  PrintHuman(j);
  return FinishRun(opt, std::move(j), *violations, summary);
}

struct FlashsaleOptions {
  int64_t stock = 100;
  std::string mode = "batched";  // row_lock | batched | reserved.
  double settle_timeout_s = 120;  // Wait at most this long for pending orders to settle.
  int64_t max_quantity = 1;      // Quantities are uniform in [1, N].
  int replay_every = 10;
  int duplicate_every = 50;
  std::string manifest_path;
  std::string prefix;
};

// The value of shopd_reserved_pending in `url`'s /metrics; nullopt if unreachable.
std::optional<int64_t> ReservedPending(const std::string& url) {
  auto hp = ParseHttpUrl(url);
  if (!hp.ok()) return std::nullopt;
  HttpClient client(hp->first, hp->second);
  auto r = client.Send("GET", "/metrics", "", Deadline::After(std::chrono::seconds(5)), "");
  if (!r.ok() || r->status != 200) return std::nullopt;
  const std::string key = "\nshopd_reserved_pending ";
  const size_t at = r->body.find(key);
  if (at == std::string::npos) return std::nullopt;
  return std::stoll(r->body.substr(at + key.size()));
}

// Pending (`reserved` mode) orders become confirmed shortly after their 201. Waits until
// a reachable shopd of `urls` reports no pending reservation on two polls more than two
// metric refreshes apart (then everything that will ever be persisted is: a reservation
// leaves the pending set only after its MariaDB commit); with no reachable shopd, until
// every 201 of the manifest has its order row. timeout_s 0 = do not wait. False on timeout.
bool AwaitSettled(sql::Pool& pool, const FlashsaleManifest& manifest, const std::vector<std::string>& urls,
                  double timeout_s) {
  if (timeout_s <= 0) return true;
  const auto give_up = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  int zero_polls = 0;
  while (Clock::now() < give_up) {
    std::optional<int64_t> pending;
    for (const auto& u : urls) {
      if ((pending = ReservedPending(u))) break;
    }
    if (pending) {
      zero_polls = *pending == 0 ? zero_polls + 1 : 0;
      if (zero_polls >= 2) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    bool rows_ok = false;
    if (auto conn = pool.Acquire(Deadline::After(std::chrono::seconds(10))); conn.ok()) {
      auto rows = conn->Query("SELECT request_id FROM orders WHERE LEFT(request_id, ?) = ?",
                              static_cast<int64_t>(manifest.request_prefix.size()), manifest.request_prefix,
                              Deadline::After(std::chrono::seconds(30)));
      if (rows.ok()) {
        std::set<std::string> present;
        for (const auto& row : *rows) {
          if (auto rid = row.GetString(0); rid.ok()) present.insert(*rid);
        }
        rows_ok = true;
        for (const auto& [rid, ack] : manifest.answers) {
          if (ack.status == 201 && present.count(rid) == 0) {
            rows_ok = false;
            break;
          }
        }
      }
    }
    if (rows_ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "lockstep-bench: orders did not settle within %.0f s\n", timeout_s);
  return false;
}

int RunFlashsale(const CommonOptions& opt, const FlashsaleOptions& fopt) {
  auto targets = OpenTargets(opt);
  if (!targets) return 2;
  auto* endpoints = &targets->endpoints;
  auto* pool = &targets->pool;
  std::mt19937_64 seed_rng(opt.seed != 0 ? opt.seed : std::random_device{}());
  FlashsaleManifest manifest;
  manifest.request_prefix = !fopt.prefix.empty() ? fopt.prefix : "f" + std::to_string(seed_rng() % 1'000'000'000) + "-";
  manifest.initial_stock = fopt.stock;
  const std::string headers = RequestHeaders(opt.timeout_ms);

  {
    HttpClient client((*endpoints)[0].host, (*endpoints)[0].port);
    const nlohmann::json body = {{"name", manifest.request_prefix + "flash"},
                                 {"price", 100},
                                 {"stock", fopt.stock},
                                 {"stock_mode", fopt.mode}};
    auto r = client.Send("POST", "/v1/products", body.dump(), Deadline::After(std::chrono::seconds(30)), headers);
    if (!r.ok() || r->status != 201) {
      std::fprintf(stderr, "setup: POST /v1/products failed: %s\n",
                   r.ok() ? (std::to_string(r->status) + " " + r->body).c_str() : r.status().ToString().c_str());
      return 2;
    }
    manifest.product_id = nlohmann::json::parse(r->body).at("id").get<int64_t>();
  }
  std::fprintf(stderr, "setup: product %lld with stock %lld (%s)\n", static_cast<long long>(manifest.product_id),
               static_cast<long long>(fopt.stock), fopt.mode.c_str());

  Mutex mu;
  // Answers sharded by request index: 64 threads record one per request.
  struct AnswerShard {
    Mutex mu;
    std::map<std::string, FlashsaleManifest::Ack> by_rid LOCKSTEP_GUARDED_BY(mu);
  };
  std::array<AnswerShard, 64> answers;
  std::atomic<int64_t> replay_mismatches{0}, duplicate_mismatches{0};
  std::vector<std::string> mismatch_examples;  // Guarded by mu.
  auto note_mismatch = [&](std::atomic<int64_t>& counter, std::string what) {
    counter.fetch_add(1);
    MutexLock lock(&mu);
    if (mismatch_examples.size() < 5) mismatch_examples.push_back(std::move(what));
  };
  const uint64_t base_seed = seed_rng();
  std::string prefix_json = nlohmann::json(manifest.request_prefix).dump();  // "prefix" ...
  prefix_json.pop_back();                                                  // ... "prefix

  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, *endpoints, "flashsale", [&](int t, int64_t i, HttpClient& client, LoadStats::Shard&) {
    SplitMix64 rng(base_seed ^ (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull));
    const int64_t quantity = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(fopt.max_quantity));
    const std::string rid = manifest.request_prefix + std::to_string(i);
    // The request id is the (escaped) prefix and digits: no DOM per request.
    const std::string body = R"({"request_id":)" + prefix_json + std::to_string(i) + R"(","user_id":)" +
                             std::to_string(i + 1) +
                             R"(,"product_id":)" + std::to_string(manifest.product_id) + R"(,"quantity":)" +
                             std::to_string(quantity) + "}";
    const Deadline deadline = Deadline::After(std::chrono::milliseconds(opt.timeout_ms + 5000));
    Result<HttpResponse> r = Status::Internal("not sent");
    if (fopt.duplicate_every > 0 && i % fopt.duplicate_every == 1) {
      const Endpoint& other = (*endpoints)[static_cast<size_t>(t + 1) % endpoints->size()];
      auto twin = std::async(std::launch::async, [&] {
        HttpClient c2(other.host, other.port);
        return c2.Send("POST", "/v1/orders", body, deadline, headers);
      });
      r = client.Send("POST", "/v1/orders", body, deadline, headers);
      auto r2 = twin.get();
      if (r.ok() && r2.ok() && r->status < 500 && r2->status < 500 && (r->status != r2->status || r->body != r2->body)) {
        note_mismatch(duplicate_mismatches, rid + ": concurrent duplicates answered " + std::to_string(r->status) +
                                                " " + r->body + " vs " + std::to_string(r2->status) + " " + r2->body);
      }
    } else {
      r = client.Send("POST", "/v1/orders", body, deadline, headers);
    }
    if (!r.ok()) return 0;
    if (r->status == 201 || r->status == 404 || (r->status == 409 && r->body.find("out_of_stock") != std::string::npos)) {
      int64_t order_id = 0;
      if (r->status == 201) {
        order_id = IntField(r->body, "id");
        if (order_id <= 0) note_mismatch(replay_mismatches, rid + ": 201 without an order id: " + r->body);
      }
      AnswerShard& shard = answers[static_cast<size_t>(i) % answers.size()];
      MutexLock lock(&shard.mu);
      shard.by_rid[rid] = {quantity, r->status, order_id};
    }
    if (fopt.replay_every > 0 && i % fopt.replay_every == 0 && r->status < 500) {
      auto again = client.Send("POST", "/v1/orders", body, deadline, headers);
      if (again.ok() && again->status < 500 &&
          (again->status != r->status || again->body != r->body || again->Header("idempotent-replay") != "true")) {
        note_mismatch(replay_mismatches, rid + ": replay answered " + std::to_string(again->status) + " " +
                                             again->body + " (Idempotent-Replay: " + again->Header("idempotent-replay") +
                                             ") vs original " + std::to_string(r->status) + " " + r->body);
      }
    }
    return r->status;
  });
  for (AnswerShard& shard : answers) {
    MutexLock lock(&shard.mu);
    manifest.answers.merge(shard.by_rid);
  }
  if (!fopt.manifest_path.empty()) std::ofstream(fopt.manifest_path) << manifest.ToJson();
  const auto settle_start = Clock::now();
  const bool settled = AwaitSettled(**pool, manifest, opt.urls, fopt.settle_timeout_s);
  cpu->Stop();  // Persisting reservations is part of an order's cost; verifying is not.
  const double settle_s = std::chrono::duration<double>(Clock::now() - settle_start).count();
  auto violations = VerifyFlashsale(**pool, manifest);
  if (!violations.ok()) {
    std::fprintf(stderr, "verify: cannot read the database: %s\n", violations.status().ToString().c_str());
    return 2;
  }
  {
    MutexLock lock(&mu);
    for (const auto& m : mismatch_examples) violations->push_back(m);
  }
  if (replay_mismatches > 0) violations->push_back(std::to_string(replay_mismatches.load()) + " replay mismatches");
  if (duplicate_mismatches > 0) violations->push_back(std::to_string(duplicate_mismatches.load()) + " duplicate mismatches");

  nlohmann::json j = SummaryJson("flashsale", summary);
  AddCpu(j, *cpu, summary.requests);
  int64_t confirmed = 0, sold = 0;
  for (const auto& [rid, a] : manifest.answers) {
    if (a.status == 201) {
      ++confirmed;
      sold += a.quantity;
    }
  }
  j["mode"] = fopt.mode;
  j["settle_seconds"] = settle_s;
  if (!settled) violations->push_back("orders did not settle within the settle timeout");
  j["stock"] = fopt.stock;
  j["product_id"] = manifest.product_id;
  j["confirmed"] = confirmed;
  j["units_sold"] = sold;
  j["connections"] = opt.connections;
  j["request_prefix"] = manifest.request_prefix;
  j["replay_mismatches"] = replay_mismatches.load();
  j["duplicate_mismatches"] = duplicate_mismatches.load();
  PrintHuman(j);
  return FinishRun(opt, std::move(j), *violations, summary);
}

int RunHttpNoop(const CommonOptions& opt) {
  auto endpoints = Endpoints(opt.urls);
  if (!endpoints.ok()) {
    std::fprintf(stderr, "lockstep-bench: %s\n", endpoints.status().ToString().c_str());
    return 2;
  }
  const std::string headers = RequestHeaders(opt.timeout_ms);
  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, *endpoints, "http-noop", [&](int, int64_t, HttpClient& client, LoadStats::Shard&) {
    auto r = client.Send("GET", "/healthz", "", Deadline::After(std::chrono::milliseconds(opt.timeout_ms)), headers);
    return r.ok() ? r->status : 0;
  });
  nlohmann::json j = SummaryJson("http-noop", summary);
  AddCpu(j, *cpu, summary.requests);
  j["connections"] = opt.connections;
  PrintHuman(j);
  std::cout << j.dump() << std::endl;
  return 0;
}

struct ReadsOptions {
  int products = 10'000;
  double zipf_s = 0.99;
  double writes_per_s = 20;
  int bound_ms = 50;  // Staleness bound checked (README "Consistent product cache").
  bool warmup = false;  // GET every product once on every instance before measuring.
};

// Zipf(s) over 1..n by inverse CDF. Immutable after construction: thread-safe.
// Zipf(s) sampler input: any UniformRandomBitGenerator.
class Zipf {
 public:
  Zipf(int n, double s) : cdf_(static_cast<size_t>(n)) {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += 1.0 / std::pow(i + 1, s);
    double acc = 0;
    for (int i = 0; i < n; ++i) {
      acc += 1.0 / std::pow(i + 1, s) / sum;
      cdf_[static_cast<size_t>(i)] = acc;
    }
  }
  // 0-based rank.
  template <typename Urbg>
  size_t Sample(Urbg& rng) const {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return std::min(static_cast<size_t>(it - cdf_.begin()), cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

// `reads`: C connections GET products chosen by zipf over N products (created by SQL),
// spread over every --url, while one writer PUTs a new price to a zipf-chosen product at
// W/s through the first --url. The staleness checker counts GETs that started more than
// --bound-ms after a PUT of that product returned and still answered an older version.
int RunReads(const CommonOptions& opt, const ReadsOptions& ropt) {
  auto targets = OpenTargets(opt);
  if (!targets) return 2;
  auto* endpoints = &targets->endpoints;
  auto* pool = &targets->pool;
  std::mt19937_64 seed_rng(opt.seed != 0 ? opt.seed : std::random_device{}());
  const std::string prefix = "r" + std::to_string(seed_rng() % 1'000'000'000) + "-";
  std::vector<int64_t> ids;
  {
    auto conn = (*pool)->Acquire(Deadline::After(std::chrono::seconds(10)));
    if (!conn.ok()) return 2;
    const Deadline d = Deadline::After(std::chrono::minutes(5));
    for (int start = 0; start < ropt.products; start += 1000) {
      std::string sql = "INSERT INTO products (name, price, stock, version, stock_mode) VALUES ";
      for (int i = start; i < std::min(ropt.products, start + 1000); ++i) {
        sql += (i == start ? "" : ",") + std::string("('") + prefix + std::to_string(i) + "', 100, 1000, 1, 'batched')";
      }
      if (!conn->Execute(sql, d).ok()) {
        std::fprintf(stderr, "setup: cannot insert products\n");
        return 2;
      }
    }
    auto rows = conn->Query("SELECT id FROM products WHERE name LIKE ? ORDER BY id", prefix + "%", d);
    if (!rows.ok()) return 2;
    for (const auto& row : *rows) ids.push_back(*row.GetInt64(0));
  }
  if (ids.size() != static_cast<size_t>(ropt.products)) {
    std::fprintf(stderr, "setup: expected %d products, found %zu\n", ropt.products, ids.size());
    return 2;
  }
  std::fprintf(stderr, "setup: %d products (zipf s=%.2f), writer %.1f PUT/s, bound %d ms\n", ropt.products, ropt.zipf_s,
               ropt.writes_per_s, ropt.bound_ms);
  const Zipf zipf(ropt.products, ropt.zipf_s);
  const std::string headers = RequestHeaders(opt.timeout_ms);
  if (ropt.warmup) {
    const auto warm_start = Clock::now();
    std::atomic<size_t> next{0};
    std::vector<std::thread> warmers;
    for (int t = 0; t < opt.connections; ++t) {
      warmers.emplace_back([&] {
        std::vector<std::unique_ptr<HttpClient>> clients;
        for (const Endpoint& ep : *endpoints) clients.push_back(std::make_unique<HttpClient>(ep.host, ep.port));
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
  const auto bound = std::chrono::milliseconds(ropt.bound_ms);

  struct Write {
    int64_t version;
    Clock::time_point returned;
  };
  // Returned PUTs per product, sharded so that readers of different products rarely meet
  // on one lock (64 reader threads).
  struct WriteShard {
    Mutex mu;
    std::map<int64_t, std::vector<Write>> by_id LOCKSTEP_GUARDED_BY(mu);
  };
  std::array<WriteShard, 64> write_log;
  auto shard_of = [&](int64_t id) -> WriteShard& { return write_log[static_cast<size_t>(id) % write_log.size()]; };
  Mutex mu;
  std::atomic<bool> stop_writer{false};
  std::atomic<int64_t> writes_done{0}, write_errors{0}, stale_beyond{0}, stale_within{0}, checked{0};
  std::vector<std::string> stale_examples;  // Guarded by mu.
  std::thread writer([&] {
    if (ropt.writes_per_s <= 0) return;
    HttpClient client((*endpoints)[0].host, (*endpoints)[0].port);
    std::mt19937_64 rng(seed_rng());
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
      WriteShard& shard = shard_of(id);
      MutexLock lock(&shard.mu);
      shard.by_id[id].push_back({version, returned});
    }
  });
  const uint64_t base_seed = seed_rng();
  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, *endpoints, "reads", [&](int, int64_t i, HttpClient& client, LoadStats::Shard&) {
    SplitMix64 rng(base_seed ^ (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull));
    const int64_t id = ids[zipf.Sample(rng)];
    const Clock::time_point started = Clock::now();
    auto r = client.Send("GET", "/v1/products/" + std::to_string(id), "",
                         Deadline::After(std::chrono::milliseconds(opt.timeout_ms)), headers);
    if (!r.ok()) return 0;
    if (r->status != 200) return r->status;
    const int64_t version = IntField(r->body, "version");
    int64_t required = 0;  // Newest version whose PUT returned more than `bound` before this GET.
    int64_t returned_before = 0;  // Newest version whose PUT returned before this GET started.
    {
      WriteShard& shard = shard_of(id);
      MutexLock lock(&shard.mu);
      auto it = shard.by_id.find(id);
      if (it != shard.by_id.end()) {
        for (const Write& w : it->second) {
          if (w.returned + bound < started) required = std::max(required, w.version);
          if (w.returned < started) returned_before = std::max(returned_before, w.version);
        }
      }
    }
    checked.fetch_add(1);
    if (version < required) {
      stale_beyond.fetch_add(1);
      MutexLock lock(&mu);
      if (stale_examples.size() < 5) {
        stale_examples.push_back("product " + std::to_string(id) + " answered version " + std::to_string(version) +
                                 " > " + std::to_string(ropt.bound_ms) + " ms after version " +
                                 std::to_string(required) + " was written");
      }
    } else if (version < returned_before) {
      stale_within.fetch_add(1);
    }
    return r->status;
  });
  stop_writer = true;
  writer.join();
  nlohmann::json j = SummaryJson("reads", summary);
  AddCpu(j, *cpu, summary.requests);
  j["connections"] = opt.connections;
  j["instances"] = endpoints->size();
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

// The limit a transfer endpoint is measured against: BEGIN; UPDATE a; UPDATE b; COMMIT on
// the same MariaDB with the same concurrency, no HTTP, no idempotency record.
int RunSqlBaseline(const CommonOptions& opt, int accounts) {
  auto pool = OpenPool(opt.mysql, opt.connections);
  if (!pool.ok()) {
    std::fprintf(stderr, "lockstep-bench: cannot open --mysql: %s\n", pool.status().ToString().c_str());
    return 2;
  }
  {
    auto conn = (*pool)->Acquire(Deadline::After(std::chrono::seconds(10)));
    if (!conn.ok()) return 2;
    const Deadline d = Deadline::After(std::chrono::minutes(1));
    if (!conn->Execute("CREATE TABLE IF NOT EXISTS bench_baseline (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB", d).ok() ||
        !conn->Execute("DELETE FROM bench_baseline", d).ok()) {
      std::fprintf(stderr, "lockstep-bench: cannot create bench_baseline\n");
      return 2;
    }
    for (int i = 1; i <= accounts; ++i) {
      if (!conn->Execute("INSERT INTO bench_baseline (id, balance) VALUES (?, 1000000000)", i, d).ok()) return 2;
    }
  }
  std::vector<Endpoint> none{{"", 0}};
  const uint64_t seed = opt.seed != 0 ? opt.seed : std::random_device{}();
  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, none, "sql-baseline", [&](int, int64_t i, HttpClient&, LoadStats::Shard&) {
    SplitMix64 rng(seed ^ (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull));
    int64_t a = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(accounts));
    int64_t b = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(accounts - 1));
    if (b >= a) ++b;
    if (a > b) std::swap(a, b);  // Ascending order, as shopd does: no lock-order deadlocks.
    sql::TxOptions tx_options;
    tx_options.isolation = sql::IsolationLevel::kReadCommitted;
    tx_options.server_statement_limit = false;
    auto tx = (*pool)->Begin(tx_options, Deadline::After(std::chrono::milliseconds(opt.timeout_ms)));
    if (!tx.ok()) return 503;
    if (!tx->Execute("UPDATE bench_baseline SET balance = balance - 1 WHERE id = ?", a).ok() ||
        !tx->Execute("UPDATE bench_baseline SET balance = balance + 1 WHERE id = ?", b).ok()) {
      return 503;
    }
    return tx->Commit().ok() ? 200 : 503;
  });
  nlohmann::json j = SummaryJson("sql-baseline", summary);
  AddCpu(j, *cpu, summary.requests);
  j["connections"] = opt.connections;
  j["accounts"] = accounts;
  PrintHuman(j);
  std::cout << j.dump() << std::endl;
  return 0;
}

// The MariaDB hot-row limit of issue 4: one row, autocommit conditional decrements, as
// many connections as the flash sale has. Stock never runs out (every UPDATE changes a row).
int RunSqlHotRow(const CommonOptions& opt) {
  auto pool = OpenPool(opt.mysql, opt.connections);
  if (!pool.ok()) {
    std::fprintf(stderr, "lockstep-bench: cannot open --mysql: %s\n", pool.status().ToString().c_str());
    return 2;
  }
  {
    auto conn = (*pool)->Acquire(Deadline::After(std::chrono::seconds(10)));
    if (!conn.ok()) return 2;
    const Deadline d = Deadline::After(std::chrono::minutes(1));
    if (!conn->Execute("CREATE TABLE IF NOT EXISTS bench_hotrow (id BIGINT PRIMARY KEY, stock BIGINT NOT NULL) ENGINE=InnoDB", d).ok() ||
        !conn->Execute("REPLACE INTO bench_hotrow (id, stock) VALUES (1, ?)", int64_t{1} << 40, d).ok()) {
      std::fprintf(stderr, "lockstep-bench: cannot create bench_hotrow\n");
      return 2;
    }
  }
  std::vector<Endpoint> none{{"", 0}};
  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, none, "sql-hotrow", [&](int, int64_t, HttpClient&, LoadStats::Shard&) {
    const Deadline d = Deadline::After(std::chrono::milliseconds(opt.timeout_ms));
    auto conn = (*pool)->Acquire(d);
    if (!conn.ok()) return 503;
    auto r = conn->Execute("UPDATE bench_hotrow SET stock = stock - 1 WHERE id = 1 AND stock >= 1", d);
    return r.ok() && r->affected_rows == 1 ? 200 : 503;
  });
  nlohmann::json j = SummaryJson("sql-hotrow", summary);
  AddCpu(j, *cpu, summary.requests);
  j["connections"] = opt.connections;
  PrintHuman(j);
  std::cout << j.dump() << std::endl;
  return 0;
}

void AddCommon(CLI::App* app, CommonOptions& o, bool http, bool mysql) {
  if (http) app->add_option("--url", o.urls, "shopd base URL(s); connections are spread over them")->capture_default_str();
  if (mysql) app->add_option("--mysql", o.mysql, "MariaDB URL for setup/verification")->capture_default_str();
  app->add_option("--connections,-c", o.connections, "Concurrent connections (threads)")->capture_default_str()->check(CLI::Range(1, 4096));
  app->add_option("--requests,-n", o.requests, "Requests in total")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--duration", o.duration_s, "Run for this many seconds instead of --requests")->check(CLI::NonNegativeNumber);
  app->add_option("--timeout-ms", o.timeout_ms, "X-Request-Timeout-Ms sent with each request")->capture_default_str()->check(CLI::Range(1, 600000));
  app->add_option("--seed", o.seed, "Random seed (0 = random)");
  app->add_option("--cpu-pid", o.cpu_pids,
                  "label=pid (repeatable): report that process's CPU time per request (this process is 'client')");
  app->add_option("--max-5xx", o.max_5xx, "Exit 1 if more 5xx/transport errors than this (-1 = no limit)")->capture_default_str();
}

}  // namespace
}  // namespace lockstep::bench

int main(int argc, char** argv) {
  using namespace lockstep::bench;
  CLI::App app{"lockstep-bench: load generator and invariant checker for shopd (API.md)"};
  app.require_subcommand(1);
  CommonOptions common;
  TransfersOptions topt;
  auto* transfers = app.add_subcommand("transfers", "Random transfers among N accounts; verifies money is conserved");
  AddCommon(transfers, common, true, true);
  transfers->add_option("--accounts", topt.accounts, "Accounts to create")->capture_default_str()->check(CLI::Range(2, 10'000'000));
  transfers->add_option("--hot", topt.hot, "Transfer only among the first N accounts (0 = all)")->capture_default_str()->check(CLI::Range(0, 10'000'000));
  transfers->add_option("--initial-balance", topt.initial_balance, "Balance of each new account")->capture_default_str()->check(CLI::NonNegativeNumber);
  transfers->add_option("--max-amount", topt.max_amount, "Amounts are uniform in [1, N]")->capture_default_str()->check(CLI::PositiveNumber);
  transfers->add_option("--replay-every", topt.replay_every, "Resend every Nth request (0 = never)")->capture_default_str();
  transfers->add_option("--duplicate-every", topt.duplicate_every, "Send every Nth request twice concurrently (0 = never)")->capture_default_str();
  transfers->add_option("--manifest", topt.manifest_path, "Write the run manifest (for `verify`) to this file");
  transfers->add_option("--prefix", topt.prefix, "request_id prefix (default: random per run)");
  std::string manifest_path;
  auto* verify = app.add_subcommand("verify", "Re-check the invariants of a finished transfers run");
  AddCommon(verify, common, false, true);
  verify->add_option("--manifest", manifest_path, "Manifest written by `transfers --manifest`")->required();
  FlashsaleOptions fopt;
  auto* flashsale = app.add_subcommand("flashsale", "Many buyers, one product with little stock; verifies no oversell");
  AddCommon(flashsale, common, true, true);
  flashsale->add_option("--stock", fopt.stock, "Initial stock of the product")->capture_default_str()->check(CLI::NonNegativeNumber);
  flashsale->add_option("--mode", fopt.mode, "stock_mode of the product")->capture_default_str()->check(CLI::IsMember({"row_lock", "batched", "reserved"}));
  flashsale->add_option("--settle-timeout", fopt.settle_timeout_s, "Seconds to wait for pending orders to settle before verifying")->capture_default_str()->check(CLI::NonNegativeNumber);
  flashsale->add_option("--max-quantity", fopt.max_quantity, "Quantities are uniform in [1, N]")->capture_default_str()->check(CLI::Range(1, 1'000'000));
  flashsale->add_option("--replay-every", fopt.replay_every, "Resend every Nth request (0 = never)")->capture_default_str();
  flashsale->add_option("--duplicate-every", fopt.duplicate_every, "Send every Nth request twice concurrently (0 = never)")->capture_default_str();
  flashsale->add_option("--manifest", fopt.manifest_path, "Write the run manifest (for `verify-flashsale`) to this file");
  flashsale->add_option("--prefix", fopt.prefix, "request_id prefix (default: random per run)");
  std::string flash_manifest_path;
  auto* verify_flash = app.add_subcommand("verify-flashsale", "Re-check the invariants of a finished flashsale run");
  AddCommon(verify_flash, common, false, true);
  verify_flash->add_option("--manifest", flash_manifest_path, "Manifest written by `flashsale --manifest`")->required();
  std::vector<std::string> settle_urls;
  double verify_settle_timeout_s = -1;  // Default: 120 with --settle-url, else 0.
  verify_flash->add_option("--settle-url", settle_urls, "shopd URL(s) whose /metrics must show no pending reservation first");
  verify_flash->add_option("--settle-timeout", verify_settle_timeout_s, "Seconds to wait for pending orders to settle (default: 120 with --settle-url, else 0 = none)")->check(CLI::NonNegativeNumber);
  auto* noop = app.add_subcommand("http-noop", "GET /healthz at the same concurrency (HTTP overhead)");
  AddCommon(noop, common, true, false);
  ReadsOptions ropt;
  auto* reads = app.add_subcommand("reads", "Zipf GETs of products + a PUT writer; counts stale reads beyond the bound");
  AddCommon(reads, common, true, true);
  reads->add_option("--products", ropt.products, "Products to create (by SQL)")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  reads->add_option("--zipf-s", ropt.zipf_s, "Zipf exponent of the key choice")->capture_default_str()->check(CLI::NonNegativeNumber);
  reads->add_option("--writes-per-s", ropt.writes_per_s, "PUTs per second (one writer, first --url)")->capture_default_str()->check(CLI::NonNegativeNumber);
  reads->add_flag("--warmup", ropt.warmup, "GET every product once on every instance before measuring");
  reads->add_option("--bound-ms", ropt.bound_ms, "Staleness bound to check")->capture_default_str()->check(CLI::Range(0, 600000));
  int baseline_accounts = 1000;
  auto* baseline = app.add_subcommand("sql-baseline", "Bare BEGIN; 2x UPDATE; COMMIT loop on MariaDB (the limit)");
  AddCommon(baseline, common, false, true);
  baseline->add_option("--accounts", baseline_accounts, "Rows to update")->capture_default_str()->check(CLI::Range(2, 10'000'000));
  auto* hotrow = app.add_subcommand(
      "sql-hotrow", "Bare autocommit UPDATE ... SET stock = stock - 1 WHERE id = 1 AND stock >= 1 loop (hot-row limit)");
  AddCommon(hotrow, common, false, true);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*transfers) {
    if (topt.hot == 1) {
      std::fprintf(stderr, "lockstep-bench: --hot needs at least 2 accounts\n");
      return 2;
    }
    return RunTransfers(common, topt);
  }
  if (*verify) {
    return RunVerifyManifest<TransfersManifest>(common, manifest_path, "verify",
                                                [](lockstep::sql::Pool& pool, const TransfersManifest& m) {
                                                  return VerifyTransfers(pool, m);
                                                });
  }
  if (*flashsale) {
    // The transfers default (20,000) is far more than a flash sale needs.
    if (flashsale->count("--requests") == 0 && flashsale->count("-n") == 0) common.requests = 2000;
    return RunFlashsale(common, fopt);
  }
  if (*verify_flash) {
    return RunVerifyManifest<FlashsaleManifest>(
        common, flash_manifest_path, "verify-flashsale",
        [&](lockstep::sql::Pool& pool, const FlashsaleManifest& m) -> lockstep::Result<std::vector<std::string>> {
          const double timeout_s = verify_settle_timeout_s >= 0 ? verify_settle_timeout_s : settle_urls.empty() ? 0 : 120;
          const bool settled = AwaitSettled(pool, m, settle_urls, timeout_s);
          LOCKSTEP_ASSIGN_OR_RETURN(std::vector<std::string> violations, VerifyFlashsale(pool, m));
          if (!settled) violations.push_back("orders did not settle within the settle timeout");
          return violations;
        });
  }
  if (*noop) return RunHttpNoop(common);
  if (*reads) return RunReads(common, ropt);
  if (*baseline) return RunSqlBaseline(common, baseline_accounts);
  if (*hotrow) return RunSqlHotRow(common);
  return 2;
}
