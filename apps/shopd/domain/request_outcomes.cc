#include "domain/request_outcomes.h"

#include "domain/request_records.h"
#include "lockstep/sql/run_in_transaction.h"

namespace shopd::domain {

using lockstep::Status;
using lockstep::StatusCode;

void RequestOutcomes::CountReruns(const lockstep::sql::RunStats& stats) const {
  DomainMetrics::Add(metrics_.tx_retries, stats.retries);
  DomainMetrics::Add(metrics_.deadlocks, stats.deadlocks);
  DomainMetrics::Add(metrics_.lock_wait_timeouts, stats.lock_wait_timeouts);
}

lockstep::Result<reply::Outcome> RequestOutcomes::Settle(const Status& status, const lockstep::sql::RunStats& stats,
                                                         reply::Outcome outcome, std::string_view request_id,
                                                         std::string_view digest,
                                                         const lockstep::Deadline& deadline) const {
  CountReruns(stats);
  if (status.code() == StatusCode::kAlreadyExists) {
    auto replay = RequestRecords::Replay(pool_, scope_, request_id, digest, deadline);
    // The insert that failed waited for the other record to commit: it must be readable.
    if (!replay.ok() && replay.status().code() == StatusCode::kNotFound) {
      return Status::Internal("duplicate request_id but no record of it");
    }
    return replay;
  }
  if (!status.ok()) return status;
  return outcome;
}

void RequestOutcomes::Count(const lockstep::Result<reply::Outcome>& answer, int effect_status, Counter effects,
                            Counter rejections) const {
  if (!answer.ok()) {
    if (answer.status().code() == StatusCode::kUnknown) DomainMetrics::Add(metrics_.outcome_unknown);
    return;
  }
  if (answer->replayed) {
    DomainMetrics::Add(metrics_.replays);
    return;
  }
  DomainMetrics::Add(answer->http_status == effect_status ? metrics_.*effects : metrics_.*rejections);
}

}  // namespace shopd::domain
