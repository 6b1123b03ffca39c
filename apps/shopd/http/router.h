#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/call.h"
#include "http/method.h"
#include "http/request.h"
#include "http/response.h"

namespace shopd::http {

struct RouteOptions {
  // The handler starts on the I/O thread that read the request instead of on a worker:
  // for handlers that answer at once without blocking (/healthz, /metrics, an in-process
  // cache hit, an order that only has to be queued) and otherwise continue on a worker
  // (Call::ContinueOnWorker). Saves the hand-off to the worker pool. Default false.
  bool starts_on_io_thread = false;
  // Who goes first when the worker pool sheds load (ServerOptions::admission). Default
  // kNormal; kCritical is never shed.
  lockstep::resilience::Priority priority = lockstep::resilience::Priority::kNormal;
  // The rate-limit group ("orders"): requests of this route pass ServerOptions::gate
  // before their body is read. Empty (default): never gated (/healthz, /metrics).
  std::string limit_group = {};
};

// A registered route.
struct Route {
  Method method;
  std::string pattern;  // "/v1/accounts/{id}"
  Handler handler;
  RouteOptions options;
};

// The outcome of matching a method and path.
struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  const Route* route = nullptr;  // kFound: the route (owned by the Router).
  Params path_params;            // kFound: decoded {name} values.
  std::string allow;             // kMethodNotAllowed: "GET, POST" for the Allow header.
};

// Maps (method, path) to handlers. Patterns are absolute paths whose segments are
// literals or `{name}` (one whole segment, any non-empty value); a literal segment beats
// a parameter when both match. No trailing-slash or case folding: "/v1/accounts/" is 404.
// Thread-compatible: register every route before the server starts; Match() (const) then
// runs concurrently on all I/O threads.
class Router {
 public:
  // REQUIRES: `pattern` is well formed, (method, pattern) not yet registered, `handler`
  // set; a violation is a programmer error and aborts.
  void Add(Method method, std::string pattern, Handler handler, RouteOptions options = {});

  RouteMatch Match(Method method, std::string_view path) const;

  // 404 not_found or 405 method_not_allowed (with Allow) for a failed match.
  static Response MismatchResponse(const RouteMatch& match, Method method, std::string_view path);

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{id}" kept verbatim for parameters.
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;  // Parallel to routes_.
};

}  // namespace shopd::http
