#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/redis/client.h"

namespace lockstep::bench {

// Prints "<program>: <what>: <status>" and exits 1: a benchmark stops at its first failure.
[[noreturn]] inline void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what.c_str(), s.ToString().c_str());
  std::exit(1);
}

// The value of `r`, or Die(what, ...).
template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(r).value();
}

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

// The p-quantile (0..1) of `v` divided by 1,000 (ns -> µs, µs -> ms); reorders `v`. 0 if
// empty.
inline double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]) / 1000.0;
}

}  // namespace lockstep::bench
