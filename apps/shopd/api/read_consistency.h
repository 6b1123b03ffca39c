#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "domain/routed_read.h"
#include "http/request.h"
#include "http/response.h"
#include "http/router.h"
#include "lockstep/base/result.h"
#include "lockstep/routing/consistency.h"

namespace shopd::api {

// The request headers of API.md "Replicas and consistency tokens":
//   X-Consistency-Token: T  -> AtLeast(T); kInvalidArgument unless T is a GTID position of
//                              at most 256 printable ASCII characters (routing::
//                              ConsistencyToken::Parse).
//   X-Max-Staleness-Ms: N   -> MaxStaleness(N) (N = 0: the primary); kInvalidArgument
//                              unless N is a non-negative decimal integer.
//   both                    -> Primary() (the only server that satisfies both at once).
//   neither                 -> MaxStaleness(default_staleness).
// Thread-safe (pure).
lockstep::Result<lockstep::routing::Consistency> ReadConsistency(const http::Request& request,
                                                                 std::chrono::milliseconds default_staleness);

// Adapts a GET a replica may answer: parses the consistency headers (400 before any read),
// runs `fn` with a RoutedRead through `replicas`, and names the server that answered in
// `X-Read-Source` on the answer, errors included (404 from a replica says so). `replicas`
// must outlive the router. May block (runs on a worker).
http::Handler RoutedReadHandler(lockstep::routing::ReplicaSet& replicas, std::chrono::milliseconds default_staleness,
                                std::function<lockstep::Result<http::Response>(http::Request&, const domain::RoutedRead&)> fn);

// Sets `X-Consistency-Token: token` on `response` (nothing if `token` is empty).
void SetConsistencyToken(http::Response& response, const std::string& token);

}  // namespace shopd::api
