#include "lockstep/sql/pool.h"

#include <cmath>

#include <iostream>

#include "sql/mariadb_connection.h"
#include "sql/pool_core.h"
#include "sql/server_breaker.h"
#include "sql/tx_state.h"

namespace lockstep::sql {
namespace internal {

PoolCore::~PoolCore() { Shutdown(); }

void PoolCore::Log(std::string_view message) const {
  if (options_.observer.on_log) {
    options_.observer.on_log(message);
  } else {
    std::cerr << "lockstep::sql: " << message << std::endl;
  }
}

void PoolCore::NoteSnapshotIsolationUnsupported() {
  if (snapshot_warning_logged_.exchange(true, std::memory_order_relaxed)) return;
  Log("the server has no innodb_snapshot_isolation (MySQL, or MariaDB before 10.6.18 / 10.11.8): a "
      "REPEATABLE READ transaction that read a row with a plain SELECT can overwrite a newer committed "
      "version of it without an error; read rows you will write with SELECT ... FOR UPDATE");
}

Result<std::unique_ptr<Connection>> PoolCore::OpenConnection(const Deadline& deadline) {
  if (breaker_ == nullptr || deadline.expired()) {
    return Connection::Open(connection_, options_.statement_cache_size, &watchdog_, breaker_.get(), deadline);
  }
  LOCKSTEP_RETURN_IF_ERROR(AdmitCall(*breaker_));
  auto opened = Connection::Open(connection_, options_.statement_cache_size, &watchdog_, breaker_.get(), deadline);
  RecordServerOutcome(*breaker_, opened.ok() ? Status::Ok() : opened.status());
  return opened;
}

void PoolCore::ReturnUnused(std::unique_ptr<Connection> conn) {
  {
    MutexLock lock(&mu_);
    --in_use_;
    if (!shut_) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  returned_.Signal();
  conn.reset();  // Closes outside the lock (only when the pool shut down meanwhile).
}

void PoolCore::Discard(std::unique_ptr<Connection> conn, const Status& why) {
  {
    MutexLock lock(&mu_);
    --open_;
    ++discarded_;
  }
  returned_.Signal();  // A slot is free: a waiter may open a new connection.
  conn.reset();        // Closes outside the lock.
  if (options_.observer.on_discard) options_.observer.on_discard(why);
}

Result<PooledConnection> PoolCore::Acquire(const Deadline& deadline) {
  // An open breaker fails at once: no wait for a connection another call holds.
  if (breaker_ != nullptr) LOCKSTEP_RETURN_IF_ERROR(CheckBreaker(*breaker_));
  const Clock::time_point start = Clock::Real().Now();
  const Deadline wait_limit = deadline.CappedAt(options_.acquire_timeout);
  bool waited = false;
  auto report_wait = [&] {
    if (waited && options_.observer.on_acquire_wait) options_.observer.on_acquire_wait(Clock::Real().Now() - start);
  };
  for (;;) {
    std::unique_ptr<Connection> conn;
    bool open_new = false;
    Status timeout;
    {
      MutexLock lock(&mu_);
      for (;;) {
        if (shut_) return Status::FailedPrecondition("pool is shut down");
        if (!idle_.empty()) {
          conn = std::move(idle_.back());
          idle_.pop_back();
          ++in_use_;
          break;
        }
        if (open_ < options_.max_connections) {
          ++open_;  // Reserve the slot before connecting outside the lock.
          ++in_use_;
          open_new = true;
          break;
        }
        if (!waited) {
          waited = true;
          ++waits_;
        }
        if (!returned_.WaitUntil(&mu_, wait_limit) && wait_limit.expired()) {
          if (deadline.expired()) {
            timeout = Status::DeadlineExceeded("deadline exceeded waiting for a pooled connection (",
                                               in_use_, " of ", open_, " in use, max_connections=",
                                               options_.max_connections, ")");
          } else {
            timeout = Status::Unavailable("connection pool exhausted: all ", in_use_, " of max_connections=",
                                          options_.max_connections, " connections in use for ",
                                          options_.acquire_timeout.count(), "ms (acquire_timeout)");
          }
          break;
        }
      }
    }
    if (!timeout.ok()) {
      report_wait();
      return timeout;
    }
    if (open_new) {
      auto opened = OpenConnection(deadline);
      if (!opened.ok()) {
        {
          MutexLock lock(&mu_);
          --open_;
          --in_use_;
        }
        returned_.Signal();
        report_wait();
        return opened.status();
      }
      {
        MutexLock lock(&mu_);
        ++opened_;
      }
      report_wait();
      return PooledConnection(shared_from_this(), opened->release());
    }
    // Health check only after idleness: a recently used connection is very likely alive,
    // and a dead one is still caught by the first statement (kUnavailable, retried).
    if (Clock::Real().Now() - conn->last_used() >= options_.ping_after_idle) {
      Status ping = conn->Ping(deadline);
      if (CircuitBreaker::IsRejection(ping)) {
        // Nothing was sent: the connection is as good as before.
        ReturnUnused(std::move(conn));
        report_wait();
        return ping;
      }
      if (!ping.ok()) {
        {
          MutexLock lock(&mu_);
          --in_use_;
        }
        if (deadline.expired()) {
          Discard(std::move(conn), ping);
          report_wait();
          return Status::DeadlineExceeded("deadline exceeded while checking a pooled connection: ",
                                          ping.message());
        }
        Discard(std::move(conn), ping);
        continue;  // Try the next idle connection, or open a new one.
      }
    }
    report_wait();
    return PooledConnection(shared_from_this(), conn.release());
  }
}

void PoolCore::Release(Connection* raw) {
  std::unique_ptr<Connection> conn(raw);
  Status why;
  {
    MutexLock lock(&mu_);
    --in_use_;
    if (!conn->broken() && !shut_) {
      conn->Touch();
      idle_.push_back(std::move(conn));
    } else {
      why = conn->broken() ? conn->broken_reason() : Status::Unavailable("pool shut down");
    }
  }
  if (conn != nullptr) {
    Discard(std::move(conn), why);
  } else {
    returned_.Signal();
  }
}

void PoolCore::Shutdown() {
  std::vector<std::unique_ptr<Connection>> idle;
  {
    MutexLock lock(&mu_);
    shut_ = true;
    idle.swap(idle_);
    open_ -= static_cast<int>(idle.size());
  }
  returned_.SignalAll();
  idle.clear();  // Closes outside the lock.
}

PoolStats PoolCore::stats() const {
  PoolStats s;
  {
    MutexLock lock(&mu_);
    s.open = open_;
    s.idle = static_cast<int>(idle_.size());
    s.in_use = in_use_;
    s.waits = waits_;
    s.discarded = discarded_;
    s.opened = opened_;
  }
  s.watchdog_fired = watchdog_.fired();
  if (breaker_ != nullptr) s.breaker = breaker_->stats();
  return s;
}

}  // namespace internal

Result<std::unique_ptr<Pool>> Pool::Open(const ConnectionOptions& connection, const PoolOptions& options) {
  LOCKSTEP_RETURN_IF_ERROR(connection.Validate());
  LOCKSTEP_RETURN_IF_ERROR(options.Validate());
  internal::EnsureDriverInitialized();
  std::unique_ptr<CircuitBreaker> breaker;
  if (options.breaker.has_value()) {
    LOCKSTEP_ASSIGN_OR_RETURN(breaker,
                              CircuitBreaker::Create(AlsoNotify(*options.breaker, options.observer.on_breaker_state)));
  }
  auto core = std::make_shared<internal::PoolCore>(connection, options, std::move(breaker));
  std::unique_ptr<Pool> pool(new Pool(core));
  // Fail fast on an unreachable server or bad credentials; keeps the connection idle.
  LOCKSTEP_ASSIGN_OR_RETURN(PooledConnection first, core->Acquire(Deadline::After(connection.connect_timeout)));
  (void)first;
  return pool;
}

Pool::~Pool() { core_->Shutdown(); }

Result<PooledConnection> Pool::Acquire(const Deadline& deadline) { return core_->Acquire(deadline); }

Result<Transaction> Pool::Begin(const TxOptions& options, const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(PooledConnection lease, core_->Acquire(deadline));
  auto state = std::make_unique<internal::TxState>();
  state->lease = std::move(lease);
  state->deadline = deadline;
  internal::Connection* conn = state->conn();
  double limit = 0;  // 0 = no server-side limit.
  if (options.server_statement_limit && !deadline.infinite()) {
    // Rounded up to whole seconds so consecutive transactions with similar budgets find the
    // session variable already set and skip the SET round trip. The server-side limit is a
    // backstop that stops the server's work; the watchdog enforces the exact deadline.
    limit = std::ceil(std::chrono::duration<double>(deadline.remaining()).count());
    if (limit < 1) limit = 1;  // 0 would mean "no limit".
  }
  Status s = conn->SetSession(limit, static_cast<int>(options.isolation), options.snapshot_isolation ? 1 : 0, deadline,
                             options.track_commit_gtid);
  if (options.snapshot_isolation && conn->snapshot_isolation_unsupported() &&
      options.isolation == IsolationLevel::kRepeatableRead) {
    core_->NoteSnapshotIsolationUnsupported();
  }
  if (s.ok()) s = conn->ExecText(options.read_only ? "START TRANSACTION READ ONLY" : "START TRANSACTION", deadline);
  if (!s.ok()) {
    // The connection is back in the pool (or discarded if broken) when `state` dies; an
    // interrupted SET/BEGIN leaves no transaction open.
    return std::move(s).Annotate("BEGIN");
  }
  return Transaction(std::move(state));
}

PoolStats Pool::stats() const { return core_->stats(); }
const PoolOptions& Pool::options() const { return core_->options(); }
const ConnectionOptions& Pool::connection_options() const { return core_->connection_options(); }

}  // namespace lockstep::sql
