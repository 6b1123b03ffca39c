#pragma once

#include <cstdlib>
#include <utility>

#include "lockstep/redis/client.h"

namespace lockstep::bench {

// Redis port of the benchmarks: LOCKSTEP_REDIS_PORT, default 16379 (like TestEnv).
inline int RedisPort() {
  const char* port = std::getenv("LOCKSTEP_REDIS_PORT");
  return port != nullptr && *port != '\0' ? std::atoi(port) : 16379;
}

// A client on RedisPort(), opened on first use and never destroyed; shared by all
// benchmarks and threads (Client is thread-safe). nullptr if it cannot be opened.
inline redis::Client* SharedRedisClient() {
  static redis::Client* client = [] {
    redis::RedisOptions options;
    options.port = RedisPort();
    auto opened = redis::Client::Open(options);
    return opened.ok() ? std::move(opened).value().release() : nullptr;
  }();
  return client;
}

}  // namespace lockstep::bench
