#pragma once

#include <optional>
#include <random>
#include <string>

#include "common_options.h"
#include "targets.h"

namespace lockstep::bench {

// The start every scenario that drives shopd shares. Move-only (owns the pool).
struct RunSetup {
  RunTargets targets;        // The --url endpoints and a small --mysql pool.
  std::mt19937_64 seed_rng;  // The setup's random source: --seed, or random when it is 0.
  std::string prefix;        // The run's request_id / name prefix.
};

// Opens the targets of `opt`, seeds the setup's random source and picks the prefix:
// `prefix_flag` if not empty, else `letter` + up to nine random digits + "-". nullopt after
// printing what failed (the caller exits 2).
std::optional<RunSetup> StartRun(const CommonOptions& opt, char letter, const std::string& prefix_flag = "");

}  // namespace lockstep::bench
