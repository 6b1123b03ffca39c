#pragma once

#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/status.h"
#include "lockstep/sql/connection.h"
#include "sql/mariadb_connection.h"
#include "sql/pool_core.h"

namespace lockstep::sql::internal {

// Not thread-safe. The state behind a Transaction (heap-allocated so Savepoints can point
// to it across moves of the Transaction).
struct TxState {
  PooledConnection lease;  // Empty once the transaction ended.
  Deadline deadline = Deadline::Infinite();
  Status poison;            // First error that left the transaction unusable.
  bool committed = false;

  Connection* conn() { return lease.conn_; }
  PoolCore* core() { return lease.core_.get(); }
  // The deadline for cleanup work (ROLLBACK): the transaction's, or cleanup_timeout from
  // now if that is later (a rollback must still be tried after the deadline passed).
  Deadline CleanupDeadline() const;
  // Runs text SQL in the transaction, recording poison.
  Status Text(std::string_view sql);
  // ROLLBACK and end; discards the connection if that fails. Never fails the caller's flow.
  Status RollbackAndEnd();
  // Records `s` as poison if it leaves the transaction unusable. Returns `s`.
  Status Track(Status s);
};

}  // namespace lockstep::sql::internal
