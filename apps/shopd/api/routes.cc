#include "api/routes.h"

#include <nlohmann/json.hpp>

#include "domain/orders/order_json.h"
#include "api/product_json.h"
#include "http/handler_helpers.h"
#include "http/json_body.h"
#include "http/router.h"

namespace shopd::api {

using http::Method;
using http::Request;
using http::Response;
using lockstep::Result;
using domain::Account;
using domain::AccountService;
using domain::Order;
using domain::OrderBody;
using domain::OrderRequest;
using domain::OrderService;
using domain::Product;
using domain::ProductService;
using domain::TransferRequest;
using domain::TransferService;

namespace {

nlohmann::json AccountJson(const Account& a) {
  return {{"id", a.id}, {"owner", a.owner}, {"balance", a.balance}, {"version", a.version}};
}

Response ProductResponse(int status, const Product& p) { return Response::RawJson(status, ProductBody(p)); }


Response FromOutcome(const reply::Outcome& outcome) {
  Response r;
  r.status = outcome.http_status;
  r.body = outcome.body;
  if (outcome.replayed) r.headers.Set("Idempotent-Replay", "true");
  return r;
}

Result<OrderRequest> ParseOrderRequest(const std::string& text) {
  LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(text));
  OrderRequest o;
  LOCKSTEP_ASSIGN_OR_RETURN(o.request_id, http::GetString(body, "request_id"));
  LOCKSTEP_ASSIGN_OR_RETURN(o.user_id, http::GetInt64(body, "user_id"));
  LOCKSTEP_ASSIGN_OR_RETURN(o.product_id, http::GetInt64(body, "product_id"));
  LOCKSTEP_ASSIGN_OR_RETURN(o.quantity, http::GetInt64(body, "quantity"));
  return o;
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
             }),
             {.limit_group = "accounts"});

  router.Add(Method::kGet, "/v1/accounts/{id}", http::ResultHandler([&accounts](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, http::PathInt64(req, "id"));
               LOCKSTEP_ASSIGN_OR_RETURN(Account account, accounts.Get(id, req.deadline));
               return Response::Json(200, AccountJson(account));
             }),
             {.limit_group = "accounts"});

  router.Add(
      Method::kGet, "/v1/accounts/{id}/transfers",
      http::ResultHandler([&transfers](Request& req) -> Result<Response> {
        LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, http::PathInt64(req, "id"));
        LOCKSTEP_ASSIGN_OR_RETURN(std::optional<int64_t> limit, http::OptionalQueryInt64(req, "limit"));
        LOCKSTEP_ASSIGN_OR_RETURN(std::optional<int64_t> before, http::OptionalQueryInt64(req, "before"));
        LOCKSTEP_ASSIGN_OR_RETURN(std::vector<domain::TransferRecord> list,
                                  transfers.ListForAccount(id, before, limit.value_or(100), req.deadline));
        return Response::RawJson(200, domain::TransferListBody(list));
      }),
      {.limit_group = "transfers"});

  router.Add(Method::kPost, "/v1/transfers", http::ResultHandler([&transfers](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(req.body));
               TransferRequest t;
               LOCKSTEP_ASSIGN_OR_RETURN(t.request_id, http::GetString(body, "request_id"));
               LOCKSTEP_ASSIGN_OR_RETURN(t.from, http::GetInt64(body, "from"));
               LOCKSTEP_ASSIGN_OR_RETURN(t.to, http::GetInt64(body, "to"));
               LOCKSTEP_ASSIGN_OR_RETURN(t.amount, http::GetInt64(body, "amount"));
               LOCKSTEP_ASSIGN_OR_RETURN(reply::Outcome outcome, transfers.Transfer(t, req.deadline));
               return FromOutcome(outcome);
             }),
             {.limit_group = "transfers"});
}

void RegisterCommerceRoutes(http::Router& router, const Services& services) {
  ProductService& products = *services.products;
  OrderService& orders = *services.orders;

  router.Add(Method::kPost, "/v1/products", http::ResultHandler([&products](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(req.body));
               LOCKSTEP_ASSIGN_OR_RETURN(std::string name, http::GetString(body, "name"));
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t price, http::GetInt64(body, "price"));
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t stock, http::GetInt64(body, "stock"));
               LOCKSTEP_ASSIGN_OR_RETURN(std::optional<std::string> mode, http::GetOptionalString(body, "stock_mode"));
               LOCKSTEP_ASSIGN_OR_RETURN(Product p, products.Create(name, price, stock, std::move(mode), req.deadline));
               return ProductResponse(201, p);
             }),
             {.limit_group = "products_write"});

  // An L1 hit is answered on the I/O thread (no hand-off to the worker pool); a miss
  // continues on a worker.
  router.Add(
      Method::kGet, "/v1/products/{id}",
      [&products](http::Call& call) {
        Result<int64_t> id = http::PathInt64(call.request(), "id");
        if (!id.ok()) {
          call.Respond(Response::Error(id.status()));
          return;
        }
        if (std::optional<Product> cached = products.PeekCached(*id)) {
          call.Respond(ProductResponse(200, *cached));
          return;
        }
        call.ContinueOnWorker([&products, id = *id](http::Call& worker) {
          Result<Product> p = products.Get(id, worker.request().deadline);
          worker.Respond(p.ok() ? ProductResponse(200, *p) : Response::Error(p.status()));
        });
      },
      {.starts_on_io_thread = true, .limit_group = "products_read"});

  router.Add(Method::kPut, "/v1/products/{id}", http::ResultHandler([&products](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, http::PathInt64(req, "id"));
               LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(req.body));
               // Stock changes only through orders; the mode is fixed at creation.
               for (const char* fixed : {"stock", "stock_mode", "version"}) {
                 if (body.contains(fixed)) {
                   return lockstep::Status::InvalidArgument("field '", fixed, "' cannot be changed by PUT");
                 }
               }
               LOCKSTEP_ASSIGN_OR_RETURN(std::optional<std::string> name, http::GetOptionalString(body, "name"));
               LOCKSTEP_ASSIGN_OR_RETURN(std::optional<int64_t> price, http::GetOptionalInt64(body, "price"));
               LOCKSTEP_ASSIGN_OR_RETURN(Product p, products.Update(id, std::move(name), price, req.deadline));
               return ProductResponse(200, p);
             }),
             {.limit_group = "products_write"});

  // Starts on the I/O thread: an order that only has to be queued (batched, or reserved
  // once the mode, an id and the durability check are at hand) is queued from there,
  // without a hand-off to a worker; the rest continues on a worker. Either way a batched
  // order's worker is free while its batch runs, so a batch can hold more orders than
  // there are workers. The body is parsed once.
  router.Add(
      Method::kPost, "/v1/orders",
      [&orders](http::Call& call) {
        Result<OrderRequest> parsed = ParseOrderRequest(call.request().body);
        if (!parsed.ok()) {
          call.Respond(Response::Error(parsed.status()));
          return;
        }
        OrderService::Done done = [respond = call.responder()](Result<reply::Outcome> outcome) {
          respond(outcome.ok() ? FromOutcome(*outcome) : Response::Error(outcome.status()));
        };
        const domain::Blocking blocking =
            http::Call::on_io_thread() ? domain::Blocking::kNotAllowed : domain::Blocking::kAllowed;
        if (orders.Place(*parsed, call.request().deadline, done, blocking)) return;
        call.ContinueOnWorker([&orders, order = std::move(parsed).value(), done](http::Call& worker) mutable {
          orders.Place(order, worker.request().deadline, done, domain::Blocking::kAllowed);
        });
      },
      {.starts_on_io_thread = true, .limit_group = "orders"});

  router.Add(Method::kGet, "/v1/orders/{id}", http::ResultHandler([&orders](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, http::PathInt64(req, "id"));
               LOCKSTEP_ASSIGN_OR_RETURN(Order o, orders.Get(id, req.deadline));
               return Response::RawJson(200, OrderBody(o));
             }),
             {.limit_group = "orders"});

  router.Add(Method::kGet, "/v1/orders", http::ResultHandler([&orders](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, http::RequiredQuery(req, "request_id"));
               LOCKSTEP_ASSIGN_OR_RETURN(Order o, orders.GetByRequestId(rid, req.deadline));
               return Response::RawJson(200, OrderBody(o));
             }),
             {.limit_group = "orders"});
}

}  // namespace shopd::api
