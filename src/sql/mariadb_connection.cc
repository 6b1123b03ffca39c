#include "sql/mariadb_connection.h"

#include <mysql.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "sql/server_breaker.h"

namespace lockstep::sql::internal {
namespace {

std::once_flag g_driver_once;

MYSQL_TIME ToMysqlTime(const Timestamp& ts) {
  const auto days = std::chrono::floor<std::chrono::days>(ts);
  const std::chrono::year_month_day ymd(days);
  const std::chrono::hh_mm_ss<std::chrono::microseconds> hms(ts - days);
  MYSQL_TIME t;
  std::memset(&t, 0, sizeof t);
  t.year = static_cast<unsigned>(static_cast<int>(ymd.year()));
  t.month = static_cast<unsigned>(ymd.month());
  t.day = static_cast<unsigned>(ymd.day());
  t.hour = static_cast<unsigned>(hms.hours().count());
  t.minute = static_cast<unsigned>(hms.minutes().count());
  t.second = static_cast<unsigned>(hms.seconds().count());
  t.second_part = static_cast<unsigned long>(hms.subseconds().count());
  t.time_type = MYSQL_TIMESTAMP_DATETIME;
  return t;
}

Timestamp FromMysqlTime(const MYSQL_TIME& t) {
  const std::chrono::year_month_day ymd(std::chrono::year(static_cast<int>(t.year)),
                                        std::chrono::month(t.month), std::chrono::day(t.day));
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::sys_days(ymd)) +
         std::chrono::hours(t.hour) + std::chrono::minutes(t.minute) + std::chrono::seconds(t.second) +
         std::chrono::microseconds(t.second_part);
}

unsigned int CeilSeconds(std::chrono::steady_clock::duration d) {
  const auto s = std::chrono::ceil<std::chrono::seconds>(d).count();
  return static_cast<unsigned int>(std::clamp<int64_t>(s, 1, 24 * 3600));
}

}  // namespace

void EnsureDriverInitialized() {
  std::call_once(g_driver_once, [] { mysql_library_init(0, nullptr, nullptr); });
}

// Arms the watchdog for the duration of one logical operation (possibly several driver
// calls). `Finish()` disarms and reports whether the deadline cut the socket.
class Connection::CallScope {
 public:
  CallScope(Connection* conn, const Deadline& deadline)
      : conn_(conn), ticket_(conn->watchdog_->Arm(deadline, static_cast<int>(mysql_get_socket(conn->mysql_)))) {}
  ~CallScope() { Finish(); }
  // Idempotent. After it returns the watchdog never touches the socket again.
  bool Finish() {
    if (!done_) {
      done_ = true;
      fired_ = conn_->watchdog_->Disarm(ticket_);
      if (fired_ && !conn_->broken_) conn_->MarkBroken(Status::DeadlineExceeded("socket shut down by the deadline watchdog"));
    }
    return fired_;
  }

 private:
  Connection* conn_;
  Watchdog::Ticket ticket_;
  bool done_ = false;
  bool fired_ = false;
};

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectionOptions& options,
                                                     int statement_cache_size, Watchdog* watchdog,
                                                     CircuitBreaker* breaker, const Deadline& deadline) {
  EnsureDriverInitialized();
  if (deadline.expired()) return Status::DeadlineExceeded("deadline exceeded before connecting to ", options.ToString());
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return Status::ResourceExhausted("mysql_init failed (out of memory)");
  // The driver's timeouts have whole-second granularity; the deadline caps the connect
  // timeout (rounded up) and the watchdog enforces deadlines precisely after connecting.
  unsigned int connect_timeout = CeilSeconds(std::min<std::chrono::steady_clock::duration>(
      options.connect_timeout, deadline.remaining()));
  unsigned int read_timeout = static_cast<unsigned int>(options.read_timeout.count());
  unsigned int write_timeout = static_cast<unsigned int>(options.write_timeout.count());
  my_bool no = 0;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
  // Never reconnect silently: that would turn the rest of a transaction into autocommit.
  mysql_optionsv(m, MYSQL_OPT_RECONNECT, &no);
  mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &no);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, options.charset.c_str());
  if (!options.ssl_ca.empty() || !options.ssl_cert.empty() || !options.ssl_key.empty()) {
    if (!options.ssl_ca.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_CA, options.ssl_ca.c_str());
    if (!options.ssl_cert.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_CERT, options.ssl_cert.c_str());
    if (!options.ssl_key.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_KEY, options.ssl_key.c_str());
    my_bool verify = options.verify_server_cert ? 1 : 0;
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    my_bool enforce = 1;
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &enforce);
  }
  const char* db = options.database.empty() ? nullptr : options.database.c_str();
  const char* sock = options.unix_socket.empty() ? nullptr : options.unix_socket.c_str();
  if (mysql_real_connect(m, options.host.c_str(), options.user.c_str(), options.password.c_str(), db,
                         static_cast<unsigned int>(options.port), sock, 0) == nullptr) {
    ErrorContext context{CallPhase::kConnect, deadline.expired()};
    Status s = MariaDbStatus(mysql_errno(m), mysql_error(m), context).Annotate(options.ToString());
    mysql_close(m);
    return s;
  }
  return std::unique_ptr<Connection>(new Connection(m, statement_cache_size, watchdog, breaker));
}

Status Connection::Admit() { return breaker_ == nullptr ? Status::Ok() : AdmitCall(*breaker_); }

void Connection::Report(const Status& outcome) {
  if (breaker_ != nullptr) RecordServerOutcome(*breaker_, outcome);
}

Connection::~Connection() {
  for (CachedStmt& c : lru_) mysql_stmt_close(c.stmt);
  mysql_close(mysql_);
}

void Connection::MarkBroken(const Status& why) {
  if (!broken_) {
    broken_ = true;
    broken_reason_ = why.ok() ? Status::Unavailable("connection discarded") : why;
  }
}

Status Connection::Fail(unsigned errnum, const char* message, CallPhase phase, const Deadline& deadline,
                        bool fired) {
  Status s = MariaDbStatus(errnum, message, ErrorContext{phase, fired || deadline.expired()});
  if (fired || DiscardsConnection(errnum)) MarkBroken(s);
  return s;
}

Status Connection::ExecText(std::string_view sql, const Deadline& deadline, CallPhase phase) {
  if (broken_) return Status::Unavailable("connection is broken: ", broken_reason_.message());
  if (deadline.expired()) return Status::DeadlineExceeded("deadline exceeded before sending the statement");
  LOCKSTEP_RETURN_IF_ERROR(Admit());
  CallScope scope(this, deadline);
  int rc = mysql_real_query(mysql_, sql.data(), static_cast<unsigned long>(sql.size()));
  if (rc == 0) {
    // Drain any result set so the connection stays in sync.
    do {
      MYSQL_RES* res = mysql_store_result(mysql_);
      if (res != nullptr) mysql_free_result(res);
    } while (mysql_next_result(mysql_) == 0);
  }
  const unsigned errnum = mysql_errno(mysql_);
  const bool fired = scope.Finish();
  Touch();
  const Status s = rc != 0 || errnum != 0 ? Fail(errnum, mysql_error(mysql_), phase, deadline, fired) : Status::Ok();
  Report(s);
  return s;
}

Status Connection::Ping(const Deadline& deadline) {
  if (broken_) return Status::Unavailable("connection is broken");
  if (deadline.expired()) return Status::DeadlineExceeded("deadline exceeded before ping");
  LOCKSTEP_RETURN_IF_ERROR(Admit());
  CallScope scope(this, deadline);
  const int rc = mysql_ping(mysql_);
  const bool fired = scope.Finish();
  if (rc != 0) {
    Status s = Fail(mysql_errno(mysql_), mysql_error(mysql_), CallPhase::kStatement, deadline, fired);
    MarkBroken(s);  // A connection that failed a ping is never reused.
    Report(s);
    return s;
  }
  Touch();
  Report(Status::Ok());
  return Status::Ok();
}

std::optional<std::string> Connection::TrackedLastGtid() const {
  const char* data = nullptr;
  size_t length = 0;
  // SESSION_TRACK_SYSTEM_VARIABLES comes as name, value pairs (verified against MariaDB
  // 10.11 with Connector/C 3.3.20: after COMMIT, "last_gtid" then "0-1-15"; nothing after a
  // COMMIT that binlogged nothing).
  // The driver keeps the last OK packet's session state until the next OK packet replaces
  // it: a statement that ended with a result set's EOF (a SELECT) leaves the previous
  // statement's state in place. Only a statement whose own OK packet flagged a change reports.
  if ((mysql_->server_status & SERVER_SESSION_STATE_CHANGED) == 0) return std::nullopt;
  if (mysql_session_track_get_first(mysql_, SESSION_TRACK_SYSTEM_VARIABLES, &data, &length) != 0) return std::nullopt;
  for (;;) {
    const std::string_view name(data, length);
    if (mysql_session_track_get_next(mysql_, SESSION_TRACK_SYSTEM_VARIABLES, &data, &length) != 0) return std::nullopt;
    if (name == "last_gtid") return std::string(data, length);
    if (mysql_session_track_get_next(mysql_, SESSION_TRACK_SYSTEM_VARIABLES, &data, &length) != 0) return std::nullopt;
  }
}

Status Connection::SetSession(double max_statement_time, int isolation, int snapshot_isolation,
                              const Deadline& deadline, bool track_last_gtid) {
  std::string sql;
  auto add = [&sql](std::string_view assignment) {
    if (!sql.empty()) sql += ", ";
    sql += assignment;
  };
  if (max_statement_time >= 0 && max_statement_time != session_max_statement_time_) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "@@SESSION.max_statement_time=%.6f", max_statement_time);
    add(buf);
  }
  if (isolation >= 0 && isolation != session_isolation_) {
    static constexpr const char* kLevels[] = {"READ-COMMITTED", "REPEATABLE-READ", "SERIALIZABLE"};
    add(std::string("@@SESSION.tx_isolation='") + kLevels[isolation] + "'");
  }
  const int snapshot = snapshot_isolation;
  const bool set_snapshot = snapshot >= 0 && snapshot_isolation_ != kUnsupported && snapshot != snapshot_isolation_;
  if (set_snapshot) add(snapshot == 1 ? "@@SESSION.innodb_snapshot_isolation=ON" : "@@SESSION.innodb_snapshot_isolation=OFF");
  const bool set_tracking = track_last_gtid && !tracks_last_gtid_;
  if (set_tracking) {
    add("@@SESSION.session_track_system_variables=CONCAT(@@SESSION.session_track_system_variables, ',last_gtid')");
  }
  if (sql.empty()) return Status::Ok();
  Status s = ExecText("SET " + sql, deadline);
  if (!s.ok() && set_snapshot && s.driver_error() == 1193) {
    // ER_UNKNOWN_SYSTEM_VARIABLE: the server has no innodb_snapshot_isolation (MySQL,
    // MariaDB before 10.6.18/10.11.8). Never ask again on this connection.
    snapshot_isolation_ = kUnsupported;
    return SetSession(max_statement_time, isolation, snapshot_isolation, deadline, track_last_gtid);
  }
  if (s.ok()) {
    if (set_tracking) tracks_last_gtid_ = true;
    if (max_statement_time >= 0) session_max_statement_time_ = max_statement_time;
    if (isolation >= 0) session_isolation_ = isolation;
    if (set_snapshot) snapshot_isolation_ = snapshot;
  } else {
    session_max_statement_time_ = -1;
    session_isolation_ = -1;
    if (snapshot_isolation_ != kUnsupported) snapshot_isolation_ = -1;
  }
  return s;
}

void Connection::Evict(std::string_view sql) {
  auto it = by_sql_.find(sql);
  if (it == by_sql_.end()) return;
  auto node = it->second;
  by_sql_.erase(it);
  mysql_stmt_close(node->stmt);
  lru_.erase(node);
}

Result<MYSQL_STMT*> Connection::Prepare(std::string_view sql, const Deadline& deadline, CallScope& scope) {
  if (auto it = by_sql_.find(sql); it != by_sql_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->stmt;
  }
  MYSQL_STMT* stmt = mysql_stmt_init(mysql_);
  if (stmt == nullptr) return Status::ResourceExhausted("mysql_stmt_init failed");
  if (mysql_stmt_prepare(stmt, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    const unsigned errnum = mysql_stmt_errno(stmt);
    std::string message = mysql_stmt_error(stmt);
    mysql_stmt_close(stmt);
    return Fail(errnum, message.c_str(), CallPhase::kStatement, deadline, scope.Finish());
  }
  // Bounded cache: evict the least recently used statement (COM_STMT_CLOSE has no reply).
  while (!lru_.empty() && static_cast<int>(lru_.size()) >= cache_size_) {
    by_sql_.erase(lru_.back().sql);
    mysql_stmt_close(lru_.back().stmt);
    lru_.pop_back();
  }
  lru_.push_front(CachedStmt{std::string(sql), stmt});
  by_sql_.emplace(lru_.front().sql, lru_.begin());
  return stmt;
}

Result<ExecResult> Connection::Execute(std::string_view sql, const std::vector<Param>& params,
                                       const Deadline& deadline) {
  return Run(sql, params, deadline, nullptr);
}

Result<Rows> Connection::Query(std::string_view sql, const std::vector<Param>& params,
                               const Deadline& deadline) {
  Rows rows;
  LOCKSTEP_ASSIGN_OR_RETURN(ExecResult ignored, Run(sql, params, deadline, &rows));
  (void)ignored;
  return rows;
}

Result<ExecResult> Connection::Run(std::string_view sql, const std::vector<Param>& params,
                                   const Deadline& deadline, Rows* rows) {
  if (broken_) return Status::Unavailable("connection is broken: ", broken_reason_.message());
  if (deadline.expired()) return Status::DeadlineExceeded("deadline exceeded before sending the statement");
  LOCKSTEP_RETURN_IF_ERROR(Admit());
  bool reprepare = false;
  Result<ExecResult> r = RunOnce(sql, params, deadline, rows, &reprepare);
  // 1615/2057: the table changed under a cached statement; prepare it again, once.
  if (reprepare && !broken_) r = RunOnce(sql, params, deadline, rows, &reprepare);
  Touch();
  Report(r.ok() ? Status::Ok() : r.status());
  return r;
}

Result<ExecResult> Connection::RunOnce(std::string_view sql, const std::vector<Param>& params,
                                       const Deadline& deadline, Rows* rows, bool* reprepare) {
  *reprepare = false;
  CallScope scope(this, deadline);
  LOCKSTEP_ASSIGN_OR_RETURN(MYSQL_STMT* stmt, Prepare(sql, deadline, scope));

  auto stmt_fail = [&](MYSQL_STMT* s) {
    const unsigned errnum = mysql_stmt_errno(s);
    std::string message = mysql_stmt_error(s);
    const bool fired = scope.Finish();
    Status st = Fail(errnum, message.c_str(), CallPhase::kStatement, deadline, fired);
    // Re-prepare after any error: drop the statement from the cache (unless the whole
    // connection is going away anyway).
    if (!broken_) {
      if (errnum == 1615 || errnum == 2057) *reprepare = true;
      Evict(sql);
    }
    return st;
  };

  const unsigned long expected = mysql_stmt_param_count(stmt);
  if (expected != params.size()) {
    return Status::InvalidArgument("statement has ", expected, " placeholders but ", params.size(),
                                   " parameters were given");
  }
  std::vector<MYSQL_BIND> binds(params.size());
  std::vector<MYSQL_TIME> times(params.size());
  std::vector<unsigned long> lengths(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    MYSQL_BIND& b = binds[i];
    std::memset(&b, 0, sizeof b);
    switch (p.kind) {
      case Param::Kind::kNull: b.buffer_type = MYSQL_TYPE_NULL; break;
      case Param::Kind::kInt64:
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = const_cast<int64_t*>(&p.i);
        break;
      case Param::Kind::kUint64:
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = const_cast<uint64_t*>(&p.u);
        b.is_unsigned = 1;
        break;
      case Param::Kind::kDouble:
        b.buffer_type = MYSQL_TYPE_DOUBLE;
        b.buffer = const_cast<double*>(&p.d);
        break;
      case Param::Kind::kText:
      case Param::Kind::kBytes:
        b.buffer_type = p.kind == Param::Kind::kText ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
        b.buffer = const_cast<char*>(p.s.data());
        lengths[i] = static_cast<unsigned long>(p.s.size());
        b.buffer_length = lengths[i];
        b.length = &lengths[i];
        break;
      case Param::Kind::kTimestamp:
        times[i] = ToMysqlTime(p.t);
        b.buffer_type = MYSQL_TYPE_DATETIME;
        b.buffer = &times[i];
        b.buffer_length = sizeof(MYSQL_TIME);
        break;
    }
  }
  if (!binds.empty() && mysql_stmt_bind_param(stmt, binds.data()) != 0) return stmt_fail(stmt);
  if (mysql_stmt_execute(stmt) != 0) return stmt_fail(stmt);

  ExecResult result;
  const unsigned int field_count = mysql_stmt_field_count(stmt);
  if (field_count > 0) {
    if (mysql_stmt_store_result(stmt) != 0) return stmt_fail(stmt);
    if (rows != nullptr) {
      MYSQL_RES* meta = mysql_stmt_result_metadata(stmt);
      if (meta == nullptr) return stmt_fail(stmt);
      MYSQL_FIELD* fields = mysql_fetch_fields(meta);
      auto names = std::make_shared<std::vector<std::string>>();
      std::vector<Cell::Kind> kinds(field_count);
      std::vector<MYSQL_BIND> out(field_count);
      std::vector<unsigned long> out_len(field_count);
      std::vector<my_bool> out_null(field_count), out_err(field_count);
      std::vector<int64_t> ints(field_count);
      std::vector<double> dbls(field_count);
      std::vector<MYSQL_TIME> tms(field_count);
      for (unsigned int c = 0; c < field_count; ++c) {
        names->emplace_back(fields[c].name, fields[c].name_length);
        MYSQL_BIND& b = out[c];
        std::memset(&b, 0, sizeof b);
        b.length = &out_len[c];
        b.is_null = &out_null[c];
        b.error = &out_err[c];
        const bool is_unsigned = (fields[c].flags & UNSIGNED_FLAG) != 0;
        switch (fields[c].type) {
          case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_INT24:
          case MYSQL_TYPE_LONG: case MYSQL_TYPE_LONGLONG: case MYSQL_TYPE_YEAR:
            kinds[c] = is_unsigned ? Cell::Kind::kUint64 : Cell::Kind::kInt64;
            b.buffer_type = MYSQL_TYPE_LONGLONG;
            b.buffer = &ints[c];
            b.is_unsigned = is_unsigned;
            break;
          case MYSQL_TYPE_FLOAT: case MYSQL_TYPE_DOUBLE:
            kinds[c] = Cell::Kind::kDouble;
            b.buffer_type = MYSQL_TYPE_DOUBLE;
            b.buffer = &dbls[c];
            break;
          case MYSQL_TYPE_DATE: case MYSQL_TYPE_DATETIME: case MYSQL_TYPE_TIMESTAMP:
            kinds[c] = Cell::Kind::kTimestamp;
            b.buffer_type = MYSQL_TYPE_DATETIME;
            b.buffer = &tms[c];
            b.buffer_length = sizeof(MYSQL_TIME);
            break;
          default:
            // Variable length: fetched per row with mysql_stmt_fetch_column below.
            kinds[c] = fields[c].charsetnr == 63 && fields[c].type != MYSQL_TYPE_NEWDECIMAL &&
                               fields[c].type != MYSQL_TYPE_DECIMAL && fields[c].type != MYSQL_TYPE_TIME
                           ? Cell::Kind::kBytes
                           : Cell::Kind::kText;
            b.buffer_type = MYSQL_TYPE_STRING;
            b.buffer = nullptr;
            b.buffer_length = 0;
            break;
        }
      }
      mysql_free_result(meta);
      if (mysql_stmt_bind_result(stmt, out.data()) != 0) return stmt_fail(stmt);
      std::vector<Row> out_rows;
      out_rows.reserve(static_cast<size_t>(mysql_stmt_num_rows(stmt)));
      for (;;) {
        const int rc = mysql_stmt_fetch(stmt);
        if (rc == MYSQL_NO_DATA) break;
        if (rc == 1) {
          mysql_stmt_free_result(stmt);
          return stmt_fail(stmt);
        }
        std::vector<Cell> cells(field_count);
        for (unsigned int c = 0; c < field_count; ++c) {
          Cell& cell = cells[c];
          if (out_null[c]) continue;  // kNull.
          cell.kind = kinds[c];
          switch (kinds[c]) {
            case Cell::Kind::kInt64: cell.i = ints[c]; break;
            case Cell::Kind::kUint64: cell.u = static_cast<uint64_t>(ints[c]); break;
            case Cell::Kind::kDouble: cell.d = dbls[c]; break;
            case Cell::Kind::kTimestamp: cell.t = FromMysqlTime(tms[c]); break;
            case Cell::Kind::kText:
            case Cell::Kind::kBytes:
              cell.s.resize(out_len[c]);
              if (out_len[c] > 0) {
                MYSQL_BIND col;
                std::memset(&col, 0, sizeof col);
                unsigned long got = 0;
                col.buffer_type = MYSQL_TYPE_STRING;
                col.buffer = cell.s.data();
                col.buffer_length = out_len[c];
                col.length = &got;
                if (mysql_stmt_fetch_column(stmt, &col, c, 0) != 0) {
                  mysql_stmt_free_result(stmt);
                  return stmt_fail(stmt);
                }
              }
              break;
            case Cell::Kind::kNull: break;
          }
        }
        out_rows.emplace_back(names, std::move(cells));
      }
      *rows = Rows(names, std::move(out_rows));
    }
    mysql_stmt_free_result(stmt);
  }
  result.affected_rows = static_cast<uint64_t>(mysql_stmt_affected_rows(stmt));
  if (result.affected_rows == static_cast<uint64_t>(-1)) result.affected_rows = 0;
  result.last_insert_id = static_cast<uint64_t>(mysql_stmt_insert_id(stmt));
  // A CALL answers with its procedure's result sets and a final status: the first result
  // set is the one returned; later ones are read and dropped so the connection stays in
  // sync, and an error raised after the first result set fails the call.
  while (mysql_stmt_more_results(stmt)) {
    const int rc = mysql_stmt_next_result(stmt);
    if (rc > 0) return stmt_fail(stmt);
    if (rc < 0) break;
    if (mysql_stmt_field_count(stmt) > 0) {
      if (mysql_stmt_store_result(stmt) != 0) return stmt_fail(stmt);
      mysql_stmt_free_result(stmt);
    }
  }
  if (scope.Finish()) {
    // The watchdog fired just as the call completed: the result is valid, but the socket is
    // shut down; the connection is already marked broken and will be discarded.
  }
  return result;
}

}  // namespace lockstep::sql::internal
