#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "lockstep/redis/client.h"
#include "lockstep/redis/options.h"

namespace lockstep::testing {

// Options for Redis master `index` of the private test stack (TestEnv ports), with test
// friendly timeouts (connect 1s, command 5s). Thread-safe.
redis::RedisOptions RedisTestOptions(int index = 0);

// gtest fixture for real-server Redis tests. SetUp opens client() on the first Redis master
// of TestEnv and fails the test (never skips) when the server does not answer PING.
// Each test gets its own key prefix "{t:<UniqueTestName>}:" (one hash tag, so multi-key
// commands and scripts stay valid on a cluster too); TearDown deletes every key under it
// (SCAN MATCH prefix*). Not thread-safe itself; client() is thread-safe.
class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  redis::Client& client() { return *client_; }
  const redis::RedisOptions& options() const { return options_; }
  // "{t:<test>}:<name>".
  std::string Key(std::string_view name) const { return prefix_ + std::string(name); }
  const std::string& prefix() const { return prefix_; }

 private:
  redis::RedisOptions options_;
  std::unique_ptr<redis::Client> client_;
  std::string prefix_;
};

}  // namespace lockstep::testing
