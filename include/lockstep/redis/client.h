#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/redis/options.h"
#include "lockstep/redis/reply.h"

namespace lockstep::redis {

class Script;

// A snapshot of a Client's pool.
struct ClientStats {
  int open = 0;            // Connections that exist now (idle + in use).
  int idle = 0;            // Connected and waiting in the pool.
  int in_use = 0;          // Lent to a running call, or being connected for one.
  uint64_t connects = 0;   // Successful (re)connects since Open.
  uint64_t discarded = 0;  // Connections closed after an I/O error or timeout.
  // The circuit breaker's state and counters; nullopt without RedisOptions::breaker.
  std::optional<CircuitBreakerStats> breaker;
};

// A pooled, blocking Redis client for one server. Thread-safe: any number of threads may
// call it at once; each call borrows one connection for its duration. Lives as long as the
// caller keeps it; connections close in the destructor (REQUIRES: no call in flight).
//
// Errors (classified in one place, src/redis/redis_errors.cc):
//   kUnavailable       connect refused / I/O error / server closed the connection (the
//                      connection is discarded, never reused; the command may or may not
//                      have run), or LOADING/BUSY/MASTERDOWN/TRYAGAIN/READONLY replies.
//   kDeadlineExceeded  the deadline passed: waiting for a pooled connection, connecting, or
//                      waiting for the reply. In the last case the command MAY have run;
//                      the connection is discarded (hiredis cannot resume it).
//   kUnavailable reason "circuit_open"
//                      the breaker (RedisOptions::breaker) refused the call at once;
//                      nothing was sent.
//   others             server error replies, see redis_errors.h (e.g. WRONGTYPE ->
//                      kFailedPrecondition reason "wrongtype", NOSCRIPT -> kNotFound
//                      reason "noscript", OOM -> kResourceExhausted).
// A Deadline::Infinite() argument means "now + options.command_timeout".
class Client {
 public:
  // Validates `options` (kInvalidArgument, also for the breaker's) and creates the pool
  // (and the breaker); options.observer is called for every call and discarded connection. Connects lazily: a down
  // server is reported by the first call, not here. Thread-safe.
  static Result<std::unique_ptr<Client>> Open(const RedisOptions& options);

  virtual ~Client() = default;

  // Sends one command (binary-safe: each argument is sent with its length) and returns
  // its reply. A server error reply becomes the returned Status. Thread-safe.
  virtual Result<Reply> Execute(const std::vector<std::string_view>& argv, const Deadline& deadline) = 0;

  // Sends all commands in one write and reads one reply per command, in order, on one
  // connection (not atomic: other clients' commands may interleave; use MULTI/EXEC or a
  // Script for atomicity). The outer Result fails (kUnavailable/kDeadlineExceeded) when
  // the connection fails; then any prefix of the commands may have run. Otherwise slot i
  // holds reply i, or the Status of its error reply. An empty list returns an empty vector
  // without touching the network. Thread-safe.
  virtual Result<std::vector<Result<Reply>>> ExecutePipeline(
      const std::vector<std::vector<std::string_view>>& commands, const Deadline& deadline) = 0;

  // The pool's counters now. Thread-safe.
  virtual ClientStats stats() const = 0;
  // The options the client was opened with. Thread-safe.
  virtual const RedisOptions& options() const = 0;

  // Convenience forms of Execute / ExecutePipeline; same contracts. Thread-safe.
  Result<Reply> Command(std::initializer_list<std::string_view> args, const Deadline& deadline);
  Result<Reply> Command(const std::vector<std::string>& args, const Deadline& deadline);
  Result<std::vector<Result<Reply>>> Pipeline(const std::vector<std::vector<std::string>>& commands,
                                              const Deadline& deadline);

  // GET: the value, or nullopt when the key does not exist.
  Result<std::optional<std::string>> Get(std::string_view key, const Deadline& deadline);
  // SET key value [PX ttl]. REQUIRES: ttl, if given, >= 1ms.
  Status Set(std::string_view key, std::string_view value, const Deadline& deadline,
             std::optional<std::chrono::milliseconds> ttl = std::nullopt);
  // DEL: the number of keys removed.
  Result<int64_t> Del(const std::vector<std::string>& keys, const Deadline& deadline);
  // INCRBY key by: the new value.
  Result<int64_t> IncrBy(std::string_view key, int64_t by, const Deadline& deadline);
  // PING; OK when the server answered PONG.
  Status Ping(const Deadline& deadline);

  // Runs `script` (EVALSHA, falling back to EVAL on NOSCRIPT); same as script.Run(*this,
  // ...). See script.h.
  Result<Reply> Eval(const Script& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args, const Deadline& deadline);
};

}  // namespace lockstep::redis
