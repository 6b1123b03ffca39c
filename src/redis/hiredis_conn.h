#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/redis/options.h"
#include "lockstep/redis/reply.h"

struct redisContext;
struct redisReply;

// The hiredis layer shared by the pooled Client and the Subscriber. Every function works
// on a context owned by one thread at a time (not thread-safe per context).
namespace lockstep::redis::internal {

struct ContextDeleter {
  void operator()(redisContext* context) const;
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

// Validates the fields a connection needs (kInvalidArgument).
Status ValidateOptions(const RedisOptions& options);

// Connects (timeout = min(options.connect_timeout, deadline)) and replays AUTH / SELECT.
// kUnavailable when refused/unreachable/connect timeout, kDeadlineExceeded when the deadline
// passed, the AUTH/SELECT error otherwise.
Result<ContextPtr> Connect(const RedisOptions& options, const Deadline& deadline);

// Sets the socket send/receive timeout to the time left (microsecond precision).
// kDeadlineExceeded when none is left.
Status SetTimeout(redisContext* context, const Deadline& deadline);

// One command on a blocking context. A non-OK Status means the context is broken (I/O
// error, EOF, timeout) and must be discarded; a server error reply is returned as a Reply
// of type kError (the caller classifies it).
Result<Reply> RoundTrip(redisContext* context, const std::vector<std::string_view>& argv,
                        const Deadline& deadline);

// Pipelining on a blocking context: queues every command, then reads one reply each.
// Same error split as RoundTrip.
Result<std::vector<Reply>> RoundTripPipeline(redisContext* context,
                                             const std::vector<std::vector<std::string_view>>& commands,
                                             const Deadline& deadline);

// Queues one command in the context's output buffer (no I/O). kInternal on OOM.
Status Append(redisContext* context, const std::vector<std::string_view>& argv);

// The Status for a context whose call just failed; `saved_errno` is errno right after it.
Status ContextError(const redisContext* context, int saved_errno, const Deadline& deadline);

// Deep copy of a driver reply.
Reply ConvertReply(const redisReply* reply);

// The socket of a connected context.
int ContextFd(const redisContext* context);

// True when an idle context must not be reused: the peer closed it (EOF pending) or
// unexpected bytes are waiting. Costs one poll() with zero timeout, no round trip.
bool IsStale(const redisContext* context);

}  // namespace lockstep::redis::internal
