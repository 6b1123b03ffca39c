#include "api/routes.h"

#include <nlohmann/json.hpp>

#include "domain/orders/order_json.h"
#include "api/product_json.h"
#include "api/read_consistency.h"
#include "http/call.h"
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


// `token`, or when it is empty (a write whose commit named no GTID) the primary's current
// position; on an I/O thread, which must not block, the last token issued (only reserved-mode
// orders answer there: their reads find them in Redis or on the primary whatever the token).
// "" if none can be had (the header is then left out).
std::string TokenOrCurrent(domain::WriteTokens& tokens, const std::string& token, const lockstep::Deadline& deadline) {
  if (!token.empty()) {
    tokens.Remember(token);
    return token;
  }
  if (http::Call::on_io_thread()) return tokens.Last();
  return tokens.Current(deadline).value_or("");
}

Response FromOutcome(const reply::Outcome& outcome, domain::WriteTokens& tokens, const lockstep::Deadline& deadline) {
  Response r;
  r.status = outcome.http_status;
  r.body = outcome.body;
  if (outcome.replayed) r.headers.Set("Idempotent-Replay", "true");
  SetConsistencyToken(r, TokenOrCurrent(tokens, outcome.consistency_token, deadline));
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
  domain::WriteTokens& tokens = *services.tokens;
  lockstep::routing::ReplicaSet& replicas = *services.replicas;
  const std::chrono::milliseconds staleness = services.read_max_staleness;

  router.Add(Method::kPost, "/v1/accounts", http::ResultHandler([&accounts, &tokens](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(req.body));
               LOCKSTEP_ASSIGN_OR_RETURN(std::string owner, http::GetString(body, "owner"));
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t balance, http::GetInt64(body, "balance"));
               std::string token;
               LOCKSTEP_ASSIGN_OR_RETURN(Account account, accounts.Create(owner, balance, req.deadline, &token));
               Response r = Response::Json(201, AccountJson(account));
               SetConsistencyToken(r, TokenOrCurrent(tokens, token, req.deadline));
               return r;
             }),
             {.limit_group = "accounts"});

  router.Add(Method::kGet, "/v1/accounts/{id}",
             RoutedReadHandler(replicas, staleness,
                               [&accounts](Request& req, const domain::RoutedRead& read) -> Result<Response> {
                                 LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, http::PathInt64(req, "id"));
                                 LOCKSTEP_ASSIGN_OR_RETURN(Account account, accounts.Get(id, read, req.deadline));
                                 return Response::Json(200, AccountJson(account));
                               }),
             {.limit_group = "accounts"});

  router.Add(
      Method::kGet, "/v1/accounts/{id}/transfers",
      RoutedReadHandler(replicas, staleness, [&transfers](Request& req, const domain::RoutedRead& read) -> Result<Response> {
        LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, http::PathInt64(req, "id"));
        LOCKSTEP_ASSIGN_OR_RETURN(std::optional<int64_t> limit, http::OptionalQueryInt64(req, "limit"));
        LOCKSTEP_ASSIGN_OR_RETURN(std::optional<int64_t> before, http::OptionalQueryInt64(req, "before"));
        LOCKSTEP_ASSIGN_OR_RETURN(std::vector<domain::TransferRecord> list,
                                  transfers.ListForAccount(id, before, limit.value_or(100), read, req.deadline));
        return Response::RawJson(200, domain::TransferListBody(list));
      }),
      {.limit_group = "transfers"});

  router.Add(Method::kPost, "/v1/transfers", http::ResultHandler([&transfers, &tokens](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(req.body));
               TransferRequest t;
               LOCKSTEP_ASSIGN_OR_RETURN(t.request_id, http::GetString(body, "request_id"));
               LOCKSTEP_ASSIGN_OR_RETURN(t.from, http::GetInt64(body, "from"));
               LOCKSTEP_ASSIGN_OR_RETURN(t.to, http::GetInt64(body, "to"));
               LOCKSTEP_ASSIGN_OR_RETURN(t.amount, http::GetInt64(body, "amount"));
               LOCKSTEP_ASSIGN_OR_RETURN(reply::Outcome outcome, transfers.Transfer(t, req.deadline));
               return FromOutcome(outcome, tokens, req.deadline);
             }),
             {.limit_group = "transfers"});
}

void RegisterCommerceRoutes(http::Router& router, const Services& services) {
  ProductService& products = *services.products;
  OrderService& orders = *services.orders;
  domain::WriteTokens& tokens = *services.tokens;
  lockstep::routing::ReplicaSet& replicas = *services.replicas;
  const std::chrono::milliseconds staleness = services.read_max_staleness;
  // Product writes take the primary's position after their commit (one more round trip;
  // product writes are rare next to their reads).
  auto product_written = [&tokens](int status, const Product& p, const lockstep::Deadline& deadline) {
    Response r = ProductResponse(status, p);
    SetConsistencyToken(r, TokenOrCurrent(tokens, "", deadline));
    return r;
  };

  router.Add(Method::kPost, "/v1/products", http::ResultHandler([&products, product_written](Request& req) -> Result<Response> {
               LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, http::ParseJsonObject(req.body));
               LOCKSTEP_ASSIGN_OR_RETURN(std::string name, http::GetString(body, "name"));
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t price, http::GetInt64(body, "price"));
               LOCKSTEP_ASSIGN_OR_RETURN(int64_t stock, http::GetInt64(body, "stock"));
               LOCKSTEP_ASSIGN_OR_RETURN(std::optional<std::string> mode, http::GetOptionalString(body, "stock_mode"));
               LOCKSTEP_ASSIGN_OR_RETURN(Product p, products.Create(name, price, stock, std::move(mode), req.deadline));
               return product_written(201, p, req.deadline);
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

  router.Add(Method::kPut, "/v1/products/{id}", http::ResultHandler([&products, product_written](Request& req) -> Result<Response> {
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
               return product_written(200, p, req.deadline);
             }),
             {.limit_group = "products_write"});

  // Starts on the I/O thread: an order that only has to be queued (batched, or reserved
  // once the mode, an id and the durability check are at hand) is queued from there,
  // without a hand-off to a worker; the rest continues on a worker. Either way a batched
  // order's worker is free while its batch runs, so a batch can hold more orders than
  // there are workers. The body is parsed once.
  router.Add(
      Method::kPost, "/v1/orders",
      [&orders, &tokens](http::Call& call) {
        Result<OrderRequest> parsed = ParseOrderRequest(call.request().body);
        if (!parsed.ok()) {
          call.Respond(Response::Error(parsed.status()));
          return;
        }
        OrderService::Done done = [respond = call.responder(), &tokens,
                                   deadline = call.request().deadline](Result<reply::Outcome> outcome) {
          respond(outcome.ok() ? FromOutcome(*outcome, tokens, deadline) : Response::Error(outcome.status()));
        };
        const domain::Blocking blocking =
            http::Call::on_io_thread() ? domain::Blocking::kNotAllowed : domain::Blocking::kAllowed;
        if (orders.Place(*parsed, call.request().deadline, done, blocking)) return;
        call.ContinueOnWorker([&orders, order = std::move(parsed).value(), done](http::Call& worker) mutable {
          orders.Place(order, worker.request().deadline, done, domain::Blocking::kAllowed);
        });
      },
      {.starts_on_io_thread = true, .limit_group = "orders"});

  router.Add(Method::kGet, "/v1/orders/{id}",
             RoutedReadHandler(replicas, staleness,
                               [&orders](Request& req, const domain::RoutedRead& read) -> Result<Response> {
                                 LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, http::PathInt64(req, "id"));
                                 LOCKSTEP_ASSIGN_OR_RETURN(Order o, orders.Get(id, read, req.deadline));
                                 return Response::RawJson(200, OrderBody(o));
                               }),
             {.limit_group = "orders"});

  router.Add(Method::kGet, "/v1/orders",
             RoutedReadHandler(replicas, staleness,
                               [&orders](Request& req, const domain::RoutedRead& read) -> Result<Response> {
                                 LOCKSTEP_ASSIGN_OR_RETURN(std::string rid, http::RequiredQuery(req, "request_id"));
                                 LOCKSTEP_ASSIGN_OR_RETURN(Order o, orders.GetByRequestId(rid, read, req.deadline));
                                 return Response::RawJson(200, OrderBody(o));
                               }),
             {.limit_group = "orders"});
}

}  // namespace shopd::api
