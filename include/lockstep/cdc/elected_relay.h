#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/cdc/relay.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/redis/client.h"

namespace lockstep::cdc {

// Plain struct; validated by ElectedRelay::Start (kInvalidArgument).
struct ElectedRelayOptions {
  // The relay the leader runs. `relay.publisher.fence` is set from each grant's fence.
  RelayOptions relay;
  // The lease lock every candidate of this stream competes for. Non-empty. (Typically
  // "cdc:<stream>"; the LockService adds its own key prefix.)
  std::string lock_name;
  // The lease: a leader that stops renewing (crash, SIGKILL, SIGSTOP, lost Redis) is
  // replaced by a standby within about this long. >= 100ms. Default 3s.
  std::chrono::milliseconds lease{3'000};
  // Wait between two leadership terms after the relay stopped by itself with a terminal
  // status (settings that cannot feed CDC, a gap under GapPolicy::kStop): the status is
  // logged through on_relay_stopped and the lease released, so another candidate (or this
  // one, after the wait) tries again. > 0. Default 5s.
  std::chrono::milliseconds terminal_retry{5'000};
  // Optional callbacks (empty = not called), run on the election thread; cheap, no calls
  // back into the ElectedRelay.
  struct Observer {
    // This candidate became the leader with `fence` (true) or stopped leading (false, fence
    // of the term that ended).
    std::function<void(bool leader, int64_t fence)> on_leadership;
    // The leader's relay stopped by itself (terminal status) or its lease was lost.
    std::function<void(const Status& status)> on_relay_stopped;
  };
  Observer observer;
};

// One CDC relay per stream among any number of candidates (shopd instances with --cdc 1,
// lockstep-cdc processes): each candidate competes for a lease lock (lockstep::lock, with
// fencing); the holder runs a Relay whose publisher appends with the grant's fence, every
// other candidate waits as a standby. When the leader dies or stalls, its lease runs out and
// a standby takes over from the stream's checkpoint. A leader that was paused past its lease
// and wakes up cannot append after its successor started: the stream's fence refuses it
// (kFailedPrecondition "fenced"), and it steps down when it sees its lease lost. So the
// relay's guarantee holds across leaders: every committed change exactly once, in order.
// Thread-safe.
class ElectedRelay {
 public:
  // Validates the options and starts the election thread. `client` and `locks` must outlive
  // the ElectedRelay.
  static Result<std::unique_ptr<ElectedRelay>> Start(redis::Client& client, lock::LockService& locks,
                                                     ElectedRelayOptions options);
  // Stop().
  virtual ~ElectedRelay() = default;

  // Stops the relay (if leading), releases the lease and joins the thread. Bounded by the
  // relay's Stop and one lock round trip. Idempotent.
  virtual void Stop() = 0;

  // Whether this candidate leads now (its relay runs). Thread-safe.
  virtual bool leader() const = 0;
  // The fence of the current term (0 when not leading).
  virtual int64_t fence() const = 0;
  // Terms this candidate has led so far.
  virtual uint64_t terms() const = 0;
  // The checkpoint of the running relay (empty when not leading).
  virtual StreamCheckpoint checkpoint() const = 0;
};

}  // namespace lockstep::cdc
