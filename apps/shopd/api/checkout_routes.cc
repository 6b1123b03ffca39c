#include "api/checkout_routes.h"

#include <nlohmann/json.hpp>

#include "api/read_consistency.h"
#include "domain/checkouts/checkout_service.h"
#include "domain/write_tokens.h"
#include "http/handler_helpers.h"
#include "http/json_body.h"
#include "http/router.h"

namespace shopd::api {

using http::Method;
using http::Request;
using http::Response;
using lockstep::Result;

void RegisterCheckoutRoutes(http::Router& router, domain::CheckoutService& checkouts, domain::WriteTokens& tokens) {
  router.Add(Method::kPost, "/v1/checkouts", http::ResultHandler([&checkouts, &tokens](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(req.body));
               domain::CheckoutRequest c;
               LOCKSTEP_ASSIGN_OR_RETURN(c.request_id, http::GetString(body, "request_id"));
               LOCKSTEP_ASSIGN_OR_RETURN(c.account_id, http::GetInt64(body, "account_id"));
               LOCKSTEP_ASSIGN_OR_RETURN(c.product_id, http::GetInt64(body, "product_id"));
               LOCKSTEP_ASSIGN_OR_RETURN(c.quantity, http::GetInt64(body, "quantity"));
               LOCKSTEP_ASSIGN_OR_RETURN(reply::Outcome outcome, checkouts.Checkout(c, req.deadline));
               Response r;
               r.status = outcome.http_status;
               r.body = outcome.body;
               if (outcome.replayed) r.headers.Set("Idempotent-Replay", "true");
               // A checkout commits in several transactions (and, with --payments-mysql, two
               // databases): its token is the shop primary's position once it settled, which
               // covers the checkout row and its order (API.md X-Consistency-Token).
               SetConsistencyToken(r, tokens.Current(req.deadline).value_or(""));
               return r;
             }),
             {.limit_group = "checkouts"});

  router.Add(Method::kGet, "/v1/checkouts/{id}", http::ResultHandler([&checkouts](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, http::PathInt64(req, "id"));
               LOCKSTEP_ASSIGN_OR_RETURN(domain::CheckoutRecord c, checkouts.Get(id, req.deadline));
               return Response::RawJson(200, domain::CheckoutBody(c));
             }),
             {.limit_group = "checkouts"});

  router.Add(Method::kGet, "/v1/checkouts", http::ResultHandler([&checkouts](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, http::RequiredQuery(req, "request_id"));
               LOCKSTEP_ASSIGN_OR_RETURN(domain::CheckoutRecord c, checkouts.GetByRequestId(rid, req.deadline));
               return Response::RawJson(200, domain::CheckoutBody(c));
             }),
             {.limit_group = "checkouts"});
}

}  // namespace shopd::api
