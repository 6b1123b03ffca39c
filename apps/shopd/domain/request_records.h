#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "reply/outcome.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"

namespace lockstep::sql {
class Pool;
class Transaction;
}  // namespace lockstep::sql

namespace shopd::domain {

// kFailedPrecondition with reason "request_id_conflict": the request_id was recorded with
// another request body (API.md). Every store of recorded outcomes answers it this way.
lockstep::Status RequestIdConflict();

// Recorded outcomes of mutating requests, for idempotent replay (API.md): exactly one
// record per (scope, request_id), whatever the outcome, written in the same transaction
// as the effect it describes, so "recorded" and "happened" commit together. Records are
// kept until an operator deletes them (indexed by created_at for that). Stateless;
// thread-safe.
class RequestRecords {
 public:
  // Inserts the record. kAlreadyExists if (scope, request_id) is already recorded (the
  // caller rolls back and replays); the insert waits on an uncommitted duplicate.
  static lockstep::Status Insert(lockstep::sql::Transaction& tx, std::string_view scope,
                                 std::string_view request_id, std::string_view digest, const reply::Outcome& outcome);

  // The recorded outcome for (scope, request_id) if its digest equals `digest` (marked
  // replayed, with the primary's @@gtid_binlog_pos read in the same statement as its
  // consistency_token); kFailedPrecondition "request_id_conflict" if recorded with another digest;
  // kNotFound if there is no record.
  static lockstep::Result<reply::Outcome> Replay(lockstep::sql::Pool& pool, std::string_view scope,
                                          std::string_view request_id, std::string_view digest,
                                          const lockstep::Deadline& deadline);
};

}  // namespace shopd::domain
