#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "e2e/shopd_process.h"
#include "http_client/client.h"
#include "support/mariadb_test.h"
#include "support/test_env.h"

namespace lockstep::e2e {

using HttpClient = http_client::Client;
using HttpResponse = http_client::Response;

// gtest fixture for end-to-end tests: a fresh MariaDB database per test (MariaDbTest) and
// real shopd processes working on it. Not thread-safe, except Call/TryCall (one HttpClient
// per call).
class ShopdE2eTest : public testing::MariaDbTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // How to start one shopd beyond the defaults.
  struct Launch {
    std::vector<std::string> extra_args = {};
    std::vector<std::string> extra_env = {};  // "NAME=value".
    int mariadb_port = 0;  // 0: the fixture's MariaDB (else e.g. a FaultProxy's port).
    int redis_port = 0;    // 0: the fixture's Redis (else e.g. a FaultProxy's port).
  };
  // Forks one more shopd on this test's database (not awaited).
  ShopdProcess& LaunchShopd(Launch launch);
  ShopdProcess& LaunchShopd(std::vector<std::string> extra_args = {}) { return LaunchShopd(Launch{std::move(extra_args)}); }
  // Launches one more shopd and awaits its listening line. nullptr (and a test failure) if
  // it does not come up: `ShopdProcess* s = StartShopd(); ASSERT_NE(s, nullptr);`.
  ShopdProcess* StartShopd(Launch launch);
  ShopdProcess* StartShopd(std::vector<std::string> extra_args = {}) { return StartShopd(Launch{std::move(extra_args)}); }

  // One HTTP request on a fresh connection. `headers` are raw "Name: value\r\n" lines.
  Result<HttpResponse> TryCall(const ShopdProcess& shopd, std::string_view method, std::string_view target,
                               std::string_view body = {}, std::string_view headers = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // As TryCall; a transport error is a test failure and gives status 0.
  HttpResponse Call(const ShopdProcess& shopd, std::string_view method, std::string_view target,
                    std::string_view body = {}, std::string_view headers = {});
  // POST /v1/transfers.
  HttpResponse Transfer(const ShopdProcess& shopd, const std::string& request_id, int64_t from, int64_t to,
                        int64_t amount);
  // POST /v1/accounts; returns the id (0 and a test failure unless 201).
  int64_t CreateAccount(const ShopdProcess& shopd, const std::string& owner, int64_t balance);

  // POST /v1/products {"name":"pen","price":150,...}; the new id (0 and a failure unless 201).
  int64_t CreateProduct(const ShopdProcess& shopd, int64_t stock, const std::string& mode);
  // POST /v1/products {"name":name,"price":price,"stock":100}; the new id (0 and a failure unless 201).
  int64_t CreatePricedProduct(const ShopdProcess& shopd, const std::string& name, int64_t price);
  // GET /v1/products/{id}: its price (-1 and a failure unless 200).
  int64_t PriceOn(const ShopdProcess& shopd, int64_t id);
  // POST /v1/orders.
  HttpResponse Order(const ShopdProcess& shopd, const std::string& request_id, int64_t product, int64_t quantity,
                     int64_t user = 7);

  // One integer from a one-row, one-column query on the test database (-1 + failure on error).
  int64_t QueryInt(const std::string& sql);
  int64_t Balance(int64_t account_id);
  int64_t TransferRows(const std::string& request_id);
  // Every account row plus the row counts of transfers and request_records, as text: equal
  // snapshots mean nothing changed.
  std::string DbSnapshot();

  // mysql://lockstep:lockstep@127.0.0.1:<port>/<db> (for lockstep-bench).
  std::string MysqlUrl() const;

  const testing::TestEnv& env() const { return env_; }

 private:
  testing::TestEnv env_;
  std::vector<std::unique_ptr<ShopdProcess>> shopds_;
};

// Checks `r` is `status` with the API error body {"error":{"code":code,"message":"..."}}
// (nothing else in it, message non-empty).
::testing::AssertionResult IsApiError(const HttpResponse& r, int status, std::string_view code);

// The value of the sample `name` in the Prometheus text `text` whose labels include every
// `labels` pair ("k=\"v\"" each); -1 if absent. Label order does not matter.
double MetricValue(const std::string& text, const std::string& name, const std::vector<std::string>& labels = {});

// Polls `condition` every 20 ms until it holds or `limit` passed (then one last look).
bool AwaitCondition(const std::function<bool()>& condition, std::chrono::milliseconds limit = std::chrono::seconds(60));

// Parses a JSON body; null JSON (plus a failure) if it does not parse.
nlohmann::json ParseJson(const std::string& body);

}  // namespace lockstep::e2e
