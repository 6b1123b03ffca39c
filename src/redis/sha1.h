#pragma once

#include <string>
#include <string_view>

namespace lockstep::redis::internal {

// SHA-1 (FIPS 180-1) of `data` as 40 lower-case hex digits, the form EVALSHA expects.
// Used for script identity only, not for security. Thread-safe (pure).
std::string Sha1Hex(std::string_view data);

}  // namespace lockstep::redis::internal
