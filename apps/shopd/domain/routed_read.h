#pragma once

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/routing/consistency.h"
#include "lockstep/routing/read_source.h"
#include "lockstep/routing/read_transaction.h"

namespace lockstep::routing {
class ReplicaSet;
}

namespace shopd::domain {

// One GET that a replica may answer (API.md "Replicas and consistency tokens"): the
// ReplicaSet that routes it, the freshness the caller asked for, and where to report the
// server that answered. Value type; the pointers are not owned and must outlive the read.
// Not thread-safe (one request uses it).
struct RoutedRead {
  lockstep::routing::ReplicaSet* replicas = nullptr;  // REQUIRES: non-null.
  lockstep::routing::Consistency consistency = lockstep::routing::Consistency::Primary();
  lockstep::routing::ReadSource* source = nullptr;  // Optional: gets the answering server.

  // ReplicaSet::BeginRead with `consistency` (codes as there); records the source.
  lockstep::Result<lockstep::routing::ReadTransaction> Begin(const lockstep::Deadline& deadline) const;
  // The same read pinned to the primary (e.g. a re-read that must see the latest commit).
  RoutedRead OnPrimary() const { return RoutedRead{replicas, lockstep::routing::Consistency::Primary(), source}; }
};

}  // namespace shopd::domain
