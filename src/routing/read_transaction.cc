#include "lockstep/routing/read_transaction.h"

#include "routing/replica_state.h"

namespace lockstep::routing {

Result<sql::Rows> ReadTransaction::QueryList(std::string_view sql, const sql::ParamList& params) {
  const auto start = std::chrono::steady_clock::now();
  Result<sql::Rows> r = tx_.QueryList(sql, params);
  Observe(start, r.status());
  return r;
}

void ReadTransaction::Observe(std::chrono::steady_clock::time_point start, const Status& status) {
  if (replica_ == nullptr) return;
  if (status.ok()) {
    replica_->RecordLatency(std::chrono::steady_clock::now() - start);
  } else if (status.code() == StatusCode::kUnavailable && status.driver_error() != 0) {
    replica_->ReadFailed(status);
  }
}

}  // namespace lockstep::routing
