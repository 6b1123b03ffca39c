#include "lockstep/cdc/row_change.h"

#include <cstdio>

namespace lockstep::cdc {

std::string Value::ToString() const {
  switch (kind) {
    case ValueKind::kNull: return "NULL";
    case ValueKind::kInt: return std::to_string(i);
    case ValueKind::kUint: return std::to_string(u);
    case ValueKind::kDouble: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      return buf;
    }
    case ValueKind::kDecimal:
    case ValueKind::kString:
    case ValueKind::kTemporal: return text;
    case ValueKind::kUnsupported: return "?" + text;
    case ValueKind::kAbsent: return "";
  }
  return "";
}

int TableSchema::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string_view RowOpName(RowOp op) {
  switch (op) {
    case RowOp::kInsert: return "insert";
    case RowOp::kUpdate: return "update";
    case RowOp::kDelete: return "delete";
  }
  return "?";
}

const Value* RowChange::Get(std::string_view column) const {
  const int i = schema->ColumnIndex(column);
  const std::vector<Value>& image = op == RowOp::kDelete ? before : after;
  if (i < 0 || static_cast<size_t>(i) >= image.size()) return nullptr;
  return &image[static_cast<size_t>(i)];
}

const Value* RowChange::Before(std::string_view column) const {
  const int i = schema->ColumnIndex(column);
  if (i < 0 || static_cast<size_t>(i) >= before.size()) return nullptr;
  return &before[static_cast<size_t>(i)];
}

}  // namespace lockstep::cdc
