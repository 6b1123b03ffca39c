#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common_options.h"
#include "targets.h"

namespace lockstep::bench {

// Creates `count` entities through `POST path` (body_of(i) for the i-th) on up to 16
// connections spread over `endpoints`; their "id"s in index order, or nullopt after printing
// the first failure (anything but 201).
std::optional<std::vector<int64_t>> CreateEntities(const CommonOptions& opt, const std::vector<Endpoint>& endpoints,
                                                   const std::string& path, int count,
                                                   const std::function<std::string(int index)>& body_of,
                                                   const std::string& headers);

}  // namespace lockstep::bench
