#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/lock/lock_guard.h"
#include "lockstep/lock/options.h"
#include "lockstep/redis/client.h"

namespace lockstep::lock {

namespace internal {
class ServiceCore;
class Renewer;
}  // namespace internal

struct LockServiceOptions {
  // Prefix of every key: "<prefix><name>" holds the owner token (PX lease) and
  // "<prefix><name>:fence" the fence counter. Default "lock:".
  std::string key_prefix = "lock:";
  // Prefix of the wake-up channels: each service subscribes to
  // "<release_channel>:<service token>" and a release PUBLISHes on the channel of the one
  // waiter it wakes. Non-empty. Default "lockstep:lock:released".
  std::string release_channel = "lockstep:lock:released";
  // Bound on one release round trip (per node for RedLock): a stalled Redis costs a
  // releasing thread at most this; the lease then expires by itself. > 0. Default 1s.
  std::chrono::milliseconds release_timeout{1'000};
  // Optional callbacks (metrics), see LockObserver. Default: none.
  LockObserver observer{};
};

// Counters of one service (tests and diagnostics).
struct LockServiceStats {
  uint64_t acquired = 0;   // Grants (reentrant holds included).
  uint64_t wakes = 0;      // Waits ended by a release message.
  uint64_t polls = 0;      // Waits ended by the fallback poll / lease-expiry timer.
  uint64_t renewals = 0;   // Successful renewals.
  uint64_t renew_batches = 0;  // Pipelined renewal round trips.
  uint64_t lost = 0;       // Leases lost.
};

// Lease locks on one Redis server (DESIGN.md module `lock`).
//
// Grant: one Lua script does SET key token NX PX lease and, only on success, INCR of the
// per-name fence counter, so the fence is issued atomically with the lease. Fences are
// unique and strictly increasing per name across grants, also across a Redis restart
// PROVIDED the server persists every write before replying (appendonly yes,
// appendfsync always; the test stack runs so). With weaker durability a crash can lose
// the last INCRs and reissue a fence. Fence counters have no TTL: one small key per lock
// name ever used; delete "<prefix><name>:fence" only for names that will never be used
// again (deleting it restarts that name's fences at 1).
//
// Renewal: one scheduler thread per service keeps a timer heap of leases; the leases due
// together are renewed in one pipeline (compare-and-pexpire script).
//
// Waiting: a waiter that finds the lock busy joins the lock's queue in Redis (a ZSET of
// waiters by arrival, each registration with an expiry refreshed on every attempt). The
// release script deletes the key and wakes ONE waiter, the queue's head, by a PUBLISH on
// its service's channel (one Subscriber connection per service); a granted waiter leaves
// the queue, one that gives up removes itself and wakes the next. A waiter also retries
// after min(poll_interval, the holder's remaining PTTL), so a lost message, a crashed
// holder or a dead head costs at most that (plus the dead head's registration TTL); it
// never spins. Default mode: a free lock goes to whoever asks first (the woken head races
// new arrivals and the releasing thread itself; no starvation bound but the deadline).
// Fair mode (LockOptions::fair): FIFO across processes with a stated bound (options.h).
// Keys per lock name: "<prefix><name>" (holder), ":fence", and while anyone waits ":q",
// ":qt", ":qseq" (they expire by themselves when nobody has waited for a while).
//
// Thread-safe. REQUIRES: `client` outlives the service and every guard it issued; no
// Acquire is in flight when the service is destroyed. Destroying the service stops renewals: guards still alive then lose their lease when
// its validity runs out (their Check() reports lock_lost) and still release on destruction.
class LockService {
 public:
  // Validates options (kInvalidArgument) and starts the renewal thread and the
  // subscriber (connects in the background, on client.options()).
  static Result<std::unique_ptr<LockService>> Create(redis::Client& client, LockServiceOptions options = {});
  ~LockService();
  LockService(const LockService&) = delete;
  LockService& operator=(const LockService&) = delete;

  // Takes the lock `name`, waiting per options.wait until `deadline`. Returns the guard,
  // or: kDeadlineExceeded reason "lock_busy" (still held by another owner at the
  // deadline), kAborted reason "lock_busy" (kNoWait and busy), kInvalidArgument (bad
  // options or empty name), kUnavailable / kDeadlineExceeded from Redis (the grant may have
  // happened: it then expires after one lease). An Acquire that gives up after queueing
  // removes itself from the lock's queue, which may take up to min(release_timeout, 100ms)
  // past the deadline when Redis is slow. Thread-safe.
  Result<LockGuard> Acquire(std::string_view name, const LockOptions& options, const Deadline& deadline);
  // Acquire with WaitPolicy::kNoWait. Thread-safe.
  Result<LockGuard> TryAcquire(std::string_view name, const LockOptions& options,
                               const Deadline& deadline = Deadline::Infinite());

  LockServiceStats stats() const;

 private:
  LockService(std::shared_ptr<internal::ServiceCore> core, std::unique_ptr<internal::Renewer> renewer);
  std::shared_ptr<internal::ServiceCore> core_;
  std::unique_ptr<internal::Renewer> renewer_;
};

}  // namespace lockstep::lock
