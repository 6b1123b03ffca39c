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
// enforces no duplicate, the allocation below gives no gap). `<table>_versions` holds the
// last version of each aggregate that has more than one event:
// - creates_aggregate: version 1, no counter (the event row alone; most aggregates — an
//   order, a transfer — never get a second event). A second "first" event of an aggregate
//   fails on the key (kFailedPrecondition "aggregate_exists").
// - otherwise: `UPDATE ... SET version = LAST_INSERT_ID(version + 1) WHERE aggregate = ?`:
//   an equality hit on the primary key locks that one record and no gap, reads the latest
//   committed counter, and its row lock orders the aggregate's appenders until commit (so
//   versions commit, and reach the binlog, in order). When it misses (the aggregate's
//   second event), the version continues after MAX(aggregate_version) and the counter row
//   is INSERTed; a concurrent append that created it first makes that INSERT (or the
//   event's) fail on a key, returned as kAborted (the transaction reruns under
//   sql::RunInTransaction and then hits the counter). Under READ COMMITTED (shopd's write
//   transactions) no statement here takes a gap lock; under REPEATABLE READ only the missed
//   UPDATE does, once per aggregate. Nothing searches a range under a lock, so the gap-lock
//   deadlocks of INSERT ... ON DUPLICATE KEY UPDATE or of SELECT MAX ... FOR UPDATE on the
//   events table cannot occur.
//
// Listing (ListAfter) is safe although AUTO_INCREMENT ids commit out of order: Append
// first takes a SHARED lock on one of the 16 `<table>_gate` rows (chosen by its thread;
// held until the caller's commit or rollback; shared locks do not wait for each other) and
// only then allocates its id. ListAfter takes the EXCLUSIVE lock on every gate row, in id
// order: once it holds them all, every append that had taken a shared lock — i.e. every id
// allocated so far — has committed or rolled back, and appends that come later queue
// behind it, so they get larger ids. ListAfter
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
  // Append for several events (e.g. one per order of a coalesced batch): one gate lock and
  // one multi-row INSERT of the events (in chunks of 32 rows), plus the counter statements
  // of events without creates_aggregate. Events of one aggregate get
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
  // The counter step of an event without creates_aggregate: its version. `in_batch`: the
  // last version given to the aggregate earlier in the same AppendBatch (0 if none).
  Result<int64_t> NextVersion(sql::Transaction& tx, const std::string& aggregate, int64_t in_batch) const;
  OutboxOptions options_;
};

}  // namespace lockstep::outbox
