#pragma once

#include <string>
#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/status.h"

namespace lockstep::redis {
class Client;
}

namespace shopd::domain {

// The weakest `appendfsync` the operator accepts for the `reserved` stock mode
// (config key reserved_min_fsync): "always" (default) or "everysec".
inline constexpr std::string_view kFsyncAlways = "always";
inline constexpr std::string_view kFsyncEverysec = "everysec";

// Checks with CONFIG GET that Redis keeps what the `reserved` mode writes: `appendonly yes`,
// `appendfsync always` (or `everysec` when `min_fsync` is "everysec") and
// `maxmemory-policy noeviction`. OK when all hold; kFailedPrecondition naming every setting
// that does not (reason "redis_not_durable"); the client's error if Redis cannot be asked
// (CONFIG renamed/disabled is kFailedPrecondition too). Thread-safe.
lockstep::Status CheckRedisDurability(lockstep::redis::Client& client, std::string_view min_fsync,
                                      const lockstep::Deadline& deadline);

}  // namespace shopd::domain
