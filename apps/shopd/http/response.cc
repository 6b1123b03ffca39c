#include "http/response.h"

#include <nlohmann/json.hpp>

#include "reply/json_text.h"
#include "lockstep/base/check.h"
#include "reply/status_mapping.h"

namespace shopd::http {
namespace {
Response ErrorBody(int status, std::string_view code, std::string_view message) {
  Response r = Response::RawJson(status, reply::ErrorJson(code, message));
  r.headers.Set("Content-Type", std::string(kJsonContentType));
  return r;
}
}  // namespace

Response Response::Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", std::string(kJsonContentType));
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::RawJson(int status, std::string json) {
  Response r;
  r.status = status;
  r.body = std::move(json);
  return r;  // The server adds Content-Type: application/json.
}

Response Response::Text(int status, std::string body, std::string_view content_type) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", std::string(content_type));
  r.body = std::move(body);
  return r;
}

Response Response::Error(const lockstep::Status& status) {
  LOCKSTEP_CHECK(!status.ok());
  const reply::HttpError e = reply::HttpErrorFor(status);
  Response r = ErrorBody(e.http_status, e.error_code, status.message());
  if (e.retry_after) r.headers.Set("Retry-After", "1");
  return r;
}

Response Response::ProtocolError(int status, std::string_view code, std::string_view message) {
  return ErrorBody(status, code, message);
}

}  // namespace shopd::http
