#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/router.h"
#include "http/server.h"
#include "lockstep/base/status.h"

namespace shopd::http {

// One dependency check behind /readyz (e.g. a MariaDB or Redis ping). Returns OK when the
// dependency answers. Called on a worker thread with the request's deadline; must be
// thread-safe and honour the deadline.
struct ReadinessCheck {
  std::string name;  // "mariadb", "redis": shown in the 503 message.
  std::function<lockstep::Status(const lockstep::Deadline&)> check;
};

// Registers the operational endpoints on `server.router()`:
//   GET /healthz  -> 200 {"status":"ok"} while the process runs (inline).
//   GET /readyz   -> 200 {"status":"ready"} unless draining or a check fails, then 503
//                    unavailable naming the reason (worker pool: checks may block).
//   GET /metrics  -> Prometheus text (prometheus::TextSerializer) of server.stats() (inline).
// `server` and `checks` are captured by reference/copy: `server` must outlive it.
// REQUIRES: server.Start() not called yet.
// `extra_metrics` (optional) returns more Prometheus text appended to /metrics (shopd: its
// registry and snapshots serialized by lockstep::prometheus::SerializeText; family names
// must differ from the server's); it runs on the I/O thread, so it must not block.
void RegisterOpsRoutes(Server& server, std::vector<ReadinessCheck> checks,
                       std::function<std::string()> extra_metrics = {});

}  // namespace shopd::http
