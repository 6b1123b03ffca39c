#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "lockstep/base/status.h"

namespace shopd::reply {

// The final answer to a mutating request, as recorded for idempotent replay: HTTP status
// and exact body. Value type.
struct Outcome {
  int http_status = 200;
  std::string body;
  bool replayed = false;  // Served from the request record (Idempotent-Replay: true).
  // GTID position ("0-1-42") of a primary commit at least as new as the one that recorded
  // this outcome (the X-Consistency-Token of API.md); empty if not known. Not recorded.
  std::string consistency_token;

  static Outcome Json(int http_status, const nlohmann::json& body);
  // The API error body for `status` (status code and error code from the one mapping table,
  // HttpErrorFor). REQUIRES: !status.ok().
  static Outcome Error(const lockstep::Status& status);
};

}  // namespace shopd::reply
