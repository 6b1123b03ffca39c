#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common_options.h"
#include "lockstep/base/result.h"
#include "lockstep/sql/pool.h"

namespace lockstep::bench {

// One shopd instance, from a --url.
struct Endpoint {
  std::string host;
  int port;
};

// The endpoints of `urls` ("http://host:port"); kInvalidArgument on a bad URL.
Result<std::vector<Endpoint>> Endpoints(const std::vector<std::string>& urls);

// A pool of max(2, connections) connections to the MariaDB of a mysql:// URL.
Result<std::unique_ptr<sql::Pool>> OpenPool(const std::string& url, int connections);

// The shopd endpoints and a small MariaDB pool of a load run.
struct RunTargets {
  std::vector<Endpoint> endpoints;
  std::unique_ptr<sql::Pool> pool;
};

// Opens the --url endpoints and the --mysql pool of `opt`; nullopt after printing what
// failed (the caller exits 2).
std::optional<RunTargets> OpenTargets(const CommonOptions& opt);

}  // namespace lockstep::bench
