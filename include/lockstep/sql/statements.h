#pragma once

#include <string_view>

#include "lockstep/base/result.h"
#include "lockstep/sql/row.h"
#include "lockstep/sql/value.h"

namespace lockstep::sql::internal {

// The statement API shared by PooledConnection and Transaction (CRTP): typed arguments or
// a ParamList, forwarded to Derived::ExecutePack / Derived::QueryPack, which decide where
// and under which deadline the statement runs. Thread-safety: that of Derived.
template <typename Derived>
class Statements {
 public:
  // Runs a prepared statement (cached per connection by SQL text) with `args` bound to its
  // `?` placeholders, in order. Arguments: integers, bool, double, std::string,
  // std::string_view, const char*, Bytes, Timestamp, std::nullopt (NULL), std::optional<T>;
  // one optional Deadline argument (default: see Derived). Codes: the driver's, classified
  // by mariadb_errors (kAlreadyExists on a duplicate key, kUnavailable if the connection
  // broke, kDeadlineExceeded if the deadline cut the call, kInvalidArgument on a wrong
  // placeholder count, ...).
  template <typename... Args>
  Result<ExecResult> Execute(std::string_view sql, const Args&... args) {
    return self().ExecutePack(sql, ParamPack(args...));
  }
  // As Execute, for statements returning rows; all rows are fetched before it returns.
  // `CALL proc(...)` returns the procedure's first result set (later ones are read and
  // dropped; an error raised after the first one fails the call).
  template <typename... Args>
  Result<Rows> Query(std::string_view sql, const Args&... args) {
    return self().QueryPack(sql, ParamPack(args...));
  }
  // As Execute/Query with parameters collected at run time (see ParamList).
  Result<ExecResult> ExecuteList(std::string_view sql, const ParamList& params) {
    return self().ExecutePack(sql, params.pack());
  }
  Result<Rows> QueryList(std::string_view sql, const ParamList& params) {
    return self().QueryPack(sql, params.pack());
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace lockstep::sql::internal
