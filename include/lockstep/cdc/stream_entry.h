#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lockstep/base/result.h"
#include "lockstep/cdc/gtid.h"
#include "lockstep/cdc/row_change.h"

namespace lockstep::cdc {

// The Redis Stream form of one row change (StreamPublisher writes it, consumers read it
// with DecodeStreamEntry). Field/value pairs, in this order:
//   type   "row"
//   gtid   "0-1-42"        the transaction's GTID (also what makes a duplicate identifiable)
//   row    "3"             index of this row in the transaction's changes, from 0
//   rows   "10"            the transaction's number of changes (the last row has rows-1)
//   ts     "1733600000"    commit time, unix seconds
//   db, table, op          op is "insert" | "update" | "delete"
//   pk     "id,sku"        primary-key column names joined by ',' ("" if none)
//   a:<column>             after-image value (insert, update), tagged
//   b:<column>             before-image value (update, delete), tagged
// A tagged value is one kind byte and the text: 'n' NULL (no text), 'i' signed integer,
// 'u' unsigned integer, 'f' double, 'd' decimal, 's' string bytes, 't' temporal text,
// 'x' unsupported (type name). Columns absent from the row image are left out.
struct StreamRow {
  Gtid gtid;
  uint64_t row = 0;
  uint64_t rows = 0;
  int64_t commit_unix_seconds = 0;
  std::string database;
  std::string table;
  RowOp op = RowOp::kInsert;
  std::vector<std::string> primary_key;
  std::vector<std::pair<std::string, Value>> before;  // In column order.
  std::vector<std::pair<std::string, Value>> after;   // In column order.

  // The after-image value of `column` (before-image for a delete); nullptr if absent.
  const Value* Get(std::string_view column) const;
};

// A gap record ("type" "gap"): the changes between `from` and `to` could not be read (the
// binlog was purged past the stream's checkpoint) and are missing from the stream. A
// consumer must treat everything it derived from the source tables as stale (e.g. flush
// the caches of those tables). Fields: type "gap", from, to (GTID positions), reason.
struct StreamGap {
  GtidPosition from;
  GtidPosition to;
  std::string reason;
};
std::vector<std::string> EncodeGapEntry(const StreamGap& gap);
// kNotFound when `fields` is not a gap entry (e.g. a row), kInvalidArgument when malformed.
Result<StreamGap> DecodeGapEntry(const std::vector<std::string>& fields);

// A DDL record ("type" "ddl"), written before the transaction's rows: gtid, ts, db,
// statement (see DdlStatement: treat the tables of `db` as changed wholesale).
struct StreamDdl {
  Gtid gtid;
  int64_t commit_unix_seconds = 0;
  std::string database;
  std::string statement;
};
// The fields of DDL statement `index` of `txn`. REQUIRES: index < txn.ddl.size().
std::vector<std::string> EncodeDdlEntry(const CommittedTransaction& txn, size_t index);
// kNotFound when `fields` is not a DDL entry, kInvalidArgument when malformed.
Result<StreamDdl> DecodeDdlEntry(const std::vector<std::string>& fields);

// The fields of change `row_index` of `txn` (REQUIRES: row_index < txn.changes.size()), as
// alternating field, value strings.
std::vector<std::string> EncodeStreamEntry(const CommittedTransaction& txn, size_t row_index);

// Parses EncodeStreamEntry's fields (alternating field, value; as XRANGE returns them).
// kInvalidArgument on anything else (also a multi-row "rows" entry: use DecodeRowEntries).
Result<StreamRow> DecodeStreamEntry(const std::vector<std::string>& fields);

// The multi-row form ("type" "rows"): consecutive changes first..last-1 of one transaction
// on the same table layout with the same op, in ONE stream entry, so that Redis appends,
// stores and replicates one entry (not one per row) for a bulk change. Fields, in order:
//   type "rows", gtid, row (index of the first change), count, rows (the transaction's
//   number of changes), ts, db, table, op, pk — as for "row" —, then per column
//   a:<column> / b:<column>: the column's `count` tagged values (after / before image),
//   each as <decimal length>":"<tagged value>; length 0 = the row image lacks the column.
// RowsEntryEnd(txn, first, max_rows) is where the entry starting at `first` ends: at most
// max_rows (>= 1) changes, stopping before a change of another table layout or op.
// REQUIRES: first < txn.changes.size(); for Encode, first < last <= RowsEntryEnd(...).
size_t RowsEntryEnd(const CommittedTransaction& txn, size_t first, size_t max_rows);
std::vector<std::string> EncodeRowsEntry(const CommittedTransaction& txn, size_t first, size_t last);

// The row changes of a "row" or "rows" entry, in order (a "rows" entry's k-th has row =
// first + k). kNotFound for another type (gap, ddl), kInvalidArgument when malformed.
// What consumers should call.
Result<std::vector<StreamRow>> DecodeRowEntries(const std::vector<std::string>& fields);

}  // namespace lockstep::cdc
