#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/method.h"
#include "http/request.h"
#include "http/responder.h"
#include "http/response.h"

namespace shopd::http {

// A request handler. Runs on the worker pool unless its route is `run_inline`; blocking
// calls (MariaDB, Redis) are allowed there. It must honour `request.deadline` and answer
// 504 (Response::Error(Status::DeadlineExceeded(...))) itself: the server never cuts a
// running handler short, so a 504 never races a commit. Exceptions escaping it become 500.
using Handler = std::function<Response(Request&)>;

// A handler that may answer after it returns: it starts the work on the worker pool and
// hands `respond` to whatever completes it (e.g. a batch executor), so no worker thread
// waits meanwhile. It must make sure `respond` is called by `request.deadline` (a 504
// included), like a Handler returns by then; dropping every copy uncalled answers 500, an
// exception escaping it answers 500 unless it responded already. `request` is valid only
// until the handler returns: copy what the completion needs.
using DeferredHandler = std::function<void(Request&, Responder respond)>;

// A non-blocking first try of a pool route on the I/O thread (e.g. an in-process cache
// hit): a response, or nullopt to run the route's handler on the worker pool as usual.
using FastPath = std::function<std::optional<Response>(Request&)>;

// A non-blocking first try of a deferred route on the I/O thread (e.g. an order that only
// needs to be queued): true if it took the request — it answers through `respond`, now or
// from whatever it handed `respond` to —, false to run the route's deferred handler on the
// worker pool as usual. It must never block, and must decline before it has any effect.
// An exception escaping it answers 500 (the request is not retried on the pool).
using DeferredFastPath = std::function<bool(Request&, Responder& respond)>;

struct RouteOptions {
  // Run on the I/O thread instead of the worker pool. Only for cheap, never-blocking
  // handlers (/healthz, /metrics). Default false.
  bool run_inline = false;
  // Optional, for pool routes: tried on the I/O thread first; must never block. An
  // exception from it counts as nullopt. Default none.
  FastPath fast_path = nullptr;
  // Optional, for deferred routes only: tried on the I/O thread first. Default none.
  DeferredFastPath deferred_fast_path = nullptr;
};

// A registered route: exactly one of `handler` and `deferred` is set.
struct Route {
  Method method;
  std::string pattern;  // "/v1/accounts/{id}"
  Handler handler;
  RouteOptions options;
  DeferredHandler deferred;
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
  // REQUIRES: `pattern` is well formed and (method, pattern) not yet registered; a
  // violation is a programmer error and aborts. No deferred_fast_path (AddDeferred only).
  void Add(Method method, std::string pattern, Handler handler, RouteOptions options = {});
  // The same for a deferred handler (started on the worker pool unless its
  // deferred_fast_path takes the request). REQUIRES: !options.run_inline, no fast_path.
  void AddDeferred(Method method, std::string pattern, DeferredHandler handler, RouteOptions options = {});

  RouteMatch Match(Method method, std::string_view path) const;

  // 404 not_found or 405 method_not_allowed (with Allow) for a failed match.
  static Response MismatchResponse(const RouteMatch& match, Method method, std::string_view path);

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{id}" kept verbatim for parameters.
  };
  void AddRoute(Route route);
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;  // Parallel to routes_.
};

}  // namespace shopd::http
