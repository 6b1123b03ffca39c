#include "api/event_routes.h"

#include "http/handler_helpers.h"
#include "http/router.h"

namespace shopd::api {

void RegisterEventRoutes(http::Router& router, domain::EventService& events) {
  router.Add(http::Method::kGet, "/v1/events",
             http::ResultHandler([&events](http::Request& req) -> lockstep::Result<http::Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(std::optional<int64_t> after, http::OptionalQueryInt64(req, "after"));
               LOCKSTEP_ASSIGN_OR_RETURN(std::optional<int64_t> limit, http::OptionalQueryInt64(req, "limit"));
               LOCKSTEP_ASSIGN_OR_RETURN(std::string body,
                                         events.ListBody(after.value_or(0), limit.value_or(100), req.deadline));
               return http::Response::RawJson(200, std::move(body));
             }),
             {.limit_group = "events"});
}

}  // namespace shopd::api
