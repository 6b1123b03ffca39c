#include "e2e/e2e_fixture.h"

#include <filesystem>
#include <sstream>
#include <thread>

#include "lockstep/sql/pool.h"

namespace lockstep::e2e {
namespace {
constexpr auto kDbDeadline = std::chrono::seconds(30);
}  // namespace

void ShopdE2eTest::SetUp() {
  MariaDbTest::SetUp();
  if (HasFatalFailure()) return;
  env_ = testing::TestEnv::FromEnvironment();
  ASSERT_FALSE(env_.redis_ports.empty());
  // Logs of a previous run of the same test (same pid is unlikely, but be exact).
  std::filesystem::remove_all(TestTempDir());
  TestTempDir();
}

void ShopdE2eTest::TearDown() {
  // Stop the processes before the database is dropped under them.
  shopds_.clear();
  MariaDbTest::TearDown();
  // Logs, manifests and bench output are kept only for failed tests.
  if (!HasFailure()) {
    std::error_code ignored;
    std::filesystem::remove_all(TestTempDir(), ignored);
  }
}

ShopdProcess& ShopdE2eTest::LaunchShopd(Launch launch) {
  ShopdOptions o;
  o.mariadb_port = launch.mariadb_port != 0 ? launch.mariadb_port : env_.mariadb_port;
  o.database = database();
  o.redis_port = launch.redis_port != 0 ? launch.redis_port : env_.redis_ports.front();
  o.log_path = TestTempDir() + "/shopd-" + std::to_string(shopds_.size()) + ".log";
  o.extra_args = std::move(launch.extra_args);
  o.extra_env = std::move(launch.extra_env);
  shopds_.push_back(std::make_unique<ShopdProcess>(std::move(o)));
  ShopdProcess& p = *shopds_.back();
  const std::string error = p.Launch();
  EXPECT_EQ(error, "") << "cannot launch " << ShopdBinary();
  return p;
}

ShopdProcess* ShopdE2eTest::StartShopd(Launch launch) {
  ShopdProcess& p = LaunchShopd(std::move(launch));
  const std::string error = p.AwaitListening();
  if (!error.empty()) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  return &p;
}

Result<HttpResponse> ShopdE2eTest::TryCall(const ShopdProcess& shopd, std::string_view method,
                                           std::string_view target, std::string_view body, std::string_view headers,
                                           std::chrono::milliseconds timeout) {
  HttpClient client("127.0.0.1", shopd.port());
  return client.Send(method, target, body, Deadline::After(timeout), headers);
}

HttpResponse ShopdE2eTest::Call(const ShopdProcess& shopd, std::string_view method, std::string_view target,
                                std::string_view body, std::string_view headers) {
  auto r = TryCall(shopd, method, target, body, headers);
  if (!r.ok()) {
    ADD_FAILURE() << method << " " << target << " failed: " << r.status();
    return HttpResponse{};
  }
  return *r;
}

HttpResponse ShopdE2eTest::Transfer(const ShopdProcess& shopd, const std::string& request_id, int64_t from,
                                    int64_t to, int64_t amount) {
  const nlohmann::json body = {{"request_id", request_id}, {"from", from}, {"to", to}, {"amount", amount}};
  return Call(shopd, "POST", "/v1/transfers", body.dump());
}

int64_t ShopdE2eTest::CreateAccount(const ShopdProcess& shopd, const std::string& owner, int64_t balance) {
  const HttpResponse r = Call(shopd, "POST", "/v1/accounts", nlohmann::json{{"owner", owner}, {"balance", balance}}.dump());
  if (r.status != 201) {
    ADD_FAILURE() << "POST /v1/accounts " << owner << ": " << r.status << " " << r.body;
    return 0;
  }
  return ParseJson(r.body).value("id", int64_t{0});
}

int64_t ShopdE2eTest::CreateProduct(const ShopdProcess& shopd, int64_t stock, const std::string& mode) {
  const HttpResponse r =
      Call(shopd, "POST", "/v1/products",
           nlohmann::json{{"name", "pen"}, {"price", 150}, {"stock", stock}, {"stock_mode", mode}}.dump());
  if (r.status != 201) {
    ADD_FAILURE() << "POST /v1/products: " << r.status << " " << r.body;
    return 0;
  }
  return ParseJson(r.body).value("id", int64_t{0});
}

int64_t ShopdE2eTest::CreatePricedProduct(const ShopdProcess& shopd, const std::string& name, int64_t price) {
  const HttpResponse r =
      Call(shopd, "POST", "/v1/products", nlohmann::json{{"name", name}, {"price", price}, {"stock", 100}}.dump());
  EXPECT_EQ(r.status, 201) << r.body;
  return ParseJson(r.body).value("id", int64_t{0});
}

int64_t ShopdE2eTest::PriceOn(const ShopdProcess& shopd, int64_t id) {
  const HttpResponse r = Call(shopd, "GET", "/v1/products/" + std::to_string(id));
  EXPECT_EQ(r.status, 200) << r.body;
  return ParseJson(r.body).value("price", int64_t{-1});
}

HttpResponse ShopdE2eTest::Order(const ShopdProcess& shopd, const std::string& request_id, int64_t product,
                                 int64_t quantity, int64_t user) {
  return Call(shopd, "POST", "/v1/orders",
              nlohmann::json{{"request_id", request_id}, {"user_id", user}, {"product_id", product},
                             {"quantity", quantity}}
                  .dump());
}

int64_t ShopdE2eTest::QueryInt(const std::string& sql) {
  const Deadline deadline = Deadline::After(kDbDeadline);
  auto conn = pool().Acquire(deadline);
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status();
    return -1;
  }
  auto rows = conn->Query(sql, deadline);
  if (!rows.ok() || rows->size() != 1) {
    ADD_FAILURE() << sql << ": " << (rows.ok() ? "not one row" : rows.status().ToString());
    return -1;
  }
  if (auto null = (*rows)[0].IsNull(0); null.ok() && *null) return 0;  // SUM of no rows.
  auto v = (*rows)[0].GetInt64(0);
  if (!v.ok()) {
    ADD_FAILURE() << sql << ": " << v.status();
    return -1;
  }
  return *v;
}

int64_t ShopdE2eTest::Balance(int64_t account_id) {
  return QueryInt("SELECT balance FROM accounts WHERE id = " + std::to_string(account_id));
}

int64_t ShopdE2eTest::TransferRows(const std::string& request_id) {
  const Deadline deadline = Deadline::After(kDbDeadline);
  auto conn = pool().Acquire(deadline);
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status();
    return -1;
  }
  auto rows = conn->Query("SELECT COUNT(*) FROM transfers WHERE request_id = ?", request_id, deadline);
  if (!rows.ok()) {
    ADD_FAILURE() << rows.status();
    return -1;
  }
  return *(*rows)[0].GetInt64(0);
}

std::string ShopdE2eTest::DbSnapshot() {
  const Deadline deadline = Deadline::After(kDbDeadline);
  auto conn = pool().Acquire(deadline);
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status();
    return "";
  }
  std::string out;
  auto rows = conn->Query("SELECT id, owner, balance, version FROM accounts ORDER BY id", deadline);
  if (!rows.ok()) {
    ADD_FAILURE() << rows.status();
    return "";
  }
  for (const auto& row : *rows) {
    out += std::to_string(row.GetInt64(0).value_or(-1)) + "|" + row.GetString(1).value_or("?") + "|" +
           std::to_string(row.GetInt64(2).value_or(-1)) + "|" + std::to_string(row.GetInt64(3).value_or(-1)) + "\n";
  }
  out += "transfers=" + std::to_string(QueryInt("SELECT COUNT(*) FROM transfers")) + "\n";
  out += "request_records=" + std::to_string(QueryInt("SELECT COUNT(*) FROM request_records")) + "\n";
  return out;
}

std::string ShopdE2eTest::MysqlUrl() const {
  return "mysql://lockstep:lockstep@127.0.0.1:" + std::to_string(env_.mariadb_port) + "/" + database();
}

::testing::AssertionResult IsApiError(const HttpResponse& r, int status, std::string_view code) {
  if (r.status != status) {
    return ::testing::AssertionFailure() << "status " << r.status << " != " << status << ", body " << r.body;
  }
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.size() != 1 || !j.contains("error") || !j["error"].is_object()) {
    return ::testing::AssertionFailure() << "not an API error body: " << r.body;
  }
  const auto& e = j["error"];
  if (e.size() != 2 || !e.contains("code") || !e["code"].is_string() || !e.contains("message") ||
      !e["message"].is_string() || e["message"].get<std::string>().empty()) {
    return ::testing::AssertionFailure() << "error must have exactly a string code and a non-empty message: " << r.body;
  }
  if (e["code"].get<std::string>() != code) {
    return ::testing::AssertionFailure() << "code " << e["code"] << " != " << code << ", body " << r.body;
  }
  if (r.Header("content-type").find("application/json") == std::string::npos) {
    return ::testing::AssertionFailure() << "Content-Type " << r.Header("content-type") << " is not JSON";
  }
  return ::testing::AssertionSuccess();
}

nlohmann::json ParseJson(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "not JSON: " << body;
    return nullptr;
  }
  return j;
}

double MetricValue(const std::string& text, const std::string& name, const std::vector<std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
    const size_t close = line.find('}');
    const std::string label_text = close == std::string::npos ? "" : line.substr(0, close);
    bool all = true;
    for (const std::string& l : labels) all = all && label_text.find(l) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

bool AwaitCondition(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // Polling a condition another process sets.
  }
  return condition();
}

}  // namespace lockstep::e2e
