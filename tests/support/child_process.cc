#include "support/child_process.h"

#include <spawn.h>

extern char** environ;

namespace lockstep::testing {

pid_t SpawnSelf(const std::string& test_filter, const std::vector<std::string>& extra_env) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string filter = "--gtest_filter=" + test_filter;
  std::string disabled = "--gtest_also_run_disabled_tests";
  std::vector<char*> argv = {exe.data(), filter.data(), disabled.data(), nullptr};
  pid_t child = -1;
  if (posix_spawn(&child, exe.c_str(), nullptr, nullptr, argv.data(), envp.data()) != 0) return -1;
  return child;
}

}  // namespace lockstep::testing
