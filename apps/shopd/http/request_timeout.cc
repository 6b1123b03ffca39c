#include "http/request_timeout.h"

#include <algorithm>

namespace shopd::http {

lockstep::Result<std::chrono::milliseconds> RequestTimeoutFromHeader(std::optional<std::string_view> header_value,
                                                                    std::chrono::milliseconds default_timeout,
                                                                    std::chrono::milliseconds max_timeout) {
  if (!header_value) return std::min(default_timeout, max_timeout);
  const std::string_view v = *header_value;
  // Digits only; more than 12 digits is far beyond any cap, so cap without parsing.
  bool digits = !v.empty();
  for (char c : v) digits = digits && c >= '0' && c <= '9';
  if (!digits) {
    return lockstep::Status::InvalidArgument(kRequestTimeoutHeader, " must be a positive integer (milliseconds)");
  }
  if (v.size() > 12) return max_timeout;
  int64_t ms = 0;
  for (char c : v) ms = ms * 10 + (c - '0');
  if (ms <= 0) {
    return lockstep::Status::InvalidArgument(kRequestTimeoutHeader, " must be a positive integer (milliseconds)");
  }
  return std::min(std::chrono::milliseconds(ms), max_timeout);
}

}  // namespace shopd::http
