#pragma once

#include "domain/events/events.h"

namespace shopd::http {
class Router;
}

namespace shopd::api {

// Registers GET /v1/events?after=EVENT_ID&limit=N (API.md "Events"; defaults after=0,
// limit=100; 400 when either is not an integer or out of range). REQUIRES: called before the
// server starts; `events` outlives the router.
void RegisterEventRoutes(http::Router& router, domain::EventService& events);

}  // namespace shopd::api
