#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/outbox/event.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/transaction.h"

namespace lockstep::outbox {

// Plain struct; validated by Outbox::Create (kInvalidArgument).
struct OutboxOptions {
  // The events table. Also names its helpers `<table>_versions` (per-aggregate version
  // counters) and `<table>_gate` (the listing barrier). [A-Za-z0-9_], 1..48 chars.
  // Default "outbox".
  std::string table = "outbox";
};

// One page of Outbox::ListAfter.
struct EventPage {
  std::vector<StoredEvent> events;  // Ascending event_id.
  // The `after` to pass next: the last listed id, or the `after` given when none was.
  int64_t next_after = 0;
};

// The transactional outbox: an event row written in the caller's own transaction, so the
// event exists exactly when the effect it describes committed (Debezium's outbox pattern).
// Relaying it to a Redis Stream is outbox_relay.h's job; consuming it, consumer.h's.
//
// Versions (1, 2, 3 ... per aggregate, without gaps; UNIQUE (aggregate, aggregate_version)
// enforces no duplicate, the allocation below gives no gap). `<table>_versions` holds each
// aggregate's last version:
// - creates_aggregate: version 1; the counter row is a plain INSERT (insert-intention
//   locks only, no gap lock). A second "first" event of an aggregate fails on the key
//   (kFailedPrecondition "aggregate_exists").
// - otherwise: `UPDATE ... SET version = LAST_INSERT_ID(version + 1) WHERE aggregate = ?`:
//   an equality hit on the primary key locks that one record and no gap, reads the latest
//   committed counter, and its row lock orders the aggregate's appenders until commit (so
//   versions commit, and reach the binlog, in order). No statement searches a range or a
//   missing key under a lock, so the gap-lock deadlocks of INSERT ... ON DUPLICATE KEY
//   UPDATE or of a SELECT ... FOR UPDATE on the events table cannot occur. Only an
//   aggregate whose first event did not go through the outbox (rows older than it) has no
//   counter: its UPDATE misses (one gap lock, once per such aggregate), the version
//   continues after MAX(aggregate_version) and the counter is INSERTed; a concurrent append
//   that created it first makes that INSERT fail on the key, returned as kAborted (the
//   transaction reruns under sql::RunInTransaction and then hits the counter).
//
// Listing (ListAfter) is safe although AUTO_INCREMENT ids commit out of order: Append
// first takes a SHARED lock on the single `<table>_gate` row (held until the caller's
// commit or rollback; shared locks do not wait for each other) and only then allocates its
// id. ListAfter takes the EXCLUSIVE lock on that row: it is granted once every append that
// had taken the shared lock — i.e. every id allocated so far — has committed or rolled
// back, and appends that come later queue behind it, so they get larger ids. ListAfter
// then reads MAX(id) (committed) and releases the gate; everything it lists is at most that
// mark. So no event is listed before its transaction committed, and no id below a listed
// one can commit later (an id once listed is never followed by a smaller one).
// Call Append LAST in the transaction (after every other lock): an appender that holds the
// gate and then waits for a row lock of another appender queued behind a listing forms a
// deadlock (InnoDB detects it; kAborted, rerun).
//
// Thread-safe (immutable after Create).
class Outbox {
 public:
  static Result<Outbox> Create(OutboxOptions options);

  // The DDL that creates the tables (IF NOT EXISTS) and the gate row: run each once per
  // database (schema setup, not in a business transaction).
  std::vector<std::string> SchemaStatements() const;

  // Appends `event` in `tx` (see above). Codes: kInvalidArgument (bad event: nothing
  // written), kFailedPrecondition "aggregate_exists" (a second first event), kAborted
  // (lost a race on a counter or version: rerun the transaction), the driver's codes.
  // Not thread-safe with respect to `tx` (as the transaction).
  Status Append(sql::Transaction& tx, const Event& event) const;
  // Append for several events (e.g. one per order of a coalesced batch): one gate lock, one
  // multi-row INSERT of the new aggregates' counters and one of the events (in chunks of
  // 32 rows), plus one UPDATE per event without creates_aggregate. Events of one aggregate get
  // consecutive versions in the order given. All or nothing with `tx`.
  Status AppendBatch(sql::Transaction& tx, const std::vector<Event>& events) const;

  // Up to `limit` committed events with event_id > `after`, ascending (see above for why
  // the listing is safe). Two short transactions on `pool`: the gate (waits for appends in
  // flight; bounded by `deadline`), then the read. REQUIRES: after >= 0, 1 <= limit <=
  // 1000 (else kInvalidArgument). Thread-safe.
  Result<EventPage> ListAfter(sql::Pool& pool, int64_t after, int limit, const Deadline& deadline) const;

  const OutboxOptions& options() const { return options_; }

 private:
  explicit Outbox(OutboxOptions options) : options_(std::move(options)) {}
  // The counter step of an event without creates_aggregate: its version.
  Result<int64_t> NextVersion(sql::Transaction& tx, const std::string& aggregate) const;
  OutboxOptions options_;
};

}  // namespace lockstep::outbox
