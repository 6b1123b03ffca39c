#include "targets.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "http_client/client.h"
#include "lockstep/sql/url.h"

namespace lockstep::bench {

Result<std::vector<Endpoint>> Endpoints(const std::vector<std::string>& urls) {
  std::vector<Endpoint> out;
  for (const auto& u : urls) {
    LOCKSTEP_ASSIGN_OR_RETURN(auto hp, http_client::ParseHttpUrl(u));
    out.push_back({hp.first, hp.second});
  }
  return out;
}

Result<std::unique_ptr<sql::Pool>> OpenPool(const std::string& url, int connections) {
  LOCKSTEP_ASSIGN_OR_RETURN(sql::ConnectionOptions o, sql::ParseMysqlUrl(url));
  sql::PoolOptions po;
  po.max_connections = std::max(2, connections);
  po.acquire_timeout = std::chrono::seconds(10);
  return sql::Pool::Open(o, po);
}

std::optional<RunTargets> OpenTargets(const CommonOptions& opt) {
  auto endpoints = Endpoints(opt.urls);
  if (!endpoints.ok()) {
    std::fprintf(stderr, "lockstep-bench: %s\n", endpoints.status().ToString().c_str());
    return std::nullopt;
  }
  auto pool = OpenPool(opt.mysql, 2);
  if (!pool.ok()) {
    std::fprintf(stderr, "lockstep-bench: cannot open --mysql: %s\n", pool.status().ToString().c_str());
    return std::nullopt;
  }
  return RunTargets{std::move(endpoints).value(), std::move(pool).value()};
}

}  // namespace lockstep::bench
