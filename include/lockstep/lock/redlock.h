#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/lock/lock_guard.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/lock/options.h"
#include "lockstep/redis/client.h"

namespace lockstep::lock {

namespace internal {
class RedLockCore;
}  // namespace internal

// Redlock over N independent Redis masters.
//
// READ THIS FIRST: Redlock is an efficiency device (it keeps two workers from usually
// doing the same job, and survives the loss of a minority of masters). It is NOT a
// correctness device on its own: a paused process, a clock jump or a master that restarts
// without its data can let two holders overlap. Correctness comes from the fence check at
// the resource (fenced_write.h): every write under the lock must carry guard.fence().
//
// Grant: the single-node grant script (SET NX PX + INCR of the node's fence counter) runs
// on every node; it succeeds if a quorum (N/2 + 1) granted and validity = lease -
// elapsed-since-send - drift is still positive. The fence is the max of the granting
// nodes' counters, then written back (counter = max(counter, fence)) on the granting nodes
// while they still hold our token; only if a quorum took it is the guard returned. Any
// later grant's quorum intersects ours on a node that saw the write-back before our key
// there vanished, so its fence is larger: fences are strictly increasing per name even
// when failed attempts bumped only a minority. On any failure the attempt releases
// everywhere. Renewal needs a quorum too. Waiting retries with jittered backoff capped at
// poll_interval (no pub/sub across nodes). A majority of nodes failing (down, refused)
// fails fast with kUnavailable; when too few answered because some were only late (no
// reply within the per-node budget: a stalled node, a loaded machine), a waiting Acquire
// retries with backoff until its deadline and then returns kUnavailable; TryAcquire makes
// one attempt.
//
// Fence durability: as LockService, on every node (appendonly yes + appendfsync always).
//
// Thread-safe. REQUIRES: the clients outlive the RedLock and every guard it issued; no
// Acquire is in flight when it is destroyed. Destroying it stops renewals (see
// LockService).
class RedLock {
 public:
  // `clients`: the N independent masters (N >= 1; odd N recommended). kInvalidArgument
  // on bad options or an empty/null client list.
  static Result<std::unique_ptr<RedLock>> Create(std::vector<redis::Client*> clients,
                                                 LockServiceOptions options = {});
  ~RedLock();
  RedLock(const RedLock&) = delete;
  RedLock& operator=(const RedLock&) = delete;

  // As LockService::Acquire; plus kUnavailable when no quorum of nodes answered.
  Result<LockGuard> Acquire(std::string_view name, const LockOptions& options, const Deadline& deadline);
  Result<LockGuard> TryAcquire(std::string_view name, const LockOptions& options,
                               const Deadline& deadline = Deadline::Infinite());

  int quorum() const;
  LockServiceStats stats() const;

 private:
  RedLock(std::shared_ptr<internal::RedLockCore> core, std::unique_ptr<internal::Renewer> renewer);
  std::shared_ptr<internal::RedLockCore> core_;
  std::unique_ptr<internal::Renewer> renewer_;
};

}  // namespace lockstep::lock
