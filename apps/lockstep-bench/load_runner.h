#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common_options.h"
#include "http_client/client.h"
#include "load_stats.h"
#include "targets.h"

namespace lockstep::bench {

// One request of a load run: `body(thread_index, request_index, client)` sends request
// `request_index` on thread `thread_index`'s connection and returns the HTTP status it got
// (0 = transport error). Called concurrently from every thread.
using RequestBody = std::function<int(int thread_index, int64_t request_index, http_client::Client& client)>;

// Runs `body` on opt.connections threads (thread t talks to endpoints[t % size]) until
// opt.requests requests are sent or, with opt.duration_s > 0, that many seconds passed.
// Closed loop (opt.rate == 0): each thread sends its next request when the last answered;
// latency is measured from the send. Open loop (opt.rate > 0): request i is intended at
// start + i / rate (ArrivalSchedule: thread t sends t, t + C, ...; with --duration the
// requests intended before it ends), latency is measured from the intended time, and the
// summary's offered_rps is the achieved send rate; a warning goes to stderr when it fell
// more than 5% short of opt.rate (too few connections for the latency).
// Prints a progress line "[name secs] N done, N/s, N errors" to stderr every second.
// REQUIRES: !endpoints.empty() (SQL scenarios pass one dummy endpoint; the client then
// never connects because the body does not use it).
LoadStats::Summary RunLoad(const CommonOptions& opt, const std::vector<Endpoint>& endpoints, const char* name,
                           const RequestBody& body);

// The raw header lines sent with every request: X-Request-Timeout-Ms.
std::string RequestHeaders(int timeout_ms);

}  // namespace lockstep::bench
