#include "http/ops_routes.h"

#include <nlohmann/json.hpp>
#include <prometheus/text_serializer.h>

namespace shopd::http {

void RegisterOpsRoutes(Server& server, std::vector<ReadinessCheck> checks,
                       std::function<std::string()> extra_metrics) {
  Router& router = server.router();
  const RouteOptions on_io_thread{.starts_on_io_thread = true};
  router.Add(
      Method::kGet, "/healthz", [](Call& call) { call.Respond(Response::Json(200, {{"status", "ok"}})); },
      on_io_thread);
  // On a worker (the checks are round trips), never shed by admission control.
  router.Add(
      Method::kGet, "/readyz",
      [&server, checks = std::move(checks)](Call& call) {
        if (server.draining()) {
          call.Respond(Response::Error(lockstep::Status::Unavailable("draining")));
          return;
        }
        for (const ReadinessCheck& c : checks) {
          const lockstep::Status s = c.check(call.request().deadline);
          if (!s.ok()) {
            call.Respond(Response::Error(lockstep::Status::Unavailable(c.name, " not ready: ", s.message())));
            return;
          }
        }
        call.Respond(Response::Json(200, {{"status", "ready"}}));
      },
      {.priority = lockstep::resilience::Priority::kCritical});
  router.Add(
      Method::kGet, "/metrics",
      [&server, extra_metrics = std::move(extra_metrics)](Call& call) {
        std::string text = prometheus::TextSerializer().Serialize(MetricFamilies(server.stats()));
        if (extra_metrics) text += extra_metrics();
        call.Respond(Response::Text(200, std::move(text), "text/plain; version=0.0.4"));
      },
      on_io_thread);
}

}  // namespace shopd::http
