#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lockstep/base/backoff.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/redis/options.h"

namespace lockstep::redis {

// One pub/sub message. `pattern` is set for PSUBSCRIBE deliveries, empty otherwise.
struct Message {
  std::string channel;
  std::string payload;  // Binary-safe.
  std::string pattern;
};

enum class ConnectionState {
  kConnected,     // Connected; subscriptions are being (re)sent.
  kDisconnected,  // Connection lost; messages published until the next kConnected are lost.
};

struct SubscriberOptions {
  // Server to subscribe on; pool_size and command_timeout are unused.
  RedisOptions redis;
  // Delay between reconnect attempts (full jitter). Default 20ms growing to 1s.
  BackoffOptions reconnect_backoff{std::chrono::milliseconds(20), std::chrono::seconds(1), 2.0};
  // When nothing was received for this long a PING is sent; when its reply does not come
  // within the same interval the connection is treated as lost (detects a hung server
  // or a silently dropped connection). 0 = no health check. Default 5s.
  std::chrono::milliseconds health_check_interval{5'000};
  // Called for each message, on the subscriber's thread, in arrival order.
  std::function<void(const Message&)> on_message;
  // Called on each connection state change, on the subscriber's thread. Every kConnected
  // after a kDisconnected is a reconnect (e.g. a cache must drop its L1: invalidations
  // may have been missed). May be empty.
  std::function<void(ConnectionState)> on_state;
};

// A pub/sub subscriber with its own connection and its own thread. Subscriptions are
// desired state: they are sent as soon as the connection is up and sent again after every
// reconnect (with lockstep::Backoff between attempts). Thread-safe. Callbacks run on the
// subscriber's thread without internal locks held; they may call Subscribe/Unsubscribe
// but must not destroy the Subscriber and should return quickly.
class Subscriber {
 public:
  // Validates options (kInvalidArgument, also when on_message is empty) and starts the
  // thread, which connects in the background. Thread-safe.
  static Result<std::unique_ptr<Subscriber>> Open(SubscriberOptions options);

  // Stops the thread promptly (it is woken, not polled) and closes the connection.
  // No callback runs after the destructor returns.
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Adds / removes a channel (SUBSCRIBE) or a glob pattern (PSUBSCRIBE). Non-blocking:
  // returns once recorded; the thread sends it. kInvalidArgument for an empty name.
  // Removing an unknown name is OK. Thread-safe.
  Status Subscribe(std::string_view channel);
  Status PSubscribe(std::string_view pattern);
  Status Unsubscribe(std::string_view channel);
  Status PUnsubscribe(std::string_view pattern);

  // Waits until the connection is up and the server has confirmed every current
  // subscription, or the deadline: then kDeadlineExceeded. Thread-safe.
  Status WaitSubscribed(const Deadline& deadline);

  // Whether the connection is up now. Thread-safe.
  bool connected() const;

  class Impl;

 private:
  explicit Subscriber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockstep::redis
