#include "api/read_consistency.h"

#include "http/call.h"
#include "http/handler_helpers.h"
#include "lockstep/routing/consistency_token.h"
#include "lockstep/routing/read_source.h"

namespace shopd::api {

using lockstep::Status;
using lockstep::routing::Consistency;

lockstep::Result<Consistency> ReadConsistency(const http::Request& request, std::chrono::milliseconds default_staleness) {
  const auto token_text = request.headers.Get("X-Consistency-Token");
  const auto staleness_text = request.headers.Get("X-Max-Staleness-Ms");
  std::optional<std::chrono::milliseconds> staleness;
  if (staleness_text) {
    const std::optional<int64_t> ms = http::ParseInt64Strict(*staleness_text);
    if (!ms || *ms < 0) {
      return Status::InvalidArgument("header X-Max-Staleness-Ms must be a non-negative integer (milliseconds)");
    }
    staleness = std::chrono::milliseconds(*ms);
  }
  if (token_text) {
    auto token = lockstep::routing::ConsistencyToken::Parse(*token_text);
    if (!token.ok()) {
      return Status::InvalidArgument("header X-Consistency-Token is not a token this service issued: ",
                                     token.status().message());
    }
    if (staleness) return Consistency::Primary();
    return Consistency::AtLeast(std::move(token).value());
  }
  return Consistency::MaxStaleness(staleness.value_or(default_staleness));
}

http::Handler RoutedReadHandler(lockstep::routing::ReplicaSet& replicas, std::chrono::milliseconds default_staleness,
                                std::function<lockstep::Result<http::Response>(http::Request&, const domain::RoutedRead&)> fn) {
  return [&replicas, default_staleness, fn = std::move(fn)](http::Call& call) {
    http::Request& request = call.request();
    lockstep::Result<Consistency> consistency = ReadConsistency(request, default_staleness);
    if (!consistency.ok()) {
      call.Respond(http::Response::Error(consistency.status()));
      return;
    }
    // Not a real source (a replica without address) until a read began somewhere.
    lockstep::routing::ReadSource answered{false, ""};
    const domain::RoutedRead read{&replicas, *consistency, &answered};
    lockstep::Result<http::Response> result = fn(request, read);
    http::Response response = result.ok() ? std::move(result).value() : http::Response::Error(result.status());
    // A read that failed before any server answered (bad path, deadline) names none.
    if (answered.primary || !answered.address.empty()) response.headers.Set("X-Read-Source", answered.ToString());
    call.Respond(std::move(response));
  };
}

void SetConsistencyToken(http::Response& response, const std::string& token) {
  if (!token.empty()) response.headers.Set("X-Consistency-Token", token);
}

}  // namespace shopd::api
