#include "lockstep/sql/row.h"

#include <limits>

namespace lockstep::sql {

Result<const Cell*> Row::At(size_t i) const {
  if (i >= cells_.size()) return Status::OutOfRange("column index ", i, " out of range (row has ", cells_.size(), ")");
  return &cells_[i];
}

Result<const Cell*> Row::NonNull(size_t i) const {
  LOCKSTEP_ASSIGN_OR_RETURN(const Cell* c, At(i));
  if (c->kind == Cell::Kind::kNull) return Status::FailedPrecondition("column ", i, " (", (*columns_)[i], ") is NULL");
  return c;
}

Result<size_t> Row::ColumnIndex(std::string_view column) const {
  for (size_t i = 0; i < columns_->size(); ++i) {
    if ((*columns_)[i] == column) return i;
  }
  return Status::NotFound("no column named '", column, "'");
}

namespace {
Status WrongType(size_t i, const std::string& name, const char* want) {
  return Status::InvalidArgument("column ", i, " (", name, ") is not ", want);
}
}  // namespace

Result<int64_t> Row::GetInt64(size_t i) const {
  LOCKSTEP_ASSIGN_OR_RETURN(const Cell* c, NonNull(i));
  if (c->kind == Cell::Kind::kInt64) return c->i;
  if (c->kind == Cell::Kind::kUint64) {
    if (c->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::OutOfRange("column ", i, " value ", c->u, " does not fit int64");
    }
    return static_cast<int64_t>(c->u);
  }
  return WrongType(i, (*columns_)[i], "an integer");
}

Result<uint64_t> Row::GetUint64(size_t i) const {
  LOCKSTEP_ASSIGN_OR_RETURN(const Cell* c, NonNull(i));
  if (c->kind == Cell::Kind::kUint64) return c->u;
  if (c->kind == Cell::Kind::kInt64) {
    if (c->i < 0) return Status::OutOfRange("column ", i, " value ", c->i, " is negative");
    return static_cast<uint64_t>(c->i);
  }
  return WrongType(i, (*columns_)[i], "an integer");
}

Result<double> Row::GetDouble(size_t i) const {
  LOCKSTEP_ASSIGN_OR_RETURN(const Cell* c, NonNull(i));
  switch (c->kind) {
    case Cell::Kind::kDouble: return c->d;
    case Cell::Kind::kInt64: return static_cast<double>(c->i);
    case Cell::Kind::kUint64: return static_cast<double>(c->u);
    default: return WrongType(i, (*columns_)[i], "numeric");
  }
}

Result<std::string> Row::GetString(size_t i) const {
  LOCKSTEP_ASSIGN_OR_RETURN(const Cell* c, NonNull(i));
  if (c->kind == Cell::Kind::kText || c->kind == Cell::Kind::kBytes) return c->s;
  return WrongType(i, (*columns_)[i], "a string");
}

Result<Bytes> Row::GetBytes(size_t i) const {
  LOCKSTEP_ASSIGN_OR_RETURN(const Cell* c, NonNull(i));
  if (c->kind == Cell::Kind::kText || c->kind == Cell::Kind::kBytes) return Bytes{c->s};
  return WrongType(i, (*columns_)[i], "binary or text");
}

Result<Timestamp> Row::GetTimestamp(size_t i) const {
  LOCKSTEP_ASSIGN_OR_RETURN(const Cell* c, NonNull(i));
  if (c->kind == Cell::Kind::kTimestamp) return c->t;
  return WrongType(i, (*columns_)[i], "a DATETIME/TIMESTAMP");
}

Result<bool> Row::IsNull(size_t i) const {
  LOCKSTEP_ASSIGN_OR_RETURN(const Cell* c, At(i));
  return c->kind == Cell::Kind::kNull;
}

#define LOCKSTEP_SQL_BY_NAME_(Type, Method)                       \
  Result<Type> Row::Method(std::string_view column) const {     \
    LOCKSTEP_ASSIGN_OR_RETURN(size_t i, ColumnIndex(column));     \
    return Method(i);                                             \
  }
LOCKSTEP_SQL_BY_NAME_(int64_t, GetInt64)
LOCKSTEP_SQL_BY_NAME_(uint64_t, GetUint64)
LOCKSTEP_SQL_BY_NAME_(double, GetDouble)
LOCKSTEP_SQL_BY_NAME_(std::string, GetString)
LOCKSTEP_SQL_BY_NAME_(Bytes, GetBytes)
LOCKSTEP_SQL_BY_NAME_(Timestamp, GetTimestamp)
LOCKSTEP_SQL_BY_NAME_(bool, IsNull)
#undef LOCKSTEP_SQL_BY_NAME_

}  // namespace lockstep::sql
