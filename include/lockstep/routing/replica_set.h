#pragma once

#include <memory>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/routing/consistency.h"
#include "lockstep/routing/options.h"
#include "lockstep/routing/read_transaction.h"
#include "lockstep/routing/replica_status.h"
#include "lockstep/sql/options.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/transaction.h"

namespace lockstep::routing {

namespace internal {
class Monitor;
}  // namespace internal

// Thread-safe. A primary and its replicas (DESIGN.md module 8): writes go to the primary;
// each read goes where its Consistency allows, preferring the replica with the lowest
// latency. A monitor (one thread for the primary, one per replica) writes a heartbeat row
// on the primary every heartbeat_interval and reads it back on each replica, so staleness
// is measured by the monitor's own steady clock (no clock skew between hosts); it also
// reads each replica's @@gtid_slave_pos and whether its SQL thread runs.
//
// Routing of BeginRead, per Consistency:
//  - Primary(), MaxStaleness(0): the primary.
//  - MaxStaleness(N): a replica in rotation known to hold every commit that completed on
//    the primary more than N before now, lowest latency first; else the primary.
//  - AtLeast(token): a replica in rotation whose known position covers the token, lowest
//    latency first; else MASTER_GTID_WAIT on the best replica in rotation that has every
//    domain of the token, for at most min(max_gtid_wait, wait_budget_fraction x the
//    deadline's remaining time); else the primary.
// A replica that fails to begin the read is skipped (and out of rotation until its next
// good probe). So a read never fails for lack of a replica and never runs on a server
// staler than asked; it fails only if the primary fails too (or the deadline passes).
class ReplicaSet {
 public:
  // Checks the options, creates the heartbeat table on the primary (if asked), and starts
  // the monitor. The pools are not owned: REQUIRES they outlive the ReplicaSet (and every
  // ReadTransaction it returned). Replicas may be down at Open (out of rotation until they
  // answer). Without replicas every read goes to the primary, and neither the heartbeat
  // table nor the monitor's threads are created. Codes: kInvalidArgument (options, a null pool, an unqualified heartbeat table
  // while the primary pool has no database), the primary's errors creating the table.
  static Result<std::unique_ptr<ReplicaSet>> Open(sql::Pool& primary, std::vector<sql::Pool*> replicas,
                                                  const ReplicaSetOptions& options, const Deadline& deadline);
  // Stops the monitor (waits for its threads: at most about probe_timeout) and deletes the
  // heartbeat row (best effort).
  ~ReplicaSet();
  ReplicaSet(const ReplicaSet&) = delete;
  ReplicaSet& operator=(const ReplicaSet&) = delete;

  // Begins a read-only transaction where `consistency` allows (see the class comment),
  // with `tx`'s isolation (read_only is forced on). Codes: the primary's Begin codes
  // (kUnavailable, kDeadlineExceeded, ...) when it had to answer and could not;
  // kDeadlineExceeded when the deadline passed. Never kInvalidArgument (tokens are checked
  // by ConsistencyToken::Parse). Thread-safe.
  Result<ReadTransaction> BeginRead(const Consistency& consistency, const Deadline& deadline,
                                    const sql::TxOptions& tx = {});
  // A read-write transaction on the primary with TxOptions::track_commit_gtid on, so
  // CommitWithGtid() yields the token without an extra round trip. Codes as
  // sql::Pool::Begin. Thread-safe.
  Result<sql::Transaction> BeginWrite(const sql::TxOptions& tx, const Deadline& deadline);

  // What the monitor knows now, one entry per replica in Open's order. Thread-safe.
  std::vector<ReplicaStatus> replicas() const;
  // The primary pool and the options given to Open. Thread-safe.
  sql::Pool& primary() const { return primary_; }
  const ReplicaSetOptions& options() const { return options_; }

 private:
  ReplicaSet(sql::Pool& primary, const ReplicaSetOptions& options);
  Result<ReadTransaction> OnPrimary(const sql::TxOptions& tx, const Deadline& deadline);
  // Begins on replica `index`; on failure takes it out of rotation.
  Result<ReadTransaction> OnReplica(size_t index, const sql::TxOptions& tx, const Deadline& deadline);

  sql::Pool& primary_;
  const ReplicaSetOptions options_;
  std::unique_ptr<internal::Monitor> monitor_;
};

}  // namespace lockstep::routing
