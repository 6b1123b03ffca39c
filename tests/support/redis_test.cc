#include "support/redis_test.h"

#include <chrono>
#include <thread>
#include <vector>

#include "support/test_env.h"

namespace lockstep::testing {

using namespace std::chrono_literals;

redis::RedisOptions RedisTestOptions(int index) {
  const TestEnv env = TestEnv::FromEnvironment();
  redis::RedisOptions options;
  options.host = "127.0.0.1";
  options.port = env.redis_ports.at(static_cast<size_t>(index));
  options.connect_timeout = 1s;
  options.command_timeout = 5s;
  return options;
}

void RedisTest::SetUp() {
  options_ = RedisTestOptions(0);
  prefix_ = "{t:" + UniqueTestName() + "}:";
  Result<std::unique_ptr<redis::Client>> client = redis::Client::Open(options_);
  ASSERT_TRUE(client.ok()) << client.status();
  client_ = std::move(client).value();
  // Servers are started by the ctest fixture; an unreachable one is a failure, not a skip.
  const Status ping = client_->Ping(Deadline::After(10s));
  ASSERT_TRUE(ping.ok()) << "redis at " << options_.ToString() << " unreachable: " << ping;
}

void RedisTest::TearDown() {
  if (client_ == nullptr) return;
  // Tests may have restarted or paused the server: allow it time to come back.
  const Deadline deadline = Deadline::After(20s);
  std::string cursor = "0";
  while (true) {
    Result<redis::Reply> page =
        client_->Command({"SCAN", cursor, "MATCH", prefix_ + "*", "COUNT", "1000"}, deadline);
    if (!page.ok()) {
      // A test may just have restarted the server: retry the page until the deadline.
      if (page.status().code() == StatusCode::kUnavailable && !deadline.expired()) {
        std::this_thread::sleep_for(20ms);  // Retry pacing, not synchronisation.
        continue;
      }
      ADD_FAILURE() << "redis cleanup: " << page.status();
      return;
    }
    cursor = page->array().at(0).str();
    std::vector<std::string> keys;
    for (const redis::Reply& k : page->array().at(1).array()) keys.push_back(k.str());
    Result<int64_t> deleted = client_->Del(keys, deadline);
    EXPECT_TRUE(deleted.ok()) << deleted.status();
    if (cursor == "0") break;
  }
  client_.reset();
}

}  // namespace lockstep::testing
