#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "lockstep/routing/consistency.h"
#include "routing/replica_state.h"

namespace lockstep::routing::internal {

// Pure routing decisions over a snapshot of the replicas (index = position in `replicas`).

// Replicas in rotation that may answer `consistency` at `now` without waiting, lowest
// latency first: for MaxStaleness(N) those covering every commit that completed before
// now - N; for AtLeast(token) those whose position covers the token. Empty for Primary()
// and MaxStaleness(0).
std::vector<size_t> FreshReplicas(const std::vector<ReplicaView>& replicas, const Consistency& consistency,
                                  SteadyClock::time_point now);

// For AtLeast(token): the replica in rotation to MASTER_GTID_WAIT on, among those whose
// position has every domain of the token (a domain a replica has never seen may never
// come, so waiting there is pointless): the fewest transactions short of the token, then
// the lowest latency. nullopt if none, or not AtLeast.
std::optional<size_t> WaitCandidate(const std::vector<ReplicaView>& replicas, const Consistency& consistency);

// The budget of one wait: min(max_wait, fraction x remaining), 0 if that is under 1ms.
std::chrono::milliseconds WaitBudget(std::chrono::milliseconds max_wait, double fraction,
                                     SteadyClock::duration remaining);

}  // namespace lockstep::routing::internal
