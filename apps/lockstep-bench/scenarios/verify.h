#pragma once

#include <string>
#include <vector>

#include "common_options.h"

namespace lockstep::bench {

// `verify`: re-checks the invariants of a finished transfers run from the manifest file
// `manifest_path` (written by `transfers --manifest`). Prints {"scenario":"verify",
// "invariants":...,"violations":[...]}. Exit code 0 ok, 1 violated, 2 setup error.
int RunVerifyTransfers(const CommonOptions& opt, const std::string& manifest_path);

// `verify-flashsale`: the same for a flashsale run. First waits for pending orders to
// settle (AwaitSettled through `settle_urls`) for `settle_timeout_s` seconds; < 0 means 120
// with settle URLs, else 0 (no wait). Not settling in time is a violation.
int RunVerifyFlashsale(const CommonOptions& opt, const std::string& manifest_path,
                       const std::vector<std::string>& settle_urls, double settle_timeout_s);

}  // namespace lockstep::bench
