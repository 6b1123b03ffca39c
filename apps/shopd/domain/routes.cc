#include "domain/routes.h"

#include <nlohmann/json.hpp>

#include "http/handler_helpers.h"
#include "http/json_body.h"
#include "http/router.h"

namespace shopd::domain {

using http::Method;
using http::Request;
using http::Response;
using lockstep::Result;

namespace {

nlohmann::json AccountJson(const Account& a) {
  return {{"id", a.id}, {"owner", a.owner}, {"balance", a.balance}, {"version", a.version}};
}

Response FromOutcome(const Outcome& outcome) {
  Response r;
  r.status = outcome.http_status;
  r.body = outcome.body;
  if (outcome.replayed) r.headers.Set("Idempotent-Replay", "true");
  return r;
}

}  // namespace

void RegisterAccountRoutes(http::Router& router, const Services& services) {
  AccountService& accounts = *services.accounts;
  TransferService& transfers = *services.transfers;

  router.Add(Method::kPost, "/v1/accounts", http::ResultHandler([&accounts](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(req.body));
               LOCKSTEP_ASSIGN_OR_RETURN(std::string owner, http::GetString(body, "owner"));
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t balance, http::GetInt64(body, "balance"));
               LOCKSTEP_ASSIGN_OR_RETURN(Account account, accounts.Create(owner, balance, req.deadline));
               return Response::Json(201, AccountJson(account));
             }));

  router.Add(Method::kGet, "/v1/accounts/{id}", http::ResultHandler([&accounts](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, http::PathInt64(req, "id"));
               LOCKSTEP_ASSIGN_OR_RETURN(Account account, accounts.Get(id, req.deadline));
               return Response::Json(200, AccountJson(account));
             }));

  router.Add(Method::kPost, "/v1/transfers", http::ResultHandler([&transfers](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(req.body));
               TransferRequest t;
               LOCKSTEP_ASSIGN_OR_RETURN(t.request_id, http::GetString(body, "request_id"));
               LOCKSTEP_ASSIGN_OR_RETURN(t.from, http::GetInt64(body, "from"));
               LOCKSTEP_ASSIGN_OR_RETURN(t.to, http::GetInt64(body, "to"));
               LOCKSTEP_ASSIGN_OR_RETURN(t.amount, http::GetInt64(body, "amount"));
               LOCKSTEP_ASSIGN_OR_RETURN(Outcome outcome, transfers.Transfer(t, req.deadline));
               return FromOutcome(outcome);
             }));
}

}  // namespace shopd::domain
