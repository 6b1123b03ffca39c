#include "scenarios/checkouts.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
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
#include "lockstep/sql/pool.h"
#include "report.h"
#include "run_setup.h"
#include "scenarios/checkouts_verify.h"
#include "scenarios/create_entities.h"
#include "split_mix64.h"
#include "targets.h"

namespace lockstep::bench {
int RunCheckouts(const CommonOptions& opt, const CheckoutsOptions& copt) {
  std::optional<RunSetup> run = StartRun(opt, 'k', copt.prefix);
  if (!run) return 2;
  auto payments = OpenPool(copt.payments_mysql.empty() ? opt.mysql : copt.payments_mysql, 2);
  if (!payments.ok()) {
    std::fprintf(stderr, "lockstep-bench: payments database: %s\n", payments.status().ToString().c_str());
    return 2;
  }
  const std::vector<Endpoint>& endpoints = run->targets.endpoints;
  const std::string headers = RequestHeaders(opt.timeout_ms);
  CheckoutsRun record;
  record.request_prefix = run->prefix;
  record.merchant = copt.merchant;

  std::fprintf(stderr, "setup: %d buyers with %lld, %d products with stock %lld at %lld\n", copt.accounts,
               static_cast<long long>(copt.initial_balance), copt.products, static_cast<long long>(copt.stock),
               static_cast<long long>(copt.price));
  const auto buyers = CreateEntities(
      opt, endpoints, "/v1/accounts", copt.accounts,
      [&](int i) {
        return nlohmann::json{{"owner", record.request_prefix + "buyer-" + std::to_string(i)},
                              {"balance", copt.initial_balance}}
            .dump();
      },
      headers);
  const auto products = CreateEntities(
      opt, endpoints, "/v1/products", copt.products,
      [&](int i) {
        return nlohmann::json{{"name", record.request_prefix + "item-" + std::to_string(i)},
                              {"price", copt.price},
                              {"stock", copt.stock},
                              {"stock_mode", "batched"}}
            .dump();
      },
      headers);
  if (!buyers || !products) return 2;
  for (int64_t id : *buyers) record.initial_balances[id] = copt.initial_balance;
  for (int64_t id : *products) record.initial_stock[id] = copt.stock;
  {
    auto conn = (*payments)->Acquire(Deadline::After(std::chrono::seconds(30)));
    auto rows = conn.ok() ? conn->Query("SELECT balance + frozen FROM accounts WHERE id = ?", copt.merchant)
                          : Result<sql::Rows>(conn.status());
    if (!rows.ok() || rows->empty()) {
      std::fprintf(stderr, "setup: merchant account %lld not readable: %s\n", static_cast<long long>(copt.merchant),
                   rows.ok() ? "no such account" : rows.status().ToString().c_str());
      return 2;
    }
    record.initial_balances[copt.merchant] = (*rows)[0].GetInt64(0).value_or(0);
  }

  AnswerShards<CheckoutsRun::Ack> answers;
  IdempotencyProbe probe(endpoints, headers, copt.replay_every, copt.duplicate_every);
  const uint64_t base_seed = run->seed_rng();
  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, endpoints, "checkouts", [&](int t, int64_t i, http_client::Client& client) {
    SplitMix64 rng = SplitMix64::ForRequest(base_seed, i);
    const int64_t buyer = (*buyers)[rng() % buyers->size()];
    const int64_t product = (*products)[rng() % products->size()];
    const int64_t quantity = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(copt.max_quantity));
    const std::string rid = record.request_prefix + std::to_string(i);
    const std::string body = nlohmann::json{{"request_id", rid},
                                            {"account_id", buyer},
                                            {"product_id", product},
                                            {"quantity", quantity}}
                                 .dump();
    const Deadline deadline = Deadline::After(std::chrono::milliseconds(opt.timeout_ms + 5000));
    const Result<http_client::Response> r = probe.Send(t, i, client, "/v1/checkouts", rid, body, deadline);
    if (!r.ok()) return 0;
    const std::string code = r->status == 409 ? ErrorCode(r->body) : "";
    if (r->status == 201 || code == "insufficient_funds" || code == "out_of_stock") {
      CheckoutsRun::Ack a{r->status, code, 0, 0, 0};
      if (r->status == 201) {
        a.id = IntField(r->body, "id");
        a.amount = IntField(r->body, "amount");
        a.order_id = IntField(r->body, "order_id");
      }
      answers.Record(i, rid, a);
    }
    probe.Replay(i, client, "/v1/checkouts", rid, body, deadline, *r);
    return r->status;
  });
  cpu->Stop();
  answers.MergeInto(record.answers);
  if (!copt.manifest_path.empty()) std::ofstream(copt.manifest_path) << record.ToJson();
  std::vector<std::string> violations;
  const bool settled =
      AwaitCheckoutsSettled(*run->targets.pool, record, copt.settle_timeout_s, copt.recovery_ms, violations);
  if (!settled) violations.push_back("checkouts did not settle within the settle timeout");
  std::optional<std::vector<std::string>> checked =
      TableViolations(VerifyCheckouts(*run->targets.pool, **payments, record));
  if (!checked) return 2;
  violations.insert(violations.end(), checked->begin(), checked->end());
  probe.AddViolations(violations);

  nlohmann::json j = SummaryJson("checkouts", summary, opt);
  AddCpu(j, *cpu, summary.requests);
  int64_t completed = 0, no_funds = 0, no_stock = 0;
  for (const auto& [rid, a] : record.answers) {
    completed += a.status == 201 ? 1 : 0;
    no_funds += a.code == "insufficient_funds" ? 1 : 0;
    no_stock += a.code == "out_of_stock" ? 1 : 0;
  }
  j["completed"] = completed;
  j["insufficient_funds"] = no_funds;
  j["out_of_stock"] = no_stock;
  j["accounts"] = copt.accounts;
  j["products"] = copt.products;
  j["request_prefix"] = record.request_prefix;
  probe.AddCounts(j);
  PrintHuman(j);
  return FinishRun(opt, std::move(j), violations, summary);
}

int RunVerifyCheckouts(const CommonOptions& opt, const std::string& manifest_path, const std::string& payments_mysql,
                       double settle_timeout_s) {
  std::ifstream in(manifest_path);
  std::stringstream text;
  text << in.rdbuf();
  auto record = CheckoutsRun::FromJson(text.str());
  auto shop = OpenPool(opt.mysql, 2);
  auto payments = OpenPool(payments_mysql.empty() ? opt.mysql : payments_mysql, 2);
  if (!in || !record.ok() || !shop.ok() || !payments.ok()) {
    std::fprintf(stderr, "lockstep-bench: %s\n",
                 !in            ? ("cannot read manifest " + manifest_path).c_str()
                 : !record.ok() ? record.status().ToString().c_str()
                 : !shop.ok()   ? shop.status().ToString().c_str()
                                : payments.status().ToString().c_str());
    return 2;
  }
  std::vector<std::string> violations;
  // No bound on how long a checkout may have been trying here: the run is over.
  if (!AwaitCheckoutsSettled(**shop, *record, settle_timeout_s, INT64_MAX, violations)) {
    violations.push_back("checkouts did not settle within the settle timeout");
  }
  std::optional<std::vector<std::string>> checked = TableViolations(VerifyCheckouts(**shop, **payments, *record));
  if (!checked) return 2;
  violations.insert(violations.end(), checked->begin(), checked->end());
  return PrintChecked({{"scenario", "verify-checkouts"}}, violations);
}

}  // namespace lockstep::bench
