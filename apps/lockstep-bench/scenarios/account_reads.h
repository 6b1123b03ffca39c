#pragma once

#include <string>

#include "common_options.h"

namespace lockstep::bench {

struct AccountReadsOptions {
  int accounts = 1000;          // Created through POST /v1/accounts before the run.
  // What each GET /v1/accounts/{id} asks for: "primary" (X-Max-Staleness-Ms: 0),
  // "replica" (X-Max-Staleness-Ms: bound_ms), "token" (X-Consistency-Token of the newest
  // write the writer saw, or of the setup's last write without a writer).
  std::string consistency = "replica";
  int bound_ms = 50;
  double writes_per_s = 0;      // Transfers per second on the first --url (one writer thread).
  int lag_sample_ms = 10;       // How often /metrics of the first --url is read for the lag gauges.
};

// `account-reads`: uniform GETs of accounts (replica routing, README "Replicas and
// consistency tokens") under an optional transfer load. Reports the summary, the answers
// per X-Read-Source, the non-200 answers, and the distribution of
// shopd_routing_replica_lag_seconds sampled every lag_sample_ms (p50/p99/max ms over every
// replica's samples) and of shopd_routing_replica_staleness_seconds (p50/p99). Returns the exit code: 0, 2 on setup errors.
int RunAccountReads(const CommonOptions& opt, const AccountReadsOptions& ropt);

}  // namespace lockstep::bench
