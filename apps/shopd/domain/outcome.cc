#include "domain/outcome.h"

#include <nlohmann/json.hpp>

#include "lockstep/base/status_mapping.h"

namespace shopd::domain {

Outcome Outcome::Json(int http_status, const nlohmann::json& body) {
  return Outcome{http_status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), false};
}

Outcome Outcome::Error(const lockstep::Status& status) {
  const lockstep::HttpError e = lockstep::HttpErrorFor(status);
  return Json(e.http_status, {{"error", {{"code", std::string(e.error_code)}, {"message", std::string(status.message())}}}});
}

}  // namespace shopd::domain
