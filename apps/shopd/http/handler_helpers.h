#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "http/request.h"
#include "http/response.h"
#include "http/router.h"
#include "lockstep/base/result.h"

namespace shopd::http {

// Parses a strictly decimal int64: optional '-', then 1..19 digits, no spaces, no '+',
// no overflow. nullopt otherwise. Thread-safe (pure).
std::optional<int64_t> ParseInt64Strict(std::string_view text);

// The path parameter `name` as an int64 (ids). kInvalidArgument naming the parameter if it
// is not a strict decimal int64. REQUIRES: the route declares {name}.
lockstep::Result<int64_t> PathInt64(const Request& request, std::string_view name);

// The query parameter `name`; kInvalidArgument if absent or empty.
lockstep::Result<std::string> RequiredQuery(const Request& request, std::string_view name);

// The query parameter `name` as a strict decimal int64; nullopt if absent; kInvalidArgument
// naming it if present but empty or not an integer.
lockstep::Result<std::optional<int64_t>> OptionalQueryInt64(const Request& request, std::string_view name);

// Adapts a handler written with Result/LOCKSTEP_ASSIGN_OR_RETURN that answers before it
// returns: an error Status becomes Response::Error(status). It may block unless its route
// starts on the I/O thread.
//   router.Add(Method::kGet, "/v1/accounts/{id}", ResultHandler([&](Request& req) -> lockstep::Result<Response> {
//     LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, PathInt64(req, "id"));
//     ...
//   }));
Handler ResultHandler(std::function<lockstep::Result<Response>(Request&)> fn);

}  // namespace shopd::http
