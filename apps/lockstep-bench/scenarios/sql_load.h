#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "common_options.h"
#include "lockstep/sql/pool.h"

namespace lockstep::bench {

// The shared part of the bare-SQL limits (sql-baseline, sql-hotrow): the same load runner,
// no HTTP.

// A pool of opt.connections connections to --mysql; nullptr after printing why.
std::unique_ptr<sql::Pool> OpenSqlLoadPool(const CommonOptions& opt);

// Runs `body(request_index)` (returns 200 on success, 503 on failure) under RunLoad with
// the --cpu-pid meter; the summary JSON with "cpu_us_per_request" and "connections", or
// nullopt after printing a bad --cpu-pid.
std::optional<nlohmann::json> RunSqlLoad(const CommonOptions& opt, const char* name,
                                         const std::function<int(int64_t request_index)>& body);

}  // namespace lockstep::bench
