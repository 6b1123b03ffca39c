#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/cdc/gtid.h"

namespace lockstep::cdc {

// What a decoded column value is. Supported column types and how they decode:
//   TINYINT..BIGINT (signed/unsigned from the table map's SIGNEDNESS metadata), YEAR,
//   BIT, ENUM (1-based index), SET (bit mask)         -> kInt / kUint
//   FLOAT, DOUBLE                                     -> kDouble
//   DECIMAL                                           -> kDecimal, exact text ("-12.50")
//   CHAR, VARCHAR, BINARY, VARBINARY, *TEXT, *BLOB,
//   JSON (a LONGTEXT in MariaDB), GEOMETRY            -> kString, raw bytes (the column's
//                                                        charset; no conversion)
//   DATE, DATETIME, TIMESTAMP                         -> kTemporal, text "YYYY-MM-DD" /
//                                                        "YYYY-MM-DD HH:MM:SS[.ffffff]"
//                                                        (TIMESTAMP in UTC)
//   NULL                                              -> kNull
// Anything else (TIME, pre-5.6 temporal formats, ...) whose size the decoder knows becomes
// kUnsupported (text names the type) so the row is still delivered; a column whose size it
// cannot know fails the whole transaction with kUnimplemented (never a silent skip).
enum class ValueKind { kNull, kInt, kUint, kDouble, kDecimal, kString, kTemporal, kUnsupported, kAbsent };

// One column value of a row image. Value type, thread-compatible.
struct Value {
  ValueKind kind = ValueKind::kNull;
  int64_t i = 0;      // kInt.
  uint64_t u = 0;     // kUint.
  double d = 0;       // kDouble.
  std::string text;   // kDecimal, kString (bytes), kTemporal, kUnsupported (type name).

  static Value Null() { return {}; }
  static Value Int(int64_t v) { Value x; x.kind = ValueKind::kInt; x.i = v; return x; }
  static Value Uint(uint64_t v) { Value x; x.kind = ValueKind::kUint; x.u = v; return x; }
  static Value Double(double v) { Value x; x.kind = ValueKind::kDouble; x.d = v; return x; }
  static Value Decimal(std::string v) { return Text(ValueKind::kDecimal, std::move(v)); }
  static Value String(std::string v) { return Text(ValueKind::kString, std::move(v)); }
  static Value Temporal(std::string v) { return Text(ValueKind::kTemporal, std::move(v)); }
  static Value Unsupported(std::string type) { return Text(ValueKind::kUnsupported, std::move(type)); }
  // A column the row image does not contain (binlog_row_image other than FULL).
  static Value Absent() { Value x; x.kind = ValueKind::kAbsent; return x; }

  bool is_null() const { return kind == ValueKind::kNull; }
  // The value as text: integers and decimals in base 10, doubles with %.17g, strings and
  // temporals as they are, "NULL" for kNull, "?<type>" for kUnsupported, "" for kAbsent.
  std::string ToString() const;

  friend bool operator==(const Value&, const Value&) = default;

 private:
  static Value Text(ValueKind kind, std::string v) { Value x; x.kind = kind; x.text = std::move(v); return x; }
};

// A column of a table as the binlog's TABLE_MAP event describes it (with
// binlog_row_metadata=FULL). Value type.
struct ColumnInfo {
  std::string name;
  uint8_t type = 0;          // MariaDB's enum_field_types code as logged.
  bool is_unsigned = false;  // Numeric columns only.
};

// A table's layout at the time a row was logged. No schema history is kept: every
// transaction's TABLE_MAP events carry the layout of their rows (so ALTER TABLE between
// transactions needs no special handling). Immutable once built; shared by the rows.
struct TableSchema {
  std::string database;
  std::string table;
  std::vector<ColumnInfo> columns;
  std::vector<size_t> primary_key;  // Column indexes of the primary key, in key order.

  // Index of the column named `name`, or -1.
  int ColumnIndex(std::string_view name) const;
};

enum class RowOp { kInsert, kUpdate, kDelete };
// "insert", "update", "delete".
std::string_view RowOpName(RowOp op);

// One changed row. Value type.
struct RowChange {
  std::shared_ptr<const TableSchema> schema;  // Never null.
  RowOp op = RowOp::kInsert;
  std::vector<Value> before;  // kUpdate/kDelete: one per schema column. Empty for kInsert.
  std::vector<Value> after;   // kInsert/kUpdate: one per schema column. Empty for kDelete.

  const std::string& database() const { return schema->database; }
  const std::string& table() const { return schema->table; }
  // The after-image (before-image for kDelete) value of `column`; nullptr if no such column.
  const Value* Get(std::string_view column) const;
  const Value* Before(std::string_view column) const;
};

// A DDL statement (ALTER, TRUNCATE, DROP, ...) that may concern watched tables: its default
// database is a watched one, or its text names one ("db." or "`db`."). Row events do not
// show what TRUNCATE or DROP removed, so a consumer must treat the tables of `database`
// as changed wholesale.
struct DdlStatement {
  std::string database;   // The statement's default database ("" if none).
  std::string statement;  // As logged.
};

// One committed transaction: its GTID, the position after it (start a reader there to
// continue after it), its commit time (the binlog event's timestamp, whole seconds) and its
// row changes on the watched tables, in binlog order, and the DDL that may concern them.
// Both are empty for a transaction that touched no watched table: it still advances the
// position.
struct CommittedTransaction {
  Gtid gtid;
  GtidPosition position;
  std::chrono::system_clock::time_point commit_time;
  std::vector<RowChange> changes;
  std::vector<DdlStatement> ddl;
};

}  // namespace lockstep::cdc
