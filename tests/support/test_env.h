#pragma once

#include <string>
#include <vector>

namespace lockstep::testing {

// Connection settings of the private test servers, from the environment the ctest fixture
// sets (LOCKSTEP_MARIADB_PORT, LOCKSTEP_REPLICAS, LOCKSTEP_REDIS_PORT, LOCKSTEP_REDIS_COUNT, LOCKSTEP_STACK_DIR,
// LOCKSTEP_STACK_SCRIPT), with the stack script's defaults. Thread-safe (reads env only).
struct TestEnv {
  std::string mariadb_host = "127.0.0.1";
  int mariadb_port = 13306;
  int replica_port = 13307;       // Replica 0.
  std::vector<int> replica_ports;  // Replica I at replica_port + I (LOCKSTEP_REPLICAS, default 2).
  std::string mariadb_user = "lockstep";
  std::string mariadb_password = "lockstep";
  std::vector<int> redis_ports;  // One per Redis master.
  std::string stack_dir;
  std::string stack_script;

  static TestEnv FromEnvironment();
};

// Runs `scripts/stack.sh <args> --dir <stack_dir>` (e.g. "kill-redis 0"); returns its exit
// code. For fault tests that stop, kill and restart the real servers.
int RunStackCommand(const std::string& args);

// "<TestSuite>_<TestName>" of the running gtest, lower-cased, reduced to [a-z0-9_], at most
// 40 chars, plus "_<pid>": a name unique per test and process for databases and key prefixes.
std::string UniqueTestName();

}  // namespace lockstep::testing
