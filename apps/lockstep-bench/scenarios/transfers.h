#pragma once

#include <cstdint>
#include <string>

#include "common_options.h"

namespace lockstep::bench {

struct TransfersOptions {
  int accounts = 1000;
  int hot = 0;  // > 0: every transfer is among the first `hot` accounts.
  int64_t initial_balance = 100'000;
  int64_t max_amount = 100;
  int replay_every = 10;      // Every Nth request is sent again (must replay identically).
  int duplicate_every = 50;   // Every Nth request is sent twice at once (two connections).
  std::string manifest_path;  // Where to write the run manifest (optional).
  std::string prefix;         // request_id prefix; default: random per run.
};

// `transfers`: creates the accounts through the API, sends random transfers among them
// (with replays and concurrent duplicates), then verifies money is conserved and every
// answer matches the tables (VerifyTransfers). Returns the exit code: 0 ok, 1 invariant
// violated or --max-5xx exceeded, 2 setup error.
int RunTransfers(const CommonOptions& opt, const TransfersOptions& topt);

}  // namespace lockstep::bench
