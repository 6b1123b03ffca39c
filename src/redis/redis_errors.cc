#include "redis/redis_errors.h"

#include <cctype>
#include <string>

namespace lockstep::redis::internal {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Status StatusFromErrorReply(std::string_view text) {
  const std::string_view prefix = text.substr(0, text.find(' '));
  const std::string message = "redis: " + std::string(text);
  std::string reason = Lower(prefix);
  auto make = [&](StatusCode code) { return Status(code, message).WithReason(reason); };

  if (prefix == "LOADING" || prefix == "BUSY" || prefix == "MASTERDOWN" || prefix == "TRYAGAIN" ||
      prefix == "CLUSTERDOWN" || prefix == "READONLY") {
    return make(StatusCode::kUnavailable);
  }
  if (prefix == "OOM") return make(StatusCode::kResourceExhausted);
  if (prefix == "NOSCRIPT" || prefix == "NOGROUP") return make(StatusCode::kNotFound);
  if (prefix == "BUSYGROUP") return make(StatusCode::kAlreadyExists);
  if (prefix == "NOAUTH" || prefix == "WRONGPASS") return make(StatusCode::kUnauthenticated);
  if (prefix == "NOPERM") return make(StatusCode::kPermissionDenied);
  if (prefix == "EXECABORT") return make(StatusCode::kAborted);
  if (prefix == "WRONGTYPE") return make(StatusCode::kFailedPrecondition);
  if (prefix == "ERR") {
    if (text.find("requires the key to exist") != std::string_view::npos) {
      reason = "no_such_key";
      return make(StatusCode::kNotFound);
    }
    return make(StatusCode::kInternal);
  }
  if (prefix.empty()) {
    reason = "err";
    return make(StatusCode::kInternal);
  }
  // Not a server prefix: an error our own Lua scripts raise on purpose (business refusal).
  return make(StatusCode::kFailedPrecondition);
}

bool IsNoScript(const Status& status) {
  return status.code() == StatusCode::kNotFound && status.reason() == "noscript";
}

}  // namespace lockstep::redis::internal
