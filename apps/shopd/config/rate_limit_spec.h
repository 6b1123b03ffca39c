#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/base/result.h"

namespace shopd::config {

// The route groups a rate limit can name (API.md "Rate limits and overload"); `all`
// covers every limited route. /healthz, /readyz and /metrics belong to no group.
inline constexpr std::array<std::string_view, 7> kRateLimitGroups = {
    "accounts", "transfers", "products_read", "products_write", "orders", "checkouts", "all"};

// One `GROUP=RATE[:BURST]`: at most `rate` requests per second of `group` (summed over
// every instance sharing the Redis) with bursts of `burst`. Value type.
struct RateLimitSpec {
  std::string group;
  double rate = 0;    // (0, 1e6].
  int64_t burst = 1;  // [1, 1e9]; default max(1, rate/10).

  // "orders=100:10" (the burst always written out).
  std::string ToString() const;
  friend bool operator==(const RateLimitSpec&, const RateLimitSpec&) = default;
};

// Parses `GROUP=RATE[:BURST]`. RATE: a positive decimal number (e.g. 100, 0.5) up to 1e6;
// BURST: an integer in [1, 1e9]. kInvalidArgument naming `source` (the flag, variable or
// file key) and saying what is wrong: unknown group, missing '=', malformed or zero rate,
// malformed, zero or negative burst. Thread-safe.
lockstep::Result<RateLimitSpec> ParseRateLimit(std::string_view text, std::string_view source);

// Parses every item; a group given twice is an error too. Thread-safe.
lockstep::Result<std::vector<RateLimitSpec>> ParseRateLimits(const std::vector<std::string>& items,
                                                             std::string_view source);

}  // namespace shopd::config
