#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "lockstep/base/result.h"
#include "lockstep/routing/read_source.h"
#include "lockstep/sql/row.h"
#include "lockstep/sql/transaction.h"
#include "lockstep/sql/value.h"

namespace lockstep::routing {

namespace internal {
class ReplicaState;
}  // namespace internal

// Not thread-safe. A read-only transaction (START TRANSACTION READ ONLY) on the server a
// ReplicaSet chose for a read. It has no Execute and no way to reach a writable statement
// API: the type offers queries and the end of the transaction, nothing else (and the
// server refuses writes in a READ ONLY transaction with 1792 besides). Move-only RAII: the
// destructor ends the transaction (rollback of a read-only transaction: nothing is lost)
// and returns the connection. Obtain one from ReplicaSet::BeginRead. May outlive the
// ReplicaSet only if its pools outlive it.
class ReadTransaction {
 public:
  ReadTransaction(ReadTransaction&&) noexcept = default;
  ReadTransaction& operator=(ReadTransaction&&) noexcept = default;
  ~ReadTransaction() = default;

  // As sql::Transaction::Query / QueryList (typed arguments bound to `?`, an optional
  // Deadline argument; default: the deadline given to BeginRead). Codes as there; a
  // replica that failed here is taken out of rotation until the monitor's next good probe.
  template <typename... Args>
  Result<sql::Rows> Query(std::string_view sql, const Args&... args) {
    const auto start = std::chrono::steady_clock::now();
    Result<sql::Rows> r = tx_.Query(sql, args...);
    Observe(start, r.status());
    return r;
  }
  Result<sql::Rows> QueryList(std::string_view sql, const sql::ParamList& params);

  // Ends the transaction (COMMIT of a read-only transaction). Codes as
  // sql::Transaction::Commit. Optional: the destructor ends it too.
  Status Commit() { return tx_.Commit(); }

  // Where the reads ran: "primary" or "replica:host:port" (source().ToString()).
  const ReadSource& source() const { return source_; }
  bool active() const { return tx_.active(); }

 private:
  friend class ReplicaSet;
  ReadTransaction(sql::Transaction tx, ReadSource source, std::shared_ptr<internal::ReplicaState> replica)
      : tx_(std::move(tx)), source_(std::move(source)), replica_(std::move(replica)) {}
  // Feeds the replica's latency EWMA (successes) or takes it out of rotation (lost server).
  void Observe(std::chrono::steady_clock::time_point start, const Status& status);

  sql::Transaction tx_;
  ReadSource source_;
  std::shared_ptr<internal::ReplicaState> replica_;  // Null on the primary.
};

}  // namespace lockstep::routing
