#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "lockstep/base/status.h"

namespace shopd::domain {

// API.md limits, in one place.
inline constexpr size_t kMaxRequestIdBytes = 64;
inline constexpr size_t kMaxOwnerChars = 64;
inline constexpr size_t kMaxProductNameChars = 128;

// 1..64 printable ASCII characters (0x20..0x7E). kInvalidArgument otherwise.
lockstep::Status ValidateRequestId(std::string_view request_id);

// Valid UTF-8 of `min`..`max` code points. kInvalidArgument naming `field` otherwise.
lockstep::Status ValidateText(std::string_view field, std::string_view value, size_t min, size_t max);

}  // namespace shopd::domain
