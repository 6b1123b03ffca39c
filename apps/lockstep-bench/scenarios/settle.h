#pragma once

#include <string>
#include <vector>

#include "lockstep/sql/pool.h"
#include "manifest.h"

namespace lockstep::bench {

// Pending (`reserved` mode) orders become confirmed shortly after their 201. Waits until
// a reachable shopd of `urls` reports no pending reservation on two polls more than two
// metric refreshes apart (then everything that will ever be persisted is: a reservation
// leaves the pending set only after its MariaDB commit); with no reachable shopd, until
// every 201 of the manifest has its order row. timeout_s 0 = do not wait. False (after
// printing so) on timeout.
bool AwaitSettled(sql::Pool& pool, const FlashsaleManifest& manifest, const std::vector<std::string>& urls,
                  double timeout_s);

}  // namespace lockstep::bench
