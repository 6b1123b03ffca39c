#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "lockstep/base/circuit_breaker.h"
#include "lockstep/base/status.h"

namespace lockstep::redis {

// Observer of a Client (RedisOptions::observer), e.g. for metrics (lockstep::prometheus
// binds one to a registry). Every callback is optional (empty = not called), runs without
// any of the client's locks held, possibly on several threads at once (the calling
// thread), must be cheap and thread-safe, and must not call back into the Client.
struct ClientObserver {
  // After each Command/Pipeline: its status (OK also for a slot-level error reply inside
  // a pipeline) and wall time.
  std::function<void(const Status& status, std::chrono::nanoseconds elapsed)> on_call;
  // After a connection is discarded (I/O error, timeout): the status that caused it.
  std::function<void(const Status& cause)> on_discard;
  // The client's circuit breaker (RedisOptions::breaker) changed state to `to`; once per
  // transition, in no guaranteed order across threads (read the state from stats()).
  std::function<void(BreakerState to)> on_breaker_state;
};

// Connection settings of one Redis server (a standalone master). Plain value type,
// thread-compatible. Validated by Client::Open / Subscriber::Open (kInvalidArgument).
struct RedisOptions {
  // Host name or IPv4/IPv6 address. Non-empty. Default "127.0.0.1".
  std::string host = "127.0.0.1";
  // TCP port, 1..65535. Default 6379.
  int port = 6379;
  // ACL user for `AUTH user password`; empty = legacy `AUTH password`. Default empty.
  std::string user;
  // Password sent with AUTH after every (re)connect; empty = no AUTH. Never printed.
  std::string password;
  // Logical database selected with SELECT after every (re)connect; >= 0. Default 0.
  int db = 0;
  // Upper bound on open connections of a Client's pool; > 0. Default 8.
  int pool_size = 8;
  // Cap on one TCP connect (+ AUTH/SELECT); also capped by the call's deadline. > 0.
  // Default 1s.
  std::chrono::milliseconds connect_timeout{1'000};
  // Deadline used when a call passes Deadline::Infinite(); > 0. Default 2s.
  std::chrono::milliseconds command_timeout{2'000};
  // Optional callbacks (metrics) of a Client opened with these options; a Subscriber
  // ignores them. Default: none.
  ClientObserver observer;
  // A circuit breaker around the server for a Client (a Subscriber ignores it); nullopt
  // (default) = none. When set, every command and pipeline asks it before it waits for a
  // pooled connection (no probe slot taken) and again, as one call, right before its round
  // trip: while it is open they fail at once with kUnavailable reason "circuit_open", and
  // nothing is sent. Counted as failures: a failed connect, I/O errors and timeouts of the
  // round trip (kUnavailable, kDeadlineExceeded) and the replies
  // LOADING/BUSY/MASTERDOWN/TRYAGAIN/CLUSTERDOWN/READONLY; every other reply (including
  // error replies such as WRONGTYPE, NOSCRIPT, OOM or a script's own error) is a success.
  // A successful connect and a call that never reached the network (deadline passed while
  // waiting for a pooled connection) count neither way. Transitions go to
  // observer.on_breaker_state (after breaker->on_transition, if set).
  std::optional<CircuitBreakerOptions> breaker;

  // "redis://127.0.0.1:6379/0 pool=8 ..." with the password masked as "***".
  std::string ToString() const;
};

}  // namespace lockstep::redis
