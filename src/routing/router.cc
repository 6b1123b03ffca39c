#include "routing/router.h"

#include <algorithm>

namespace lockstep::routing::internal {
namespace {

void ByLatency(const std::vector<ReplicaView>& replicas, std::vector<size_t>& order) {
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return replicas[a].latency_us < replicas[b].latency_us; });
}

bool HasEveryDomain(const sql::GtidPosition& position, const sql::GtidPosition& token) {
  for (const sql::Gtid& g : token.gtids()) {
    if (!position.Find(g.domain_id)) return false;
  }
  return true;
}

}  // namespace

std::vector<size_t> FreshReplicas(const std::vector<ReplicaView>& replicas, const Consistency& consistency,
                                  SteadyClock::time_point now) {
  std::vector<size_t> out;
  for (size_t i = 0; i < replicas.size(); ++i) {
    const ReplicaView& r = replicas[i];
    if (!r.in_rotation) continue;
    switch (consistency.kind()) {
      case Consistency::Kind::kPrimary: return {};
      case Consistency::Kind::kMaxStaleness:
        if (consistency.max_staleness() <= std::chrono::milliseconds(0)) return {};
        if (r.covered_until && *r.covered_until >= now - consistency.max_staleness()) out.push_back(i);
        break;
      case Consistency::Kind::kAtLeast:
        if (r.position.Covers(consistency.token().position())) out.push_back(i);
        break;
    }
  }
  ByLatency(replicas, out);
  return out;
}

std::optional<size_t> WaitCandidate(const std::vector<ReplicaView>& replicas, const Consistency& consistency) {
  if (consistency.kind() != Consistency::Kind::kAtLeast) return std::nullopt;
  std::vector<size_t> out;
  for (size_t i = 0; i < replicas.size(); ++i) {
    if (replicas[i].in_rotation && HasEveryDomain(replicas[i].position, consistency.token().position())) {
      out.push_back(i);
    }
  }
  if (out.empty()) return std::nullopt;
  // Closest to the token first (a replica far behind would likely run out of budget),
  // then lowest latency.
  const sql::GtidPosition& token = consistency.token().position();
  std::stable_sort(out.begin(), out.end(), [&](size_t a, size_t b) {
    const uint64_t da = replicas[a].position.SeqDistance(token);
    const uint64_t db = replicas[b].position.SeqDistance(token);
    return da != db ? da < db : replicas[a].latency_us < replicas[b].latency_us;
  });
  return out.front();
}

std::chrono::milliseconds WaitBudget(std::chrono::milliseconds max_wait, double fraction,
                                     SteadyClock::duration remaining) {
  const auto share = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double, std::milli>(std::chrono::duration<double, std::milli>(remaining).count() * fraction));
  const auto budget = std::min(max_wait, share);
  return budget < std::chrono::milliseconds(1) ? std::chrono::milliseconds(0) : budget;
}

}  // namespace lockstep::routing::internal
