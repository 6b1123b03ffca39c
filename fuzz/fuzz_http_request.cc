// Fuzz target: raw bytes -> Beast's request parser (the server's header and body limits)
// -> method, X-Request-Timeout-Ms, request target -> a Router with every route shape of
// API.md -> a handler that parses the path, query and JSON body exactly as shopd's routes do
// (http/json_body.h, http/handler_helpers.h, domain/validation.h) and echoes what it
// parsed. The real handlers then call services (MariaDB, Redis), which a fuzzer cannot;
// everything before that call is what runs here. Must never crash, hang or answer 5xx.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "domain/validation.h"
#include "http/handler_helpers.h"
#include "http/json_body.h"
#include "http/method.h"
#include "http/request_timeout.h"
#include "http/router.h"
#include "http/server.h"
#include "http/target.h"
#include "http/testing/run_handler.h"

namespace {

using lockstep::Result;
using shopd::http::GetInt64;
using shopd::http::GetOptionalString;
using shopd::http::GetString;
using shopd::http::Method;
using shopd::http::ParseJsonObject;
using shopd::http::Request;
using shopd::http::Response;
using shopd::http::ResultHandler;

// The JSON object fields of a body: name -> "s" (string), "i" (int64), "s?" (optional string).
Result<Response> EchoBody(const Request& req, std::initializer_list<std::pair<const char*, const char*>> fields,
                          int status) {
  LOCKSTEP_ASSIGN_OR_RETURN(nlohmann::json body, ParseJsonObject(req.body));
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, kind] : fields) {
    const std::string k = kind;
    if (k == "s") {
      LOCKSTEP_ASSIGN_OR_RETURN(std::string v, GetString(body, name));
      if (std::string(name) == "request_id") LOCKSTEP_RETURN_IF_ERROR(shopd::domain::ValidateRequestId(v));
      else LOCKSTEP_RETURN_IF_ERROR(shopd::domain::ValidateText(name, v, 1, 128));
      out[name] = v;
    } else if (k == "s?") {
      LOCKSTEP_ASSIGN_OR_RETURN(std::optional<std::string> v, GetOptionalString(body, name));
      if (v) out[name] = *v;
    } else {
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t v, GetInt64(body, name));
      out[name] = v;
    }
  }
  return Response::Json(status, out);
}

Result<Response> EchoId(const Request& req) {
  LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, shopd::http::PathInt64(req, "id"));
  return Response::Json(200, {{"id", id}});
}

const shopd::http::Router& ApiRouter() {
  static const shopd::http::Router* router = [] {
    auto* r = new shopd::http::Router();
    r->Add(Method::kPost, "/v1/accounts",
           ResultHandler([](Request& q) { return EchoBody(q, {{"owner", "s"}, {"balance", "i"}}, 201); }));
    r->Add(Method::kGet, "/v1/accounts/{id}", ResultHandler([](Request& q) { return EchoId(q); }));
    r->Add(Method::kGet, "/v1/accounts/{id}/transfers", ResultHandler([](Request& q) -> Result<Response> {
             LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, shopd::http::PathInt64(q, "id"));
             LOCKSTEP_ASSIGN_OR_RETURN(std::optional<int64_t> limit, shopd::http::OptionalQueryInt64(q, "limit"));
             LOCKSTEP_ASSIGN_OR_RETURN(std::optional<int64_t> before, shopd::http::OptionalQueryInt64(q, "before"));
             return Response::Json(200, {{"id", id}, {"limit", limit.value_or(100)}, {"before", before.value_or(0)}});
           }));
    r->Add(Method::kPost, "/v1/transfers", ResultHandler([](Request& q) {
             return EchoBody(q, {{"request_id", "s"}, {"from", "i"}, {"to", "i"}, {"amount", "i"}}, 201);
           }));
    r->Add(Method::kPost, "/v1/products", ResultHandler([](Request& q) {
             return EchoBody(q, {{"name", "s"}, {"price", "i"}, {"stock", "i"}, {"stock_mode", "s?"}}, 201);
           }));
    r->Add(Method::kGet, "/v1/products/{id}", ResultHandler([](Request& q) { return EchoId(q); }));
    r->Add(Method::kPut, "/v1/products/{id}", ResultHandler([](Request& q) -> Result<Response> {
             LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, shopd::http::PathInt64(q, "id"));
             (void)id;
             return EchoBody(q, {{"name", "s?"}}, 200);
           }));
    r->Add(Method::kPost, "/v1/orders", ResultHandler([](Request& q) {
             return EchoBody(q, {{"request_id", "s"}, {"user_id", "i"}, {"product_id", "i"}, {"quantity", "i"}}, 201);
           }));
    r->Add(Method::kGet, "/v1/orders/{id}", ResultHandler([](Request& q) { return EchoId(q); }));
    r->Add(Method::kPost, "/v1/checkouts", ResultHandler([](Request& q) {
             return EchoBody(q, {{"request_id", "s"}, {"account_id", "i"}, {"product_id", "i"}, {"quantity", "i"}}, 201);
           }));
    r->Add(Method::kGet, "/v1/checkouts/{id}", ResultHandler([](Request& q) { return EchoId(q); }));
    r->Add(Method::kGet, "/v1/checkouts", ResultHandler([](Request& q) -> Result<Response> {
             LOCKSTEP_ASSIGN_OR_RETURN(std::string id, shopd::http::RequiredQuery(q, "request_id"));
             return Response::Json(200, {{"request_id", id}});
           }));
    r->Add(Method::kGet, "/v1/orders", ResultHandler([](Request& q) -> Result<Response> {
             LOCKSTEP_ASSIGN_OR_RETURN(std::string id, shopd::http::RequiredQuery(q, "request_id"));
             return Response::Json(200, {{"request_id", id}});
           }));
    return r;
  }();
  return *router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace bhttp = boost::beast::http;
  const shopd::http::ServerOptions limits;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.header_limit_bytes));
  parser.body_limit(limits.body_limit_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;  // The server answers 400/413/431 itself.
  const auto& msg = parser.get();

  Request req;
  req.method = shopd::http::ParseMethod(std::string_view(msg.method_string().data(), msg.method_string().size()));
  req.target = std::string(msg.target());
  std::optional<std::string_view> timeout;
  if (auto it = msg.find("X-Request-Timeout-Ms"); it != msg.end()) timeout = std::string_view(it->value().data(), it->value().size());
  if (!shopd::http::RequestTimeoutFromHeader(timeout).ok()) return 0;  // 400.
  Result<shopd::http::ParsedTarget> target = shopd::http::ParseTarget(req.target);
  if (!target.ok()) {
    if (Response::Error(target.status()).status != 400) std::abort();
    return 0;
  }
  req.path = target->path;
  req.query = target->query;
  req.body = msg.body();
  shopd::http::RouteMatch match = ApiRouter().Match(req.method, req.path);
  Response answer;
  if (match.kind == shopd::http::RouteMatch::Kind::kFound) {
    req.path_params = match.path_params;
    req.route = match.route->pattern;
    answer = shopd::http::testing::RunHandler(match.route->handler, std::move(req));
  } else {
    answer = shopd::http::Router::MismatchResponse(match, req.method, req.path);
  }
  if (answer.status >= 500 || answer.status < 200) std::abort();
  // Every answer body is valid JSON.
  if (!nlohmann::json::accept(answer.body)) std::abort();
  return 0;
}
