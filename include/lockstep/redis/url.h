#pragma once

#include <string_view>
#include <vector>

#include "lockstep/base/result.h"
#include "lockstep/redis/options.h"

namespace lockstep::redis {

// Parses "redis://[[user]:password@]host[:port][/db]" into RedisOptions, starting from
// `defaults` (pool size, timeouts are kept; port defaults to 6379, db to 0). User and
// password are percent-decoded; an IPv6 host is written in brackets ("[::1]:6379").
// Returns kInvalidArgument, with a message that names the problem (but never the
// password), for a wrong scheme, an empty host, a bad port/db, a bad %-escape or trailing
// junk. Thread-safe (pure).
Result<RedisOptions> ParseRedisUrl(std::string_view url, const RedisOptions& defaults = {});

// Parses a comma-separated list of URLs (e.g. several independent masters for Redlock);
// blanks around the commas are ignored. Returns kInvalidArgument for an empty list or
// element, or the first URL error (annotated with its position). Thread-safe (pure).
Result<std::vector<RedisOptions>> ParseRedisUrlList(std::string_view urls,
                                                    const RedisOptions& defaults = {});

}  // namespace lockstep::redis
