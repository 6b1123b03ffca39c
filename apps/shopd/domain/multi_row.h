#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "lockstep/base/result.h"
#include "lockstep/sql/transaction.h"

namespace shopd::domain {

// Most row groups (or IN-list items) in one statement. The SQL text has one `?` group per
// row; each distinct size is one prepared statement per connection, so the sizes are
// bounded (1..kMaxRowsPerStatement) to keep the statement cache small. Longer lists run in
// chunks.
inline constexpr std::size_t kMaxRowsPerStatement = 32;

namespace multi_row_internal {

// The statement for `n` rows: prefix + group + (", " + group) * (n - 1) + suffix.
inline std::string Sql(std::string_view prefix, std::string_view group, std::string_view suffix, std::size_t n) {
  std::string sql(prefix);
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) sql += ", ";
    sql += group;
  }
  sql += suffix;
  return sql;
}

// Binds rows[0..n) (tuples of bindable values) in order.
template <typename Tuple>
lockstep::sql::ParamList Params(const Tuple* rows, std::size_t n) {
  lockstep::sql::ParamList params;
  for (std::size_t i = 0; i < n; ++i) {
    std::apply([&](const auto&... v) { params.Add(v...); }, rows[i]);
  }
  return params;
}

}  // namespace multi_row_internal

// Runs `prefix (group), (group), ... suffix` over `rows` in chunks of at most
// kMaxRowsPerStatement, each a prepared statement with every value bound (no user data in
// the SQL text). `group` holds the `?`s of one tuple. Returns the summed affected rows or
// the first error (the transaction decides what that means).
template <typename Tuple>
lockstep::Result<uint64_t> ExecuteMultiRow(lockstep::sql::Transaction& tx, std::string_view prefix,
                                           std::string_view group, std::string_view suffix,
                                           const std::vector<Tuple>& rows) {
  uint64_t affected = 0;
  for (std::size_t at = 0; at < rows.size(); at += kMaxRowsPerStatement) {
    const std::size_t n = std::min(kMaxRowsPerStatement, rows.size() - at);
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::ExecResult r,
                              tx.ExecuteList(multi_row_internal::Sql(prefix, group, suffix, n),
                                             multi_row_internal::Params(rows.data() + at, n)));
    affected += r.affected_rows;
  }
  return affected;
}

// As ExecuteMultiRow for a query (e.g. `... IN (?, ?, ?)`): calls `on_row` for every row.
template <typename Tuple>
lockstep::Status QueryMultiRow(lockstep::sql::Transaction& tx, std::string_view prefix, std::string_view group,
                               std::string_view suffix, const std::vector<Tuple>& items,
                               const std::function<lockstep::Status(const lockstep::sql::Row&)>& on_row) {
  for (std::size_t at = 0; at < items.size(); at += kMaxRowsPerStatement) {
    const std::size_t n = std::min(kMaxRowsPerStatement, items.size() - at);
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                              tx.QueryList(multi_row_internal::Sql(prefix, group, suffix, n),
                                           multi_row_internal::Params(items.data() + at, n)));
    for (const auto& row : rows) LOCKSTEP_RETURN_IF_ERROR(on_row(row));
  }
  return lockstep::Status::Ok();
}

}  // namespace shopd::domain
