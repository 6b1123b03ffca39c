#pragma once

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lockstep/base/circuit_breaker.h"
#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/sql/options.h"
#include "lockstep/sql/row.h"
#include "lockstep/sql/value.h"
#include "sql/mariadb_errors.h"
#include "sql/watchdog.h"

struct st_mysql;
struct st_mysql_stmt;

namespace lockstep::sql::internal {

// Initialises libmariadb once per process (thread-safe). mysql_thread_init/end are no-ops
// in Connector/C 3.x (verified: 3.3.20's are `return 0` / `ret`), so threads need nothing.
void EnsureDriverInitialized();

// Not thread-safe. One MariaDB connection with a bounded LRU cache of prepared statements. Every blocking
// driver call is bounded by a Deadline through the Watchdog. Once broken() it must only be
// destroyed. With a breaker, every statement and ping asks it first (a refusal sends
// nothing and leaves the connection as it was) and reports its outcome to it.
class Connection {
 public:
  // Connects (bounded by min(options.connect_timeout, deadline), whole seconds). `breaker`
  // (nullable) must outlive the connection; the connect itself is not reported to it.
  static Result<std::unique_ptr<Connection>> Open(const ConnectionOptions& options,
                                                  int statement_cache_size, Watchdog* watchdog,
                                                  CircuitBreaker* breaker, const Deadline& deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result<ExecResult> Execute(std::string_view sql, const std::vector<Param>& params,
                             const Deadline& deadline);
  Result<Rows> Query(std::string_view sql, const std::vector<Param>& params, const Deadline& deadline);
  // A text-protocol statement without results (BEGIN, COMMIT, SAVEPOINT, SET ...).
  Status ExecText(std::string_view sql, const Deadline& deadline, CallPhase phase = CallPhase::kStatement);
  Status Ping(const Deadline& deadline);

  // Sets the session's max_statement_time (seconds; 0 = none) if it differs from the
  // last value set; `isolation` likewise (-1 = leave); `snapshot_isolation` likewise
  // (innodb_snapshot_isolation: 0 off, 1 on, -1 leave; skipped for good once the server
  // said it has no such variable, see snapshot_isolation_unsupported()).
  // `track_last_gtid` also turns on session tracking of last_gtid (once per connection;
  // see TrackedLastGtid()).
  Status SetSession(double max_statement_time, int isolation, int snapshot_isolation, const Deadline& deadline,
                    bool track_last_gtid = false);
  // True once session tracking of last_gtid is on for this connection.
  bool tracks_last_gtid() const { return tracks_last_gtid_; }
  // The last_gtid the server reported in the OK packet of the last statement (session
  // tracking), or nullopt if it reported none. Call right after the statement.
  std::optional<std::string> TrackedLastGtid() const;
  // True once a SET of innodb_snapshot_isolation failed with 1193 (MySQL, MariaDB < 10.6.18).
  bool snapshot_isolation_unsupported() const { return snapshot_isolation_ == kUnsupported; }

  bool broken() const { return broken_; }
  void MarkBroken(const Status& why);
  const Status& broken_reason() const { return broken_reason_; }
  Clock::time_point last_used() const { return last_used_; }
  void Touch() { last_used_ = Clock::Real().Now(); }

 private:
  struct CachedStmt {
    std::string sql;
    st_mysql_stmt* stmt;
  };
  class CallScope;

  Connection(st_mysql* mysql, int statement_cache_size, Watchdog* watchdog, CircuitBreaker* breaker)
      : mysql_(mysql), cache_size_(statement_cache_size), watchdog_(watchdog), breaker_(breaker) {}

  // The breaker's verdict for one network call (OK without a breaker), and its outcome.
  Status Admit();
  void Report(const Status& outcome);

  // Runs a prepared statement; fills `rows` if non-null and the statement has results.
  Result<ExecResult> Run(std::string_view sql, const std::vector<Param>& params,
                         const Deadline& deadline, Rows* rows);
  Result<ExecResult> RunOnce(std::string_view sql, const std::vector<Param>& params,
                             const Deadline& deadline, Rows* rows, bool* reprepare);
  Result<st_mysql_stmt*> Prepare(std::string_view sql, const Deadline& deadline, CallScope& scope);
  void Evict(std::string_view sql);
  Status Fail(unsigned errnum, const char* message, CallPhase phase, const Deadline& deadline,
              bool fired);

  st_mysql* mysql_;
  const int cache_size_;
  Watchdog* const watchdog_;
  CircuitBreaker* const breaker_;  // Nullable; owned by the pool.
  std::list<CachedStmt> lru_;  // Front = most recently used.
  std::unordered_map<std::string_view, std::list<CachedStmt>::iterator> by_sql_;
  bool broken_ = false;
  Status broken_reason_;
  Clock::time_point last_used_ = Clock::Real().Now();
  double session_max_statement_time_ = -1;  // Unknown.
  int session_isolation_ = -1;               // Unknown.
  static constexpr int kUnsupported = 2;
  int snapshot_isolation_ = -1;              // Unknown, 0 off, 1 on, kUnsupported.
  bool tracks_last_gtid_ = false;
};

}  // namespace lockstep::sql::internal
