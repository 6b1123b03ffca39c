#pragma once

#include <string>
#include <string_view>

namespace lockstep {

// Names the calling thread, so `top -H`, perf, gdb and /proc/<pid>/task/*/comm tell the
// library's and shopd's threads apart (e.g. "shopd-io", "order-batch.w"). Linux keeps the
// first 15 bytes; longer names are cut. Best effort: a failure is ignored. Thread-safe
// (affects only the calling thread).
void SetCurrentThreadName(std::string_view name);

// The calling thread's name ("" if it cannot be read). Thread-safe.
std::string CurrentThreadName();

}  // namespace lockstep
