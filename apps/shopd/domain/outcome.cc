#include "domain/outcome.h"

#include <nlohmann/json.hpp>

#include "http/json_text.h"
#include "http/status_mapping.h"

namespace shopd::domain {

Outcome Outcome::Json(int http_status, const nlohmann::json& body) {
  return Outcome{http_status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), false};
}

Outcome Outcome::Error(const lockstep::Status& status) {
  const http::HttpError e = http::HttpErrorFor(status);
  return Outcome{e.http_status, http::ErrorJson(e.error_code, status.message()), false};
}

}  // namespace shopd::domain
