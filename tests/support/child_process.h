#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace lockstep::testing {

// Starts this test binary again as a child process running only `test_filter` (usually a
// DISABLED_ test that acts as the child's body), with this process's environment plus
// `extra_env` ("NAME=value" strings). Returns the child's pid, or -1 if posix_spawn failed.
// The caller waits for (and, on failure paths, kills) the child. Thread-safe.
pid_t SpawnSelf(const std::string& test_filter, const std::vector<std::string>& extra_env);

}  // namespace lockstep::testing
