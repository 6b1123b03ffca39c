#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/base/result.h"
#include "lockstep/sql/value.h"

namespace lockstep::sql {

// One value of a result row, decoded from the binary protocol.
struct Cell {
  enum class Kind { kNull, kInt64, kUint64, kDouble, kText, kBytes, kTimestamp };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string s;  // kText (also DECIMAL, TIME, ...) and kBytes.
  Timestamp t{};
};

// Thread-compatible: const methods may run concurrently. One row of a result set. Typed getters by column index or name never have undefined
// behaviour: they return kOutOfRange for a bad index, kNotFound for an unknown column
// name, kFailedPrecondition for SQL NULL (check IsNull first for nullable columns) and
// kInvalidArgument when the column's type does not convert.
class Row {
 public:
  Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Cell> cells)
      : columns_(std::move(columns)), cells_(std::move(cells)) {}

  size_t size() const { return cells_.size(); }
  const std::vector<std::string>& columns() const { return *columns_; }

  // Integer columns (and BIT/YEAR); an unsigned value above INT64_MAX is kOutOfRange.
  Result<int64_t> GetInt64(size_t i) const;
  Result<uint64_t> GetUint64(size_t i) const;  // Negative values are kOutOfRange.
  // FLOAT/DOUBLE, and integer columns converted.
  Result<double> GetDouble(size_t i) const;
  // Text-like columns (CHAR, VARCHAR, TEXT, DECIMAL as text, ...) and binary ones.
  Result<std::string> GetString(size_t i) const;
  // Raw bytes of a binary or text column.
  Result<Bytes> GetBytes(size_t i) const;
  // DATETIME/TIMESTAMP/DATE columns, read as UTC wall time.
  Result<Timestamp> GetTimestamp(size_t i) const;
  // true for SQL NULL; kOutOfRange for a bad index.
  Result<bool> IsNull(size_t i) const;

  Result<int64_t> GetInt64(std::string_view column) const;
  Result<uint64_t> GetUint64(std::string_view column) const;
  Result<double> GetDouble(std::string_view column) const;
  Result<std::string> GetString(std::string_view column) const;
  Result<Bytes> GetBytes(std::string_view column) const;
  Result<Timestamp> GetTimestamp(std::string_view column) const;
  Result<bool> IsNull(std::string_view column) const;

  // The column's index; kNotFound if no column has that name (first match wins).
  Result<size_t> ColumnIndex(std::string_view column) const;

 private:
  Result<const Cell*> At(size_t i) const;
  Result<const Cell*> NonNull(size_t i) const;

  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<Cell> cells_;
};

// Thread-compatible: const methods may run concurrently. A fully fetched result set.
class Rows {
 public:
  Rows() : columns_(std::make_shared<const std::vector<std::string>>()) {}
  Rows(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Row> rows)
      : columns_(std::move(columns)), rows_(std::move(rows)) {}

  bool empty() const { return rows_.empty(); }
  size_t size() const { return rows_.size(); }
  const Row& operator[](size_t i) const { return rows_[i]; }  // REQUIRES: i < size().
  std::vector<Row>::const_iterator begin() const { return rows_.begin(); }
  std::vector<Row>::const_iterator end() const { return rows_.end(); }
  const std::vector<std::string>& columns() const { return *columns_; }

 private:
  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<Row> rows_;
};

}  // namespace lockstep::sql
