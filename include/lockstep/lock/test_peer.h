#pragma once

#include <cstdint>
#include <string>

namespace lockstep::lock {

class LockGuard;

// Test-only access to a guard's internals, for tests and fault-injection tools built
// against the public headers. Nothing here is part of the lock's contract; production code
// must not call it. All functions REQUIRE a guard that holds (or held) a grant.
struct LockGuardTestPeer {
  // Stops renewing the guard's lease, as if its process were paused: the lease runs out.
  // Thread-safe.
  static void PauseRenewals(LockGuard& guard);
  // The grant's owner token (the lock key's value in Redis). Thread-safe.
  static const std::string& Token(const LockGuard& guard);
  // The waiter-queue ticket the grant was made on (0: granted without queueing; always 0
  // for RedLock). Thread-safe.
  static int64_t QueueTicket(const LockGuard& guard);
};

}  // namespace lockstep::lock
