#include "support/test_env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <sstream>

namespace lockstep::testing {
namespace {
std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}
}  // namespace

TestEnv TestEnv::FromEnvironment() {
  TestEnv env;
  env.mariadb_host = Env("LOCKSTEP_MARIADB_HOST", env.mariadb_host);
  env.mariadb_port = std::stoi(Env("LOCKSTEP_MARIADB_PORT", "13306"));
  env.replica_port = std::stoi(Env("LOCKSTEP_REPLICA_PORT", std::to_string(env.mariadb_port + 1)));
  const int replicas = std::stoi(Env("LOCKSTEP_REPLICAS", "2"));
  for (int i = 0; i < replicas; ++i) env.replica_ports.push_back(env.replica_port + i);
  env.mariadb_user = Env("LOCKSTEP_MARIADB_USER", env.mariadb_user);
  env.mariadb_password = Env("LOCKSTEP_MARIADB_PASSWORD", env.mariadb_password);
  const int first_redis = std::stoi(Env("LOCKSTEP_REDIS_PORT", "16379"));
  const int redis_count = std::stoi(Env("LOCKSTEP_REDIS_COUNT", "1"));
  for (int i = 0; i < redis_count; ++i) env.redis_ports.push_back(first_redis + i);
  env.stack_dir = Env("LOCKSTEP_STACK_DIR", "");
  env.stack_script = Env("LOCKSTEP_STACK_SCRIPT", "scripts/stack.sh");
  return env;
}

int RunStackCommand(const std::string& args) {
  const TestEnv env = TestEnv::FromEnvironment();
  std::ostringstream cmd;
  cmd << env.stack_script << " " << args;
  if (!env.stack_dir.empty()) cmd << " --dir '" << env.stack_dir << "'";
  cmd << " >&2";
  const int rc = std::system(cmd.str().c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 255;
}

std::string UniqueTestName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string raw = info != nullptr ? std::string(info->test_suite_name()) + "_" + info->name() : "test";
  std::string out;
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) out.push_back(static_cast<char>(std::tolower(u)));
    else if (c == '_' || c == '/') out.push_back('_');
  }
  if (out.size() > 40) out.resize(40);
  return out + "_" + std::to_string(::getpid());
}

}  // namespace lockstep::testing
