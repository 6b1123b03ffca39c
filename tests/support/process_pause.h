#pragma once

#include <sys/types.h>

#include <chrono>

namespace lockstep::testing {

// Sends SIGSTOP to `pid` and waits until every one of its threads is stopped (state 'T' in
// /proc/<pid>/task/*/stat). kill() only queues the signal: a thread running on another core
// can still answer a request for a moment after it returns, so a test that needs "the
// server cannot answer now" awaits this. Returns false if that did not happen within
// `timeout` (the signal stays sent). Thread-safe.
bool StopProcessAndAwait(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// True when every thread of `pid` is stopped now. Thread-safe.
bool AllThreadsStopped(pid_t pid);

}  // namespace lockstep::testing
