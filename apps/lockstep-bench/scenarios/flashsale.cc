#include "scenarios/flashsale.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "answer_shards.h"
#include "http_client/client.h"
#include "idempotency_probe.h"
#include "json_fields.h"
#include "load_runner.h"
#include "lockstep/base/mutex.h"
#include "manifest.h"
#include "report.h"
#include "run_setup.h"
#include "scenarios/settle.h"
#include "split_mix64.h"
#include "targets.h"

namespace lockstep::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Creates the sale's product through POST /v1/products; its id, or nullopt after printing
// the failure.
std::optional<int64_t> CreateProduct(const Endpoint& endpoint, const std::string& name, const FlashsaleOptions& fopt,
                                     const std::string& headers) {
  http_client::Client client(endpoint.host, endpoint.port);
  const nlohmann::json body = {{"name", name}, {"price", 100}, {"stock", fopt.stock}, {"stock_mode", fopt.mode}};
  auto r = client.Send("POST", "/v1/products", body.dump(), Deadline::After(std::chrono::seconds(30)), headers);
  if (!r.ok() || r->status != 201) {
    std::fprintf(stderr, "setup: POST /v1/products failed: %s\n",
                 r.ok() ? (std::to_string(r->status) + " " + r->body).c_str() : r.status().ToString().c_str());
    return std::nullopt;
  }
  return nlohmann::json::parse(r->body).at("id").get<int64_t>();
}

// Builds the POST /v1/orders bodies of a run without a DOM per request: the request id is
// the run's (JSON-escaped) prefix followed by digits.
class OrderBodies {
 public:
  OrderBodies(const std::string& request_prefix, int64_t product_id)
      : prefix_json_(nlohmann::json(request_prefix).dump()), product_id_(product_id) {
    prefix_json_.pop_back();  // "prefix" -> "prefix
  }

  std::string Body(int64_t index, int64_t quantity) const {
    return R"({"request_id":)" + prefix_json_ + std::to_string(index) + R"(","user_id":)" + std::to_string(index + 1) +
           R"(,"product_id":)" + std::to_string(product_id_) + R"(,"quantity":)" + std::to_string(quantity) + "}";
  }

 private:
  std::string prefix_json_;
  int64_t product_id_;
};

}  // namespace

int RunFlashsale(const CommonOptions& opt, const FlashsaleOptions& fopt) {
  std::optional<RunSetup> run = StartRun(opt, 'f', fopt.prefix);
  if (!run) return 2;
  const std::vector<Endpoint>& endpoints = run->targets.endpoints;
  FlashsaleManifest manifest;
  manifest.request_prefix = run->prefix;
  manifest.initial_stock = fopt.stock;
  const std::string headers = RequestHeaders(opt.timeout_ms);

  const std::optional<int64_t> product_id = CreateProduct(endpoints[0], manifest.request_prefix + "flash", fopt, headers);
  if (!product_id) return 2;
  manifest.product_id = *product_id;
  std::fprintf(stderr, "setup: product %lld with stock %lld (%s)\n", static_cast<long long>(manifest.product_id),
               static_cast<long long>(fopt.stock), fopt.mode.c_str());

  AnswerShards<FlashsaleManifest::Ack> answers;
  IdempotencyProbe probe(endpoints, headers, fopt.replay_every, fopt.duplicate_every);
  const uint64_t base_seed = run->seed_rng();
  const OrderBodies bodies(manifest.request_prefix, manifest.product_id);

  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, endpoints, "flashsale", [&](int t, int64_t i, http_client::Client& client) {
    SplitMix64 rng = SplitMix64::ForRequest(base_seed, i);
    const int64_t quantity = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(fopt.max_quantity));
    const std::string rid = manifest.request_prefix + std::to_string(i);
    const std::string body = bodies.Body(i, quantity);
    const Deadline deadline = Deadline::After(std::chrono::milliseconds(opt.timeout_ms + 5000));
    const Result<http_client::Response> r = probe.Send(t, i, client, "/v1/orders", rid, body, deadline);
    if (!r.ok()) return 0;
    if (r->status == 201 || r->status == 404 || (r->status == 409 && ErrorCode(r->body) == "out_of_stock")) {
      int64_t order_id = 0;
      if (r->status == 201) {
        order_id = IntField(r->body, "id");
        if (order_id <= 0) probe.NoteReplayMismatch(rid + ": 201 without an order id: " + r->body);
      }
      answers.Record(i, rid, {quantity, r->status, order_id});
    }
    probe.Replay(i, client, "/v1/orders", rid, body, deadline, *r);
    return r->status;
  });
  answers.MergeInto(manifest.answers);
  if (!fopt.manifest_path.empty()) std::ofstream(fopt.manifest_path) << manifest.ToJson();
  const auto settle_start = Clock::now();
  const bool settled = AwaitSettled(*run->targets.pool, manifest, opt.urls, fopt.settle_timeout_s);
  cpu->Stop();  // Persisting reservations is part of an order's cost; verifying is not.
  const double settle_s = std::chrono::duration<double>(Clock::now() - settle_start).count();
  std::optional<std::vector<std::string>> violations = TableViolations(VerifyFlashsale(*run->targets.pool, manifest));
  if (!violations) return 2;
  probe.AddViolations(*violations);

  nlohmann::json j = SummaryJson("flashsale", summary, opt);
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
  j["request_prefix"] = manifest.request_prefix;
  probe.AddCounts(j);
  PrintHuman(j);
  return FinishRun(opt, std::move(j), *violations, summary);
}

}  // namespace lockstep::bench
