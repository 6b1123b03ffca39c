#include "lockstep/sql/connection.h"

#include "sql/mariadb_connection.h"
#include "sql/pool_core.h"

namespace lockstep::sql {

PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : core_(std::move(other.core_)), conn_(std::exchange(other.conn_, nullptr)) {}

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    Reset();
    core_ = std::move(other.core_);
    conn_ = std::exchange(other.conn_, nullptr);
  }
  return *this;
}

PooledConnection::~PooledConnection() { Reset(); }

void PooledConnection::Reset() {
  if (conn_ != nullptr) core_->Release(std::exchange(conn_, nullptr));
  core_.reset();
}

void PooledConnection::Discard() {
  if (conn_ != nullptr) conn_->MarkBroken(Status::Unavailable("discarded by its user"));
}

bool PooledConnection::broken() const { return conn_ == nullptr || conn_->broken(); }

Status PooledConnection::TrackCommitGtid(const Deadline& deadline) {
  LOCKSTEP_CHECK_MSG(conn_ != nullptr, "PooledConnection::TrackCommitGtid on an empty lease");
  // -1: leave max_statement_time, isolation and snapshot isolation as they are.
  return conn_->SetSession(-1, -1, -1, deadline, /*track_last_gtid=*/true);
}

std::optional<std::string> PooledConnection::LastCommitGtid() const {
  LOCKSTEP_CHECK_MSG(conn_ != nullptr, "PooledConnection::LastCommitGtid on an empty lease");
  if (!conn_->tracks_last_gtid()) return std::nullopt;
  return conn_->TrackedLastGtid();
}

Result<ExecResult> PooledConnection::ExecutePack(std::string_view sql, const internal::ParamPack& pack) {
  LOCKSTEP_CHECK_MSG(conn_ != nullptr, "PooledConnection::Execute on an empty lease");
  const Deadline deadline = pack.deadline().value_or(Deadline::After(core_->options().default_statement_timeout));
  // Autocommit statements are bounded by the watchdog only; drop a leftover
  // transaction-scoped server limit.
  LOCKSTEP_RETURN_IF_ERROR(conn_->SetSession(0, -1, -1, deadline));
  return conn_->Execute(sql, pack.params(), deadline);
}

Result<Rows> PooledConnection::QueryPack(std::string_view sql, const internal::ParamPack& pack) {
  LOCKSTEP_CHECK_MSG(conn_ != nullptr, "PooledConnection::Query on an empty lease");
  const Deadline deadline = pack.deadline().value_or(Deadline::After(core_->options().default_statement_timeout));
  LOCKSTEP_RETURN_IF_ERROR(conn_->SetSession(0, -1, -1, deadline));
  return conn_->Query(sql, pack.params(), deadline);
}

}  // namespace lockstep::sql
