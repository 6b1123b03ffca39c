#include "run_setup.h"

#include <utility>

namespace lockstep::bench {

std::optional<RunSetup> StartRun(const CommonOptions& opt, char letter, const std::string& prefix_flag) {
  std::optional<RunTargets> targets = OpenTargets(opt);
  if (!targets) return std::nullopt;
  std::mt19937_64 seed_rng(opt.seed != 0 ? opt.seed : std::random_device{}());
  std::string prefix = !prefix_flag.empty() ? prefix_flag : letter + std::to_string(seed_rng() % 1'000'000'000) + "-";
  return RunSetup{std::move(*targets), std::move(seed_rng), std::move(prefix)};
}

}  // namespace lockstep::bench
