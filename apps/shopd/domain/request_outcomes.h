#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "domain/domain_metrics.h"
#include "reply/outcome.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"

namespace lockstep::sql {
class Pool;
struct RunStats;
}  // namespace lockstep::sql

namespace shopd::domain {

// The end every recorded mutating request shares (transfers; orders of every stock mode):
// count the unit's transaction reruns, answer a duplicate request_id from its record
// (RequestRecords::Replay), and count the answer in DomainMetrics. The unit itself, which
// records its outcome in the same transaction as its effect, stays with its service. Holds
// references only (`pool` and `metrics` must outlive it; `scope` must be a literal or
// otherwise outlive it). Thread-safe.
class RequestOutcomes {
 public:
  RequestOutcomes(lockstep::sql::Pool& pool, DomainMetrics& metrics, std::string_view scope)
      : pool_(pool), metrics_(metrics), scope_(scope) {}

  // Adds a RunInTransaction/RunWithRetries run to tx_retries, deadlocks and
  // lock_wait_timeouts.
  void CountReruns(const lockstep::sql::RunStats& stats) const;

  // The answer of a unit that ran once through RunInTransaction/RunWithRetries with `stats`
  // and `status`, having recorded `outcome`. Counts the reruns, then: `status` kAlreadyExists
  // (another transaction recorded this request_id; nothing of this one committed) -> the
  // recorded outcome, marked replayed, or kFailedPrecondition request_id_conflict if it was
  // recorded with another digest, or kInternal if no record is found; any other error ->
  // `status`; OK -> `outcome`. Costs one extra round trip only on kAlreadyExists.
  lockstep::Result<reply::Outcome> Settle(const lockstep::Status& status, const lockstep::sql::RunStats& stats,
                                          reply::Outcome outcome, std::string_view request_id,
                                          std::string_view digest, const lockstep::Deadline& deadline) const;

  using Counter = std::atomic<int64_t> DomainMetrics::*;
  // Counts the final answer of a request: kUnknown -> outcome_unknown; a replay -> replays;
  // an outcome with `effect_status` -> `effects`; any other outcome -> `rejections`. Other
  // errors (not recorded) are not counted.
  void Count(const lockstep::Result<reply::Outcome>& answer, int effect_status, Counter effects,
             Counter rejections) const;

 private:
  lockstep::sql::Pool& pool_;
  DomainMetrics& metrics_;
  std::string_view scope_;
};

}  // namespace shopd::domain
