#pragma once

#include <string>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/reply.h"

namespace lockstep::redis {

// A Lua script identified by the SHA-1 of its source, computed locally at construction.
// Immutable after construction: thread-safe (share one instance between threads).
//   static const Script kCompareAndDelete(R"(if redis.call("GET", KEYS[1]) == ARGV[1] ...)");
//   LOCKSTEP_ASSIGN_OR_RETURN(Reply r, kCompareAndDelete.Run(client, {key}, {token}, deadline));
class Script {
 public:
  explicit Script(std::string source);

  const std::string& source() const { return source_; }
  // Lower-case hex SHA-1 of source(), as Redis computes it for EVALSHA.
  const std::string& sha1() const { return sha1_; }

  // EVALSHA sha1 numkeys keys... args...; when the server answers NOSCRIPT (script cache
  // empty after a restart or SCRIPT FLUSH; the script did not run) it sends EVAL with the
  // source, which runs it once and caches it. So the script runs at most once per call
  // on success. Errors: as Client::Execute; an error raised by the script
  // (redis.error_reply / a Lua error) becomes a Status via redis_errors (an unknown
  // prefix such as "FENCED ..." gives kFailedPrecondition with reason "fenced").
  // Thread-safe.
  Result<Reply> Run(Client& client, const std::vector<std::string>& keys,
                    const std::vector<std::string>& args, const Deadline& deadline) const;

  // One invocation of the script in a pipeline.
  struct Call {
    std::vector<std::string> keys;
    std::vector<std::string> args;
  };
  // Runs every call in ONE pipeline (one write, one round trip; each call atomic by itself,
  // in order; other clients' commands may interleave between calls). Calls answered
  // NOSCRIPT (which did not run) are sent again as EVAL in a second pipeline, so each call
  // runs at most once. Slot i holds call i's reply or the Status of its error (as Run). The
  // outer Result fails (kUnavailable/kDeadlineExceeded) when the connection fails; then any
  // prefix of the calls may have run. Thread-safe.
  Result<std::vector<Result<Reply>>> RunPipelined(Client& client, const std::vector<Call>& calls,
                                                  const Deadline& deadline) const;

 private:
  std::string source_;
  std::string sha1_;
};

}  // namespace lockstep::redis
