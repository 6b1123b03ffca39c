#include "http/ops_routes.h"

#include <nlohmann/json.hpp>
#include <prometheus/text_serializer.h>

namespace shopd::http {

void RegisterOpsRoutes(Server& server, std::vector<ReadinessCheck> checks,
                       std::function<std::string()> extra_metrics) {
  Router& router = server.router();
  router.Add(
      Method::kGet, "/healthz", [](Request&) { return Response::Json(200, {{"status", "ok"}}); },
      {.run_inline = true});
  router.Add(Method::kGet, "/readyz", [&server, checks = std::move(checks)](Request& request) {
    if (server.draining()) return Response::Error(lockstep::Status::Unavailable("draining"));
    for (const ReadinessCheck& c : checks) {
      const lockstep::Status s = c.check(request.deadline);
      if (!s.ok()) return Response::Error(lockstep::Status::Unavailable(c.name, " not ready: ", s.message()));
    }
    return Response::Json(200, {{"status", "ready"}});
  });
  router.Add(
      Method::kGet, "/metrics",
      [&server, extra_metrics = std::move(extra_metrics)](Request&) {
        std::string text = prometheus::TextSerializer().Serialize(MetricFamilies(server.stats()));
        if (extra_metrics) text += extra_metrics();
        return Response::Text(200, std::move(text), "text/plain; version=0.0.4");
      },
      {.run_inline = true});
}

}  // namespace shopd::http
