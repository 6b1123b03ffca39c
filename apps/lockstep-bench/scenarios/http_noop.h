#pragma once

#include "common_options.h"

namespace lockstep::bench {

// `http-noop`: GET /healthz at the run's concurrency, the HTTP overhead every other
// scenario pays. Returns the exit code: 0, or 2 on a bad flag.
int RunHttpNoop(const CommonOptions& opt);

}  // namespace lockstep::bench
