#pragma once

#include "lockstep/base/deadline.h"
#include "lockstep/base/status.h"

namespace lockstep::sql {
class Pool;
}

namespace shopd::domain {

// Creates or migrates shopd's schema to the newest version. Migrations are numbered and
// recorded in `schema_migrations`; each runs once. Safe when several instances start at
// once: the whole run holds the MariaDB user lock GET_LOCK('shopd.schema'). Returns the
// driver's status (kUnavailable if MariaDB is down, kDeadlineExceeded if the lock or a
// statement outlived `deadline`). Thread-safe.
lockstep::Status MigrateSchema(lockstep::sql::Pool& pool, const lockstep::Deadline& deadline);

// The newest schema version this binary knows.
int LatestSchemaVersion();

}  // namespace shopd::domain
