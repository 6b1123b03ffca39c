#include "domain/routed_read.h"

#include "lockstep/routing/replica_set.h"

namespace shopd::domain {

lockstep::Result<lockstep::routing::ReadTransaction> RoutedRead::Begin(const lockstep::Deadline& deadline) const {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::routing::ReadTransaction tx, replicas->BeginRead(consistency, deadline));
  if (source != nullptr) *source = tx.source();
  return tx;
}

}  // namespace shopd::domain
