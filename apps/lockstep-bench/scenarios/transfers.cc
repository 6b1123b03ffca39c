#include "scenarios/transfers.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client/client.h"
#include "idempotency_probe.h"
#include "load_runner.h"
#include "lockstep/base/mutex.h"
#include "manifest.h"
#include "report.h"
#include "run_setup.h"
#include "scenarios/create_entities.h"
#include "split_mix64.h"
#include "targets.h"

namespace lockstep::bench {

int RunTransfers(const CommonOptions& opt, const TransfersOptions& topt) {
  std::optional<RunSetup> run = StartRun(opt, 'b', topt.prefix);
  if (!run) return 2;
  const std::vector<Endpoint>& endpoints = run->targets.endpoints;
  TransfersManifest manifest;
  manifest.request_prefix = run->prefix;
  const std::string headers = RequestHeaders(opt.timeout_ms);

  // Setup: the accounts, created through the API.
  std::fprintf(stderr, "setup: creating %d accounts with balance %lld\n", topt.accounts,
               static_cast<long long>(topt.initial_balance));
  const std::optional<std::vector<int64_t>> created = CreateEntities(
      opt, endpoints, "/v1/accounts", topt.accounts,
      [&](int i) {
        return nlohmann::json{{"owner", manifest.request_prefix + "owner-" + std::to_string(i)},
                              {"balance", topt.initial_balance}}
            .dump();
      },
      headers);
  if (!created) return 2;
  const std::vector<int64_t>& ids = *created;
  for (int64_t id : ids) manifest.initial_balances[id] = topt.initial_balance;

  Mutex mu;
  std::map<std::string, TransfersManifest::Ack> answers;  // Guarded by mu.
  IdempotencyProbe probe(endpoints, headers, topt.replay_every, topt.duplicate_every);
  const size_t span = topt.hot > 0 ? std::min<size_t>(static_cast<size_t>(topt.hot), ids.size()) : ids.size();
  const uint64_t base_seed = run->seed_rng();

  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, endpoints, "transfers", [&](int t, int64_t i, http_client::Client& client) {
    SplitMix64 rng = SplitMix64::ForRequest(base_seed, i);
    const size_t a = rng() % span;
    size_t b = rng() % (span - 1);
    if (b >= a) ++b;
    const int64_t amount = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(topt.max_amount));
    const std::string rid = manifest.request_prefix + std::to_string(i);
    const std::string body = nlohmann::json{{"request_id", rid}, {"from", ids[a]}, {"to", ids[b]}, {"amount", amount}}.dump();
    const Deadline deadline = Deadline::After(std::chrono::milliseconds(opt.timeout_ms + 5000));

    const Result<http_client::Response> r = probe.Send(t, i, client, "/v1/transfers", rid, body, deadline);
    if (!r.ok()) return 0;
    if (r->status == 200 || r->status == 404 || r->status == 409) {
      MutexLock lock(&mu);
      answers[rid] = {ids[a], ids[b], amount, r->status};
    }
    probe.Replay(i, client, "/v1/transfers", rid, body, deadline, *r);
    return r->status;
  });
  {
    MutexLock lock(&mu);
    manifest.answers = answers;
  }
  if (!topt.manifest_path.empty()) {
    std::ofstream(topt.manifest_path) << manifest.ToJson();
  }
  std::optional<std::vector<std::string>> violations = TableViolations(VerifyTransfers(*run->targets.pool, manifest));
  if (!violations) return 2;
  probe.AddViolations(*violations);

  nlohmann::json j = SummaryJson("transfers", summary, opt);
  AddCpu(j, *cpu, summary.requests);
  j["accounts"] = topt.accounts;
  j["hot"] = topt.hot;
  j["request_prefix"] = manifest.request_prefix;
  probe.AddCounts(j);
  PrintHuman(j);
  return FinishRun(opt, std::move(j), *violations, summary);
}

}  // namespace lockstep::bench
