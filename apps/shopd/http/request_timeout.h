#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "lockstep/base/result.h"

namespace shopd::http {

// The request deadline contract (API.md "Deadlines"), in one place:
// - header `X-Request-Timeout-Ms`: a positive decimal number of milliseconds;
// - absent: kDefaultRequestTimeout (5 s);
// - larger than the maximum: capped at kMaxRequestTimeout (60 s);
// - non-numeric, zero or negative: 400 invalid_argument.
// The server's options may lower/raise the default and the cap (ShopdConfig).
inline constexpr std::string_view kRequestTimeoutHeader = "X-Request-Timeout-Ms";
inline constexpr std::chrono::milliseconds kDefaultRequestTimeout{5'000};
inline constexpr std::chrono::milliseconds kMaxRequestTimeout{60'000};

// The timeout a request gets from its header value (nullopt = header absent).
// kInvalidArgument for a malformed value. Thread-safe (pure).
lockstep::Result<std::chrono::milliseconds> RequestTimeoutFromHeader(
    std::optional<std::string_view> header_value, std::chrono::milliseconds default_timeout = kDefaultRequestTimeout,
    std::chrono::milliseconds max_timeout = kMaxRequestTimeout);

}  // namespace shopd::http
