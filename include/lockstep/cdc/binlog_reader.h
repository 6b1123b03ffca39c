#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/cdc/gtid.h"
#include "lockstep/cdc/row_change.h"
#include "lockstep/sql/options.h"

namespace lockstep::cdc {

// Which tables a reader decodes: "db.table", or "db.*" for every table of a database.
// Plain value type.
struct TableFilter {
  std::string database;
  std::string table;  // "*" = every table of `database`.
  // Parses "db.table" / "db.*"; kInvalidArgument otherwise.
  static Result<TableFilter> Parse(std::string_view text);
  bool Matches(std::string_view db, std::string_view tbl) const;
};

// Plain struct; validated by BinlogReader::Open (kInvalidArgument).
struct BinlogReaderOptions {
  // The primary to read from. The user needs REPLICATION SLAVE (and BINLOG MONITOR for the
  // settings check). `database` is ignored. connect_timeout bounds connecting;
  // read_timeout is replaced by `stall_timeout` below.
  sql::ConnectionOptions connection;
  // This reader's replica server_id: > 0, unique among every replica and reader of the
  // primary (the primary drops an older dump connection that uses the same id) and not the
  // primary's own @@server_id.
  uint32_t server_id = 0;
  // Watched tables; at least one.
  std::vector<TableFilter> tables;
  // Where to start: the transactions after this position. nullopt = the primary's
  // @@gtid_binlog_pos when Open runs ("from now on").
  std::optional<GtidPosition> start;
  // The primary sends a heartbeat after this much idle time (@master_heartbeat_period),
  // so a quiet but healthy primary is told from a stalled one. >= 100ms.
  std::chrono::milliseconds heartbeat_period{1'000};
  // No byte from the primary for this long (heartbeats included) = stalled: the reader
  // ends with kUnavailable. Whole seconds (the driver's granularity), > heartbeat_period.
  std::chrono::seconds stall_timeout{5};
  // Complete transactions decoded ahead of the consumer; when full, the reader stops
  // reading (back-pressure on the primary's dump thread; nothing is dropped). > 0.
  size_t max_queued_transactions = 64;
  // A transaction with more watched row changes than this fails the reader with
  // kResourceExhausted (rows are buffered until COMMIT is seen). > 0.
  size_t max_transaction_rows = 1'000'000;
};

// Reads a MariaDB primary's binlog as a replica (Connector/C's mariadb_rpl_* API) from a
// GTID position and hands out complete committed transactions with their row changes,
// decoded with column names (binlog_row_metadata=FULL), in commit (binlog) order.
//
// A reader is one replication connection and one thread that decodes ahead into a bounded
// queue. It does not reconnect: after any error it is finished (Next returns the error);
// the caller opens a new reader at the position of the last transaction it processed
// (CdcRelay does exactly that). Thread-safe: Next from one consumer thread at a time; Stop
// and position-free accessors from any thread.
//
// Guarantees: every committed transaction after the start position is delivered exactly
// once per reader, in order, with all its watched rows (multi-statement transactions stay
// one unit); rolled-back work is never delivered (it never reaches the binlog; a
// non-transactional group ending in ROLLBACK is dropped); transactions touching no watched
// table are delivered without changes so that the position keeps moving.
//
// Not delivered as row changes: DDL (TRUNCATE, DROP TABLE, ALTER ...: its group only moves
// the position; rows are decoded with the layout their own TABLE_MAP carries, so ALTER
// between rows needs no schema history), and changes of non-watched tables.
//
// Errors (Open, or Next once the queue is drained):
//   kDataLoss ("gap: ...", reason "binlog_gap")  the start position is not in the
//       primary's binlogs any more (purged) or never was (diverged primary). Changes were
//       lost for this reader: a consumer must treat everything it caches as stale.
//   kFailedPrecondition (reason "binlog_settings")  log_bin off, binlog_format not ROW,
//       binlog_row_image not FULL or binlog_row_metadata not FULL: a correct stream is
//       impossible, the reader refuses to start. Also a server_id equal to the primary's.
//   kUnavailable  connection failed, lost, or stalled for stall_timeout.
//   kUnimplemented  an event or column the decoder cannot read safely (row events of a
//       watched table with an unknown column type, XA PREPARE with watched rows,
//       statement-based events of a watched database).
//   kResourceExhausted  a transaction larger than max_transaction_rows.
//   kDeadlineExceeded  Next: nothing complete before the deadline (the reader goes on).
//   kCancelled  Next after Stop.
class BinlogReader {
 public:
  // Connects, checks the primary's settings, asks for the binlog from the start position
  // and waits for the primary's answer to it (so a purged position fails here with
  // kDataLoss), then starts the decoding thread. `deadline` bounds the whole call (the
  // driver's timeouts are whole seconds, rounded up).
  static Result<std::unique_ptr<BinlogReader>> Open(const BinlogReaderOptions& options, const Deadline& deadline);

  // Stops and joins the thread (Stop()).
  virtual ~BinlogReader() = default;

  // The next committed transaction, waiting until `deadline`. After an error every later
  // call returns the same error.
  virtual Result<CommittedTransaction> Next(const Deadline& deadline) = 0;

  // Stops reading: closes the connection under the thread (shutdown(2) on its socket, so a
  // read blocked on a stalled primary returns at once) and joins it. Bounded by the
  // thread's current non-read work, never by the primary. Idempotent. Later Next calls
  // return kCancelled.
  virtual void Stop() = 0;

  // The position this reader started from (the primary's @@gtid_binlog_pos at Open when
  // options.start was nullopt).
  virtual const GtidPosition& start_position() const = 0;
};

}  // namespace lockstep::cdc
