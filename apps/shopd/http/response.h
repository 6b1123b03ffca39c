#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "http/headers.h"
#include "lockstep/base/status.h"

namespace shopd::http {

inline constexpr std::string_view kJsonContentType = "application/json";

// One HTTP response as a handler builds it: no Boost.Beast types. The server adds
// Content-Type (application/json unless set), Content-Length, Connection and X-Request-Id.
// Thread-compatible.
struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  // `status` with `body` serialized compactly (invalid UTF-8 is replaced, never throws).
  static Response Json(int status, const nlohmann::json& body);
  // `status` with `json`, already serialized (a hand-written encoder on a hot path); sent
  // as application/json.
  static Response RawJson(int status, std::string json);
  // A body with an explicit content type (e.g. /metrics text).
  static Response Text(int status, std::string body, std::string_view content_type);
  // The API error for a non-OK Status: HTTP status and code from HttpErrorFor (http/status_mapping.h)
  // (the one mapping table), body {"error":{"code":"<code>","message":"<message>"}},
  // plus `Retry-After: 1` when the mapping says so. REQUIRES: !status.ok().
  static Response Error(const lockstep::Status& status);
  // Protocol-level errors that no Status code maps to (405 method_not_allowed, 413
  // payload_too_large): used by the router and the server only. Handlers use Error().
  static Response ProtocolError(int status, std::string_view code, std::string_view message);
};

}  // namespace shopd::http
