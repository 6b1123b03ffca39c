#pragma once

#include <cstdint>
#include <string>

#include "common_options.h"

namespace lockstep::bench {

struct FlashsaleOptions {
  int64_t stock = 100;
  std::string mode = "batched";  // row_lock | batched | reserved.
  double settle_timeout_s = 120;  // Wait at most this long for pending orders to settle.
  int64_t max_quantity = 1;      // Quantities are uniform in [1, N].
  int replay_every = 10;
  int duplicate_every = 50;
  std::string manifest_path;
  std::string prefix;
};

// `flashsale`: creates one product with `stock` units through the API, then many buyers
// order it (with replays and concurrent duplicates); waits for pending orders to settle
// and verifies nothing was oversold (VerifyFlashsale). Returns the exit code: 0 ok, 1
// invariant violated or --max-5xx exceeded, 2 setup error.
int RunFlashsale(const CommonOptions& opt, const FlashsaleOptions& fopt);

}  // namespace lockstep::bench
