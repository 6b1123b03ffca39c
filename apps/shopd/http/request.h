#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/headers.h"
#include "http/method.h"
#include "lockstep/base/deadline.h"

namespace shopd::http {

// Name/value pairs (query parameters, path parameters), percent-decoded, in order.
// Thread-compatible.
class Params {
 public:
  // The first value named `name`; nullopt if absent.
  std::optional<std::string_view> Get(std::string_view name) const {
    for (const auto& [n, v] : items_) {
      if (n == name) return std::string_view(v);
    }
    return std::nullopt;
  }
  void Add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }
  bool empty() const { return items_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// One HTTP request as a handler sees it: no Boost.Beast types. The server fills it; the
// handler owns it for the duration of the call (it may move the body out).
// Not thread-safe (one handler at a time uses it).
struct Request {
  Method method = Method::kGet;
  std::string target;  // As received, e.g. "/v1/orders?request_id=o-1".
  std::string path;    // The target's path, not decoded ("/v1/orders").
  Params query;        // Decoded query parameters ('+' is a space).
  Headers headers;
  std::string body;
  Params path_params;  // Decoded values of the route's {name} segments.
  // When the caller stops waiting: from X-Request-Timeout-Ms (default and cap in
  // request_timeout.h), counted from the moment the request header arrived. Handlers pass
  // it down to every blocking call and answer 504 themselves when it passes.
  lockstep::Deadline deadline = lockstep::Deadline::Infinite();
  // The X-Request-Id echoed in the response (the client's, or generated). For logs.
  std::string request_log_id;
  // The route pattern that matched ("/v1/accounts/{id}"); the metrics label.
  std::string route;
};

}  // namespace shopd::http
