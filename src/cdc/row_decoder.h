#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/cdc/row_change.h"

// Decoding of row-based binlog events from their bytes (no driver here, so it is tested
// hermetically): the TABLE_MAP event's column types, metadata and optional metadata
// (binlog_row_metadata=FULL) become a TableLayout; a ROWS event's row images become
// RowChanges. Connector/C's own mariadb_rpl_extract_rows is not used: in 3.3 it reads CHAR
// lengths from the wrong metadata byte, loses the sign of TINYINT..INT (ll and ull share a
// union) and assumes full row images.
namespace lockstep::cdc::internal {

// Column type codes as logged (MariaDB's enum_field_types).
enum FieldType : uint8_t {
  kTypeDecimal = 0, kTypeTiny = 1, kTypeShort = 2, kTypeLong = 3, kTypeFloat = 4, kTypeDouble = 5,
  kTypeNull = 6, kTypeTimestamp = 7, kTypeLongLong = 8, kTypeInt24 = 9, kTypeDate = 10, kTypeTime = 11,
  kTypeDatetime = 12, kTypeYear = 13, kTypeNewDate = 14, kTypeVarchar = 15, kTypeBit = 16,
  kTypeTimestamp2 = 17, kTypeDatetime2 = 18, kTypeTime2 = 19, kTypeJson = 245, kTypeNewDecimal = 246,
  kTypeEnum = 247, kTypeSet = 248, kTypeTinyBlob = 249, kTypeMediumBlob = 250, kTypeLongBlob = 251,
  kTypeBlob = 252, kTypeVarString = 253, kTypeString = 254, kTypeGeometry = 255,
};

// How to read one column: its logged type and its (up to two) metadata bytes.
struct ColumnCodec {
  uint8_t type = 0;
  uint8_t m0 = 0;
  uint8_t m1 = 0;
};

// A table as one TABLE_MAP event describes it. Immutable, shared.
struct TableLayout {
  std::shared_ptr<const TableSchema> schema;
  std::vector<ColumnCodec> codecs;
};

// The TABLE_MAP event's parts, as bytes. `signedness` is the SIGNEDNESS bitmap (one bit per
// numeric column, most significant first; empty = all signed); `column_names`,
// `simple_primary_key` and `prefixed_primary_key` are the raw optional-metadata blocks.
struct TableMapParts {
  std::string database;
  std::string table;
  std::string_view column_types;
  std::string_view metadata;
  std::string_view signedness;
  std::string_view column_names;
  std::string_view simple_primary_key;
  std::string_view prefixed_primary_key;
};

// Number of numeric columns (the SIGNEDNESS bitmap has one bit per numeric column).
size_t CountNumericColumns(std::string_view column_types);

// kFailedPrecondition (reason "binlog_settings") without column names (binlog_row_metadata
// is not FULL); kInvalidArgument on malformed metadata.
Result<TableLayout> BuildTableLayout(const TableMapParts& parts);

// Decodes the row images of one ROWS event of `layout`'s table. `present` is the event's
// columns-present bitmap, `present_after` the after-image's (UPDATE; empty = same as
// `present`), `data` the row images. Appends one RowChange per row to `out`.
// kUnimplemented for a column it cannot size, kInvalidArgument for truncated data.
Status DecodeRows(const TableLayout& layout, RowOp op, std::string_view present, std::string_view present_after,
                  std::string_view data, std::vector<RowChange>* out);

// The text of a DECIMAL(precision, scale) in MariaDB's binary format; bytes consumed in
// *size. kInvalidArgument if `data` is too short.
Result<std::string> DecodeDecimal(std::string_view data, int precision, int scale, size_t* size);

}  // namespace lockstep::cdc::internal
