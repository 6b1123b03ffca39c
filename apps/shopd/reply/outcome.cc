#include "reply/outcome.h"

#include <nlohmann/json.hpp>

#include "reply/json_text.h"
#include "reply/status_mapping.h"

namespace shopd::reply {

Outcome Outcome::Json(int http_status, const nlohmann::json& body) {
  return Outcome{http_status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), false, {}};
}

Outcome Outcome::Error(const lockstep::Status& status) {
  const HttpError e = HttpErrorFor(status);
  return Outcome{e.http_status, ErrorJson(e.error_code, status.message()), false, {}};
}

}  // namespace shopd::reply
