#pragma once

#include "domain/write_tokens.h"

namespace shopd::domain {
class CheckoutService;
}
namespace shopd::http {
class Router;
}

namespace shopd::api {

// Registers POST /v1/checkouts, GET /v1/checkouts/{id} and GET /v1/checkouts?request_id=
// (API.md "Checkout"; rate-limit group "checkouts"). REQUIRES: called before the server
// starts; `checkouts` outlives the router.
void RegisterCheckoutRoutes(http::Router& router, domain::CheckoutService& checkouts, domain::WriteTokens& tokens);

}  // namespace shopd::api
