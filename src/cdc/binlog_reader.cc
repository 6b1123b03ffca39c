#include "lockstep/cdc/binlog_reader.h"

#include <mysql.h>
#include <errmsg.h>
#include <mariadb_rpl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "cdc/row_decoder.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/base/thread_name.h"

namespace lockstep::cdc {
namespace {

constexpr unsigned kGtidCapability = 4;  // MARIA_SLAVE_CAPABILITY_GTID.
constexpr unsigned kErrMasterFatalReadingBinlog = 1236;

std::string_view View(const MARIADB_STRING& s) {
  return s.length == 0 || s.str == nullptr ? std::string_view() : std::string_view(s.str, s.length);
}
std::string_view View(const MARIADB_CONST_DATA& d) {
  return d.length == 0 || d.data == nullptr ? std::string_view()
                                            : std::string_view(reinterpret_cast<const char*>(d.data), d.length);
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// Maps a failed driver call (connect, query or binlog read) to a Status.
Status DriverError(MYSQL* mysql, MARIADB_RPL* rpl, std::string_view what, const BinlogReaderOptions& options) {
  unsigned code = mysql != nullptr ? mysql_errno(mysql) : 0;
  std::string message = mysql != nullptr ? mysql_error(mysql) : "";
  if (code == 0 && rpl != nullptr && mariadb_rpl_errno(rpl) != 0) {
    code = mariadb_rpl_errno(rpl);
    message = mariadb_rpl_error(rpl);
  }
  if (code == kErrMasterFatalReadingBinlog) {
    return Status::DataLoss("gap: the primary cannot serve the binlog from the requested position (purged, or "
                            "not in its binlog): ", message)
        .WithReason("binlog_gap")
        .WithDriverError(static_cast<int>(code));
  }
  if (code == 1045 || code == 1227 || code == 1044) {
    return Status::PermissionDenied(what, ": ", message).WithDriverError(static_cast<int>(code));
  }
  if (code == CR_SERVER_LOST || code == CR_SERVER_GONE_ERROR) {
    return Status::Unavailable(what, ": ", message, " (no data from the primary for up to ",
                               options.stall_timeout.count(), "s: stalled or gone)")
        .WithDriverError(static_cast<int>(code));
  }
  if (code == 0) return Status::Unavailable(what, ": the primary ended the binlog stream");
  return Status::Unavailable(what, ": ", message).WithDriverError(static_cast<int>(code));
}

Result<std::vector<std::string>> QueryRow(MYSQL* mysql, const std::string& sql, const BinlogReaderOptions& options) {
  if (mysql_real_query(mysql, sql.data(), sql.size()) != 0) return DriverError(mysql, nullptr, sql, options);
  MYSQL_RES* res = mysql_store_result(mysql);
  if (res == nullptr) return DriverError(mysql, nullptr, sql, options);
  std::vector<std::string> out;
  MYSQL_ROW row = mysql_fetch_row(res);
  if (row != nullptr) {
    const unsigned n = mysql_num_fields(res);
    for (unsigned i = 0; i < n; ++i) out.emplace_back(row[i] != nullptr ? row[i] : "");
  }
  mysql_free_result(res);
  if (out.empty()) return Status::Internal(sql, ": no row");
  return out;
}

Status Validate(const BinlogReaderOptions& o) {
  LOCKSTEP_RETURN_IF_ERROR(o.connection.Validate());
  if (o.server_id == 0) return Status::InvalidArgument("BinlogReaderOptions.server_id must be > 0");
  if (o.tables.empty()) return Status::InvalidArgument("BinlogReaderOptions.tables must not be empty");
  if (o.heartbeat_period < std::chrono::milliseconds(100)) {
    return Status::InvalidArgument("BinlogReaderOptions.heartbeat_period must be >= 100ms");
  }
  if (o.stall_timeout <= o.heartbeat_period) {
    return Status::InvalidArgument("BinlogReaderOptions.stall_timeout must be > heartbeat_period");
  }
  if (o.max_queued_transactions == 0 || o.max_transaction_rows == 0) {
    return Status::InvalidArgument("BinlogReaderOptions.max_queued_transactions and max_transaction_rows must be > 0");
  }
  return Status::Ok();
}

class BinlogReaderImpl final : public BinlogReader {
 public:
  BinlogReaderImpl(BinlogReaderOptions options, GtidPosition start, MYSQL* mysql, MARIADB_RPL* rpl,
                   MARIADB_RPL_EVENT* first)
      : options_(std::move(options)), start_(std::move(start)), mysql_(mysql), rpl_(rpl), first_(first),
        position_(start_) {
    socket_ = static_cast<int>(mysql_get_socket(mysql_));
    thread_ = std::thread([this] { Run(); });
  }

  ~BinlogReaderImpl() override { Stop(); }

  Result<CommittedTransaction> Next(const Deadline& deadline) override {
    MutexLock lock(&mu_);
    while (true) {
      if (stopped_) return Status::Cancelled("binlog reader stopped");
      if (!queue_.empty()) {
        CommittedTransaction txn = std::move(queue_.front());
        queue_.pop_front();
        cv_.SignalAll();
        return txn;
      }
      if (finished_) return terminal_;
      if (!cv_.WaitUntil(&mu_, deadline) && queue_.empty() && !finished_ && !stopped_) {
        return Status::DeadlineExceeded("no committed transaction before the deadline");
      }
    }
  }

  void Stop() override {
    {
      MutexLock lock(&mu_);
      stopped_ = true;
      // Wakes a read blocked on the socket (also on a stalled primary): the driver's next or
      // current recv returns at once. The thread closes the connection only after taking
      // mu_ and clearing socket_, so the descriptor is still ours here.
      if (socket_ >= 0) ::shutdown(socket_, SHUT_RDWR);
      cv_.SignalAll();
    }
    std::lock_guard<std::mutex> join_lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  const GtidPosition& start_position() const override { return start_; }

 private:
  void Run() {
    SetCurrentThreadName("cdc-binlog");
    MARIADB_RPL_EVENT* ev = first_;
    first_ = nullptr;
    Status status;
    while (true) {
      if (ev == nullptr) ev = mariadb_rpl_fetch(rpl_, nullptr);
      if (ev == nullptr) {
        status = DriverError(mysql_, rpl_, "reading the binlog", options_);
        break;
      }
      status = HandleEvent(ev);
      mariadb_free_rpl_event(ev);
      ev = nullptr;
      if (!status.ok()) break;
    }
    {
      MutexLock lock(&mu_);
      if (stopped_) status = Status::Cancelled("binlog reader stopped");
      finished_ = true;
      terminal_ = status;
      socket_ = -1;
      cv_.SignalAll();
    }
    mariadb_rpl_close(rpl_);
    rpl_ = nullptr;
    mysql_close(mysql_);
    mysql_ = nullptr;
  }

  bool Watched(std::string_view db, std::string_view table) const {
    return std::any_of(options_.tables.begin(), options_.tables.end(),
                       [&](const TableFilter& f) { return f.Matches(db, table); });
  }
  // True when a statement with default database `db` may change a watched table.
  bool ConcernsWatched(std::string_view db, std::string_view sql) const {
    if (WatchedDatabase(db)) return true;
    return std::any_of(options_.tables.begin(), options_.tables.end(), [&](const TableFilter& f) {
      return sql.find(f.database + ".") != std::string_view::npos ||
             sql.find("`" + f.database + "`.") != std::string_view::npos;
    });
  }
  bool WatchedDatabase(std::string_view db) const {
    return std::any_of(options_.tables.begin(), options_.tables.end(),
                       [&](const TableFilter& f) { return f.database == db; });
  }

  Status HandleEvent(MARIADB_RPL_EVENT* ev) {
    switch (ev->event_type) {
      case GTID_EVENT: {
        if (in_group_) {
          return Status::Internal("binlog: GTID ", ev->event.gtid.domain_id, "-", ev->server_id, "-",
                                  ev->event.gtid.sequence_nr, " inside the unfinished group of ", gtid_.ToString());
        }
        in_group_ = true;
        gtid_ = Gtid{ev->event.gtid.domain_id, ev->server_id, ev->event.gtid.sequence_nr};
        standalone_ = (ev->event.gtid.flags & FL_STANDALONE) != 0;
        xa_prepared_ = (ev->event.gtid.flags & FL_PREPARED_XA) != 0;
        rows_.clear();
        ddl_.clear();
        tables_.clear();
        return Status::Ok();
      }
      case TABLE_MAP_EVENT: {
        const auto& tm = ev->event.table_map;
        const std::string db(View(tm.database)), table(View(tm.table));
        if (!Watched(db, table)) {
          tables_[tm.table_id] = nullptr;
          return Status::Ok();
        }
        internal::TableMapParts parts;
        parts.database = db;
        parts.table = table;
        parts.column_types = View(tm.column_types);
        parts.metadata = View(tm.metadata);
        if (tm.signed_indicator != nullptr) {
          parts.signedness = std::string_view(reinterpret_cast<const char*>(tm.signed_indicator),
                                              (internal::CountNumericColumns(parts.column_types) + 7) / 8);
        }
        parts.column_names = View(tm.column_names);
        parts.simple_primary_key = View(tm.simple_primary_keys);
        parts.prefixed_primary_key = View(tm.prefixed_primary_keys);
        LOCKSTEP_ASSIGN_OR_RETURN(internal::TableLayout layout, internal::BuildTableLayout(parts));
        tables_[tm.table_id] = std::make_shared<internal::TableLayout>(std::move(layout));
        return Status::Ok();
      }
      case WRITE_ROWS_EVENT_V1: case UPDATE_ROWS_EVENT_V1: case DELETE_ROWS_EVENT_V1:
      case WRITE_ROWS_COMPRESSED_EVENT_V1: case UPDATE_ROWS_COMPRESSED_EVENT_V1: case DELETE_ROWS_COMPRESSED_EVENT_V1:
      case WRITE_ROWS_EVENT: case UPDATE_ROWS_EVENT: case DELETE_ROWS_EVENT:
      case WRITE_ROWS_COMPRESSED_EVENT: case UPDATE_ROWS_COMPRESSED_EVENT: case DELETE_ROWS_COMPRESSED_EVENT:
        return HandleRows(ev);
      case XID_EVENT:
        return EndGroup(ev, /*committed=*/true);
      case QUERY_EVENT:
      case QUERY_COMPRESSED_EVENT: {
        const std::string_view sql = View(ev->event.query.statement);
        if (StartsWithNoCase(sql, "BEGIN") || StartsWithNoCase(sql, "SAVEPOINT") ||
            StartsWithNoCase(sql, "ROLLBACK TO") || StartsWithNoCase(sql, "XA START") ||
            StartsWithNoCase(sql, "XA END")) {
          return Status::Ok();
        }
        if (StartsWithNoCase(sql, "COMMIT") || StartsWithNoCase(sql, "XA COMMIT")) return EndGroup(ev, true);
        if (StartsWithNoCase(sql, "ROLLBACK") || StartsWithNoCase(sql, "XA ROLLBACK")) return EndGroup(ev, false);
        if (in_group_ && standalone_) {  // DDL: ends its own group.
          const std::string_view db = View(ev->event.query.database);
          if (ConcernsWatched(db, sql)) ddl_.push_back(DdlStatement{std::string(db), std::string(sql)});
          return EndGroup(ev, true);
        }
        if (WatchedDatabase(View(ev->event.query.database))) {
          return Status::Unimplemented("binlog: a statement-based event in watched database '",
                                       View(ev->event.query.database), "' (GTID ", gtid_.ToString(),
                                       "): its rows cannot be decoded; keep binlog_format=ROW in every session");
        }
        return Status::Ok();
      }
      case XA_PREPARE_LOG_EVENT:
        if (!rows_.empty()) {
          return Status::Unimplemented("binlog: XA PREPARE of GTID ", gtid_.ToString(),
                                       " changes watched tables; XA transactions are not supported");
        }
        return EndGroup(ev, /*committed=*/true);
      default:
        // ROTATE, FORMAT_DESCRIPTION, GTID_LIST, BINLOG_CHECKPOINT, HEARTBEAT, ANNOTATE_ROWS,
        // INTVAR, RAND, USER_VAR, ...: nothing to deliver.
        return Status::Ok();
    }
  }

  Status HandleRows(MARIADB_RPL_EVENT* ev) {
    const auto& r = ev->event.rows;
    auto it = tables_.find(r.table_id);
    if (it == tables_.end()) {
      return Status::Internal("binlog: rows event for table id ", r.table_id, " without a TABLE_MAP (GTID ",
                              gtid_.ToString(), ")");
    }
    if (it->second == nullptr) return Status::Ok();  // Not watched.
    const internal::TableLayout& layout = *it->second;
    if (!in_group_) return Status::Internal("binlog: rows event outside a transaction");
    if (ev->event_type == WRITE_ROWS_EVENT || ev->event_type == UPDATE_ROWS_EVENT ||
        ev->event_type == DELETE_ROWS_EVENT || ev->event_type >= WRITE_ROWS_COMPRESSED_EVENT) {
      return Status::Unimplemented("binlog: version-2 rows events (type ", static_cast<int>(ev->event_type),
                                   ") of ", layout.schema->database, ".", layout.schema->table, " are not supported");
    }
    if (r.column_count != layout.codecs.size()) {
      return Status::Internal("binlog: rows event has ", r.column_count, " columns, its TABLE_MAP ",
                              layout.codecs.size());
    }
    const size_t bitmap_len = (r.column_count + 7) / 8;
    const std::string_view present(reinterpret_cast<const char*>(r.column_bitmap), bitmap_len);
    std::string_view present_after;
    if (r.column_update_bitmap != nullptr) {
      present_after = std::string_view(reinterpret_cast<const char*>(r.column_update_bitmap), bitmap_len);
    }
    const std::string_view data(static_cast<const char*>(r.row_data), r.row_data_size);
    const RowOp op = r.type == WRITE_ROWS ? RowOp::kInsert : r.type == UPDATE_ROWS ? RowOp::kUpdate : RowOp::kDelete;
    Status s = internal::DecodeRows(layout, op, present, present_after, data, &rows_);
    if (!s.ok()) {
      return std::move(s).Annotate("binlog: GTID " + gtid_.ToString() + ", " + layout.schema->database + "." +
                                   layout.schema->table);
    }
    if (xa_prepared_) {
      return Status::Unimplemented("binlog: XA transaction ", gtid_.ToString(),
                                   " changes watched tables; XA transactions are not supported");
    }
    if (rows_.size() > options_.max_transaction_rows) {
      return Status::ResourceExhausted("binlog: transaction ", gtid_.ToString(), " changes more than ",
                                       options_.max_transaction_rows, " watched rows (max_transaction_rows)");
    }
    return Status::Ok();
  }

  Status EndGroup(MARIADB_RPL_EVENT* ev, bool committed) {
    if (!in_group_) return Status::Ok();
    in_group_ = false;
    tables_.clear();
    position_.Advance(gtid_);
    CommittedTransaction txn;
    txn.gtid = gtid_;
    txn.position = position_;
    txn.commit_time = std::chrono::system_clock::time_point(std::chrono::seconds(ev->timestamp));
    if (committed) {
      txn.changes = std::move(rows_);
      txn.ddl = std::move(ddl_);
    }
    rows_.clear();
    ddl_.clear();
    return Deliver(std::move(txn));
  }

  Status Deliver(CommittedTransaction txn) {
    MutexLock lock(&mu_);
    // A run of transactions without watched changes only moves the position: keep the last.
    if (txn.changes.empty() && txn.ddl.empty() && !queue_.empty() && queue_.back().changes.empty() &&
        queue_.back().ddl.empty()) {
      queue_.back() = std::move(txn);
      return Status::Ok();
    }
    while (queue_.size() >= options_.max_queued_transactions && !stopped_) cv_.Wait(&mu_);
    if (stopped_) return Status::Cancelled("binlog reader stopped");
    queue_.push_back(std::move(txn));
    cv_.SignalAll();
    return Status::Ok();
  }

  const BinlogReaderOptions options_;
  const GtidPosition start_;

  // Owned by the reading thread once it runs (closed by it when it ends).
  MYSQL* mysql_;
  MARIADB_RPL* rpl_;
  MARIADB_RPL_EVENT* first_;

  // Thread-only decoding state.
  GtidPosition position_;
  bool in_group_ = false;
  Gtid gtid_;
  bool standalone_ = false;
  bool xa_prepared_ = false;
  std::vector<RowChange> rows_;
  std::vector<DdlStatement> ddl_;
  std::unordered_map<uint64_t, std::shared_ptr<const internal::TableLayout>> tables_;

  Mutex mu_;
  CondVar cv_;  // Queue changed, finished, or stopped.
  std::deque<CommittedTransaction> queue_ LOCKSTEP_GUARDED_BY(mu_);
  bool finished_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool stopped_ LOCKSTEP_GUARDED_BY(mu_) = false;
  Status terminal_ LOCKSTEP_GUARDED_BY(mu_);
  int socket_ LOCKSTEP_GUARDED_BY(mu_) = -1;  // -1 once the thread closes the connection.

  std::mutex join_mu_;
  std::thread thread_;
};

// Closes a connection (and replication handle) unless released.
struct OpenGuard {
  MYSQL* mysql = nullptr;
  MARIADB_RPL* rpl = nullptr;
  ~OpenGuard() {
    if (rpl != nullptr) mariadb_rpl_close(rpl);
    if (mysql != nullptr) mysql_close(mysql);
  }
};

}  // namespace

Result<TableFilter> TableFilter::Parse(std::string_view text) {
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == text.size() ||
      text.find('.', dot + 1) != std::string_view::npos) {
    return Status::InvalidArgument("table filter must be 'db.table' or 'db.*', got '", text, "'");
  }
  return TableFilter{std::string(text.substr(0, dot)), std::string(text.substr(dot + 1))};
}

bool TableFilter::Matches(std::string_view db, std::string_view tbl) const {
  return db == database && (table == "*" || tbl == table);
}

Result<std::unique_ptr<BinlogReader>> BinlogReader::Open(const BinlogReaderOptions& options,
                                                         const Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(Validate(options));
  const sql::ConnectionOptions& c = options.connection;
  OpenGuard guard;
  guard.mysql = mysql_init(nullptr);
  if (guard.mysql == nullptr) return Status::ResourceExhausted("mysql_init failed");
  MYSQL* mysql = guard.mysql;
  const auto left = std::chrono::ceil<std::chrono::seconds>(
      std::min<Deadline::duration>(deadline.remaining(), std::chrono::duration_cast<Deadline::duration>(c.connect_timeout)));
  if (left.count() <= 0) return Status::DeadlineExceeded("opening the binlog reader");
  const unsigned connect_s = static_cast<unsigned>(std::max<int64_t>(1, left.count()));
  const unsigned io_s = static_cast<unsigned>(options.stall_timeout.count());
  mysql_optionsv(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
  mysql_optionsv(mysql, MYSQL_OPT_READ_TIMEOUT, &io_s);
  mysql_optionsv(mysql, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
  if (!c.ssl_ca.empty() || !c.ssl_cert.empty() || !c.ssl_key.empty()) {
    mysql_ssl_set(mysql, c.ssl_key.empty() ? nullptr : c.ssl_key.c_str(),
                  c.ssl_cert.empty() ? nullptr : c.ssl_cert.c_str(), c.ssl_ca.empty() ? nullptr : c.ssl_ca.c_str(),
                  nullptr, nullptr);
    const my_bool verify = c.verify_server_cert ? 1 : 0;
    mysql_optionsv(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
  }
  if (mysql_real_connect(mysql, c.host.c_str(), c.user.c_str(), c.password.c_str(), nullptr,
                         static_cast<unsigned>(c.port), c.unix_socket.empty() ? nullptr : c.unix_socket.c_str(),
                         0) == nullptr) {
    return DriverError(mysql, nullptr, "connecting to " + c.ToString(), options);
  }

  LOCKSTEP_ASSIGN_OR_RETURN(
      std::vector<std::string> v,
      QueryRow(mysql,
               "SELECT @@server_id, @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, "
               "@@gtid_binlog_pos",
               options));
  auto refuse = [](std::string what) {
    return Status::FailedPrecondition("the primary's binlog cannot feed CDC: ", what).WithReason("binlog_settings");
  };
  if (v[0] == std::to_string(options.server_id)) {
    return refuse("server_id " + v[0] + " is the primary's own; give the reader a unique server_id");
  }
  if (v[1] != "1") return refuse("log_bin is OFF");
  if (v[2] != "ROW") return refuse("binlog_format is " + v[2] + ", needs ROW");
  if (v[3] != "FULL") return refuse("binlog_row_image is " + v[3] + ", needs FULL");
  if (v[4] != "FULL") return refuse("binlog_row_metadata is " + v[4] + ", needs FULL (column names)");

  GtidPosition start;
  if (options.start) {
    start = *options.start;
  } else {
    LOCKSTEP_ASSIGN_OR_RETURN(start, GtidPosition::Parse(v[5]));
  }
  const long long heartbeat_ns = static_cast<long long>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.heartbeat_period).count());
  // The session variables a MariaDB replica sets before COM_BINLOG_DUMP: checksum
  // awareness, GTID capability and the GTID position to start after. start.ToString() holds
  // only digits, '-' and ',' (built by GtidPosition).
  const std::string setup = "SET @master_binlog_checksum = @@global.binlog_checksum, @mariadb_slave_capability = " +
                            std::to_string(kGtidCapability) + ", @slave_connect_state = '" + start.ToString() +
                            "', @slave_gtid_strict_mode = 1, @slave_gtid_ignore_duplicates = 0, "
                            "@master_heartbeat_period = " + std::to_string(heartbeat_ns);
  if (mysql_real_query(mysql, setup.data(), setup.size()) != 0) {
    return DriverError(mysql, nullptr, "setting up the replication session", options);
  }

  guard.rpl = mariadb_rpl_init(mysql);
  if (guard.rpl == nullptr) return DriverError(mysql, nullptr, "mariadb_rpl_init", options);
  MARIADB_RPL* rpl = guard.rpl;
  mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, static_cast<unsigned>(options.server_id));
  mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, static_cast<unsigned long>(4));
  mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, 0u);
  if (mariadb_rpl_open(rpl) != 0) return DriverError(mysql, rpl, "COM_BINLOG_DUMP", options);
  // The primary checks the GTID position before sending anything: the first packet is
  // either its error (e.g. purged -> kDataLoss) or the first event (a fake ROTATE).
  MARIADB_RPL_EVENT* first = mariadb_rpl_fetch(rpl, nullptr);
  if (first == nullptr) return DriverError(mysql, rpl, "starting the binlog stream at '" + start.ToString() + "'", options);
  guard.mysql = nullptr;
  guard.rpl = nullptr;
  return std::unique_ptr<BinlogReader>(new BinlogReaderImpl(options, std::move(start), mysql, rpl, first));
}

}  // namespace lockstep::cdc
