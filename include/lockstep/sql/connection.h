#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/sql/row.h"
#include "lockstep/sql/statements.h"
#include "lockstep/sql/value.h"

namespace lockstep::sql {

namespace internal {
class Connection;
class PoolCore;
struct TxState;
}  // namespace internal

class Transaction;

// Not thread-safe (one thread at a time per lease). A connection checked out of a Pool (a lease): returned to the pool when destroyed, or
// closed instead if it broke. Statements run in autocommit mode; use Transaction for more
// than one statement. Move-only. May outlive its Pool (it then closes the connection when destroyed).
class PooledConnection : public internal::Statements<PooledConnection> {
 public:
  PooledConnection() = default;  // Empty; valid() is false.
  PooledConnection(PooledConnection&& other) noexcept;
  PooledConnection& operator=(PooledConnection&& other) noexcept;
  ~PooledConnection();

  bool valid() const { return conn_ != nullptr; }

  // Execute / Query / ExecuteList / QueryList (internal::Statements): autocommit
  // statements; the default deadline is PoolOptions::default_statement_timeout.
  // REQUIRES: valid().

  // Closes the connection when the lease ends instead of returning it to the pool.
  void Discard();
  // True if the connection broke (or Discard ran): it will not be reused.
  bool broken() const;

  // Turns on session tracking of last_gtid for this connection (once per connection: one
  // SET the first time, nothing afterwards), so that a statement which commits — an
  // autocommit write, or a CALL whose procedure commits — reports its commit's GTID in its
  // OK packet (LastCommitGtid()), with no extra round trip. Codes as Execute.
  // REQUIRES: valid().
  Status TrackCommitGtid(const Deadline& deadline);
  // The GTID ("0-1-42") the server reported for the last statement's commit when
  // TrackCommitGtid() is on; nullopt if that statement committed nothing binlogged (or
  // tracking is off). Call right after the statement. REQUIRES: valid().
  std::optional<std::string> LastCommitGtid() const;

 private:
  friend class internal::PoolCore;
  friend struct internal::TxState;
  friend class Transaction;
  friend class internal::Statements<PooledConnection>;
  PooledConnection(std::shared_ptr<internal::PoolCore> core, internal::Connection* conn)
      : core_(std::move(core)), conn_(conn) {}

  Result<ExecResult> ExecutePack(std::string_view sql, const internal::ParamPack& pack);
  Result<Rows> QueryPack(std::string_view sql, const internal::ParamPack& pack);
  void Reset();

  std::shared_ptr<internal::PoolCore> core_;
  internal::Connection* conn_ = nullptr;  // Owned; handed back to core_ on destruction.
};

}  // namespace lockstep::sql
