#pragma once

#include "common_options.h"

namespace lockstep::bench {

struct ReadsOptions {
  int products = 10'000;
  double zipf_s = 0.99;
  double writes_per_s = 20;
  int bound_ms = 50;  // Staleness bound checked (README "Consistent product cache").
  bool warmup = false;  // GET every product once on every instance before measuring.
};

// `reads`: C connections GET products chosen by zipf over N products (created by SQL),
// spread over every --url, while one writer PUTs a new price to a zipf-chosen product at
// W/s through the first --url. The staleness checker counts GETs that started more than
// --bound-ms after a PUT of that product returned and still answered an older version;
// any such GET is a violation. Returns the exit code: 0 ok, 1 stale beyond the bound or
// --max-5xx exceeded, 2 setup error.
int RunReads(const CommonOptions& opt, const ReadsOptions& ropt);

}  // namespace lockstep::bench
