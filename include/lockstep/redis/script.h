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

 private:
  std::string source_;
  std::string sha1_;
};

}  // namespace lockstep::redis
