#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "lockstep/base/deadline.h"
#include "lockstep/base/status.h"

namespace lockstep::lock {

namespace internal {
class Lease;
struct AcquireStart;
struct LockOwnerAccess;
}  // namespace internal

// The owner identity of locks: a token "<pid>-<random>-<counter>", unique per LockOwner
// in space and time. Keeps the registry that makes reentrant acquisition possible.
// Thread-safe. Create with std::make_shared.
class LockOwner {
 public:
  LockOwner();
  ~LockOwner();  // Out of line: Registry is private to the module.
  LockOwner(const LockOwner&) = delete;
  LockOwner& operator=(const LockOwner&) = delete;

  const std::string& token() const { return token_; }

 private:
  friend class internal::Lease;
  friend struct internal::LockOwnerAccess;
  struct Registry;
  const std::string token_;
  std::unique_ptr<Registry> registry_;
};

// A held distributed lock (STYLE.md R6). Move-only RAII: the destructor (or Release())
// drops one hold; the last hold stops renewal and compare-and-deletes the key(s) by owner
// token (a lost or expired lease is never deleted from under its new owner).
//
// Validity: every grant/renewal is valid until (moment the request was SENT, on the local
// monotonic clock) + lease - drift. Past that the guard is lost even if Redis has not
// answered. The remaining assumption: Redis expires keys on its own clock, and its clock
// does not run faster than ours by more than `drift` over one lease. A paused process
// (GC, SIGSTOP, swap) can still act after its lease ended: that is why every write under
// the lock must carry fence() to the resource (see fenced_write.h).
//
// Thread-safe: Check/fence/lost may be called from any thread; Release and destruction
// from one thread.
class LockGuard {
 public:
  LockGuard() = default;  // Empty: holds nothing; Check() fails.
  LockGuard(LockGuard&& other) noexcept;
  LockGuard& operator=(LockGuard&& other) noexcept;
  ~LockGuard();

  // OK while the lease is valid. kFailedPrecondition reason "lock_lost" once the lease
  // was lost (renewal refused or failed past validity; the on_lost callback fires once),
  // or reason "not_held" for an empty/released guard. Call it before every side effect.
  Status Check() const;
  bool lost() const;

  // The fencing token of this grant: unique and strictly increasing per lock name across
  // grants (reentrant guards of one lease share it). 0 for an empty guard.
  int64_t fence() const;
  // The lock name. Empty for an empty guard.
  const std::string& name() const;
  // Time by which the current lease ends (local clock); cut to the past once lost. Pass
  // it down as the deadline of work done under the lock.
  Deadline deadline() const;
  // Holds of the shared lease (reentrancy); 0 for an empty guard.
  int hold_count() const;

  // Drops this guard's hold now; the last hold deletes the key (compare-and-delete) and
  // returns: OK (the key was ours and is deleted); kFailedPrecondition reason "lock_lost"
  // (the key had expired or belongs to another owner: the lease was lost before this
  // release, so the work done under it was not protected from the moment of the loss —
  // the caller's last chance to learn it); kUnavailable etc. from Redis (the lease then
  // expires by itself). RedLock: the quorum outcome (OK when a quorum of nodes deleted
  // our key, "lock_lost" when too few still held it, kUnavailable when too few answered).
  // Idempotent: an empty or already released guard returns OK.
  Status Release();

 private:
  friend struct internal::AcquireStart;
  friend struct LockGuardTestPeer;
  explicit LockGuard(std::shared_ptr<internal::Lease> lease) : lease_(std::move(lease)) {}
  std::shared_ptr<internal::Lease> lease_;
};

}  // namespace lockstep::lock
