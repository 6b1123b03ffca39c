#pragma once

#include <string>

#include "common_options.h"

namespace lockstep::bench {

// `http-noop`: GET `path` (default /healthz) at the run's concurrency, the HTTP overhead
// every other scenario pays (or, with another path, e.g. a cached product behind a rate
// limit, that route's). Returns the exit code: 0, or 2 on a bad flag.
int RunHttpNoop(const CommonOptions& opt, const std::string& path = "/healthz");

}  // namespace lockstep::bench
