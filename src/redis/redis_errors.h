#pragma once

#include <string_view>

#include "lockstep/base/status.h"

namespace lockstep::redis::internal {

// The one place where a Redis error reply becomes a Status (STYLE.md R4). `text` is the
// reply ("WRONGTYPE Operation against ..."); the reason is the lower-cased prefix.
//   LOADING, BUSY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN, READONLY  -> kUnavailable (retry)
//   OOM                                  -> kResourceExhausted
//   NOSCRIPT                             -> kNotFound, reason "noscript" (did not run)
//   NOGROUP                              -> kNotFound, reason "nogroup"
//   ERR ... requires the key to exist    -> kNotFound, reason "no_such_key"
//   BUSYGROUP                            -> kAlreadyExists, reason "busygroup"
//   NOAUTH, WRONGPASS                    -> kUnauthenticated
//   NOPERM                               -> kPermissionDenied
//   EXECABORT                            -> kAborted
//   WRONGTYPE                            -> kFailedPrecondition, reason "wrongtype"
//   ERR (syntax, arity, not an integer, script runtime error, ...) -> kInternal: a bug in
//                                           the caller's command or script, not retryable
//   any other prefix (raised by our Lua scripts with redis.error_reply("FENCED ...")) ->
//                                           kFailedPrecondition, reason = prefix lower-cased
// Thread-safe (pure).
Status StatusFromErrorReply(std::string_view text);

// Whether `status` is the NOSCRIPT answer of EVALSHA.
bool IsNoScript(const Status& status);

}  // namespace lockstep::redis::internal
