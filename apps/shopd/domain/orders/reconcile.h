#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "domain/orders/reserved_keys.h"
#include "domain/store_fwd.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"


namespace shopd::domain {

// What one reconcile run found and repaired.
struct ReconcileReport {
  int64_t reservations_checked = 0;  // Members of the pending set looked at.
  int64_t marked_confirmed = 0;      // Written to MariaDB but still pending in Redis.
  int64_t marked_failed = 0;         // Their request_id belongs to another order in MariaDB.
  int64_t readded = 0;               // In neither MariaDB nor the stream: XADDed again.
  int64_t stale_members = 0;         // Pending-set members no longer pending: removed.
  int64_t products_checked = 0;      // Reserved products whose Redis stock was compared.
  int64_t stocks_fixed = 0;          // Redis stocks set to MariaDB stock - pending units.
  std::vector<std::string> repairs;  // One line per repair.

  std::string ToJson() const;
};

// Compares the `reserved` mode's Redis state with MariaDB and repairs it (shopd
// --reconcile): (1) every pending reservation is either confirmed/failed from what MariaDB
// has, or — if MariaDB lacks it and its stream entry is gone — XADDed again (same order id;
// the persister's idempotence makes a spurious re-add harmless); (2) every reserved
// product's Redis stock is set to MariaDB stock - units of reservations not yet in MariaDB,
// computed under the product's row lock (no persister commit for it can interleave) and
// applied in one Lua step (no reservation can interleave). Safe while persisters and
// reservations run. Errors: the first MariaDB/Redis error (the report so far is lost).
// Thread-safe.
lockstep::Result<ReconcileReport> Reconcile(lockstep::sql::Pool& pool, lockstep::redis::Client& redis,
                                            const ReservedKeys& keys, const lockstep::Deadline& deadline);

}  // namespace shopd::domain
