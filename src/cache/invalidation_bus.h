#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lockstep/base/clock.h"
#include "lockstep/base/result.h"
#include "lockstep/cache/options.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/subscriber.h"

namespace lockstep::cache::internal {

// The invalidation bus of one cache instance, which gates its L1: a pub/sub subscriber on
// the bus channel (invalidations published by every instance, see L2Store::Invalidate)
// and on a heartbeat channel of this instance's own. L1 may be served only while a
// heartbeat this instance published came back within options.staleness_bound: the
// subscriber connection delivers messages in the order Redis ran the PUBLISHes, so a
// heartbeat that came back proves every invalidation published before it was sent has
// been delivered. A connection state change makes the bus unhealthy at once (messages
// published meanwhile are lost) until the next heartbeat comes back.
//
// Thread-safe. Callbacks run on the subscriber's thread; none runs once the destructor
// returned. The Client and Clock must outlive the bus; `options` is copied from.
class InvalidationBus {
 public:
  struct Callbacks {
    // An invalidation of `key` to `version` was delivered.
    std::function<void(std::string_view key, int64_t version)> on_invalidate;
    // The connection went down or came back: invalidations may have been lost. Called
    // after the bus turned unhealthy.
    std::function<void()> on_reset;
  };

  // The payload L2Store::Invalidate publishes on the bus channel for `key` and `version`.
  // Thread-safe.
  static std::string InvalidationMessage(std::string_view key, int64_t version);

  // Starts the subscriber on `channel` and this instance's heartbeat channel. Unhealthy
  // until the first heartbeat comes back. Does not wait for Redis. Errors: as
  // redis::Subscriber::Open. Thread-safe.
  static Result<std::unique_ptr<InvalidationBus>> Open(redis::Client& client, std::string channel,
                                                       const CacheOptions& options, const Clock& clock,
                                                       Callbacks callbacks);

  // Stops the subscriber. REQUIRES: no call in flight.
  ~InvalidationBus();
  InvalidationBus(const InvalidationBus&) = delete;
  InvalidationBus& operator=(const InvalidationBus&) = delete;

  // Whether L1 may be served at `now` (a heartbeat came back within staleness_bound).
  // Thread-safe; cheap.
  bool HealthyAt(Clock::time_point now) const;

  // Publishes a heartbeat stamped `now` (not through the breaker: the heartbeat is how the
  // bus notices Redis is back), within options.redis_timeout; errors are ignored, since a
  // lost heartbeat only shows as an unhealthy bus. Thread-safe.
  void PublishHeartbeat(Clock::time_point now);

 private:
  InvalidationBus(redis::Client& client, std::string channel, const CacheOptions& options, const Clock& clock,
                  Callbacks callbacks);
  void OnMessage(const redis::Message& m);
  void OnState(redis::ConnectionState state);

  redis::Client& client_;
  const Clock& clock_;
  const Callbacks callbacks_;
  const std::chrono::milliseconds staleness_bound_;
  const std::chrono::milliseconds redis_timeout_;
  const std::string channel_;
  const std::string instance_id_;
  const std::string heartbeat_channel_;  // "<bus>:hb:<instance id>": only this instance subscribes.
  // Steady-clock ns at which our last heartbeat that came back was sent; 0 = unhealthy.
  // Atomic: written by the subscriber thread, read by every Get; a stale read only delays
  // a decision by one heartbeat.
  std::atomic<int64_t> last_heartbeat_ns_{0};
  // Set once by Open before the bus is shared, reset by the destructor.
  std::unique_ptr<redis::Subscriber> subscriber_;
};

}  // namespace lockstep::cache::internal
