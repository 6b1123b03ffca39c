#pragma once

#include <memory>
#include <string_view>

#include "lockstep/base/result.h"
#include "lockstep/sql/row.h"
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
class PooledConnection {
 public:
  PooledConnection() = default;  // Empty; valid() is false.
  PooledConnection(PooledConnection&& other) noexcept;
  PooledConnection& operator=(PooledConnection&& other) noexcept;
  ~PooledConnection();

  bool valid() const { return conn_ != nullptr; }

  // Runs a prepared statement (cached per connection by SQL text) with `args` bound to its
  // `?` placeholders, in order. Arguments: integers, bool, double, std::string,
  // std::string_view, const char*, Bytes, Timestamp, std::nullopt (NULL), std::optional<T>;
  // one optional Deadline argument (default: PoolOptions::default_statement_timeout).
  // Codes: the driver's, classified by mariadb_errors (kAlreadyExists on a duplicate key,
  // kUnavailable if the connection broke, kDeadlineExceeded if the deadline cut the call,
  // kInvalidArgument on a wrong placeholder count, ...). REQUIRES: valid().
  template <typename... Args>
  Result<ExecResult> Execute(std::string_view sql, const Args&... args) {
    return ExecutePack(sql, internal::ParamPack(args...));
  }
  // As Execute, for statements returning rows; all rows are fetched before it returns.
  // `CALL proc(...)` returns the procedure's first result set (later ones are read and
  // dropped; an error raised after the first one fails the call).
  template <typename... Args>
  Result<Rows> Query(std::string_view sql, const Args&... args) {
    return QueryPack(sql, internal::ParamPack(args...));
  }
  // As Execute/Query with parameters collected at run time (see ParamList).
  Result<ExecResult> ExecuteList(std::string_view sql, const ParamList& params) {
    return ExecutePack(sql, params.pack());
  }
  Result<Rows> QueryList(std::string_view sql, const ParamList& params) { return QueryPack(sql, params.pack()); }

  // Closes the connection when the lease ends instead of returning it to the pool.
  void Discard();
  // True if the connection broke (or Discard ran): it will not be reused.
  bool broken() const;

 private:
  friend class internal::PoolCore;
  friend struct internal::TxState;
  friend class Transaction;
  PooledConnection(std::shared_ptr<internal::PoolCore> core, internal::Connection* conn)
      : core_(std::move(core)), conn_(conn) {}

  Result<ExecResult> ExecutePack(std::string_view sql, const internal::ParamPack& pack);
  Result<Rows> QueryPack(std::string_view sql, const internal::ParamPack& pack);
  void Reset();

  std::shared_ptr<internal::PoolCore> core_;
  internal::Connection* conn_ = nullptr;  // Owned; handed back to core_ on destruction.
};

}  // namespace lockstep::sql
