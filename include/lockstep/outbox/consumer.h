#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/outbox/event.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/stream_consumer.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "lockstep/sql/transaction.h"

namespace lockstep::outbox {

// Applies one event inside `tx` (the consumer's transaction, which also records the event
// as processed). Return OK to commit, an error to roll back (the event is retried, and
// dead-lettered after max_failures). kAborted / kUnavailable are rerun at once by
// sql::RunInTransaction within the attempt. REQUIRES: no side effects outside `tx`.
using EventHandler = std::function<Status(sql::Transaction& tx, const StoredEvent& event)>;

// Optional callbacks (empty = not called), e.g. for metrics (lockstep::prometheus's
// BindOutboxConsumerObserver). Called on the consumer's thread without locks held; cheap,
// no calls back into the consumer.
struct ConsumerObserver {
  // The handler's transaction committed this event.
  std::function<void(const StoredEvent& event)> on_applied = nullptr;
  // The event was already processed (its event_id is in the dedup table): acked, not applied.
  std::function<void(const StoredEvent& event)> on_duplicate = nullptr;
  // An attempt failed (handler error, or the transaction could not commit).
  std::function<void(const Status& status)> on_failure = nullptr;
  // The entry went to the dead-letter stream (after max_failures, or undecodable).
  std::function<void(const std::string& entry_id, const Status& last_error)> on_dead_letter = nullptr;
};

// Plain struct; validated by Consumer::Start (kInvalidArgument).
struct ConsumerOptions {
  // The consumer-group loop (stream, group, consumer, batch size, claim ...); its
  // on_error is kept. The group is also the dedup key: two groups apply an event once each.
  redis::StreamConsumerOptions stream;
  // The dedup table (`<table>` (consumer_group, event_id) PRIMARY KEY), in the handler's
  // database; created by SchemaStatements. [A-Za-z0-9_], 1..64 chars. Default
  // "outbox_processed".
  std::string dedup_table = "outbox_processed";
  // Failed attempts of one entry (counted by this process) before it is moved to the
  // dead-letter stream and acked, so one poison entry cannot block the group. >= 1.
  // Default 5.
  int max_failures = 5;
  // The dead-letter stream: each entry is the original fields plus `source_id` (its id in
  // `stream.stream`), `group` and `error`. Empty = stream.stream + ":dead".
  std::string dead_letter_stream;
  // Each attempt's transaction (RunInTransaction: kAborted/kUnavailable rerun inside it).
  sql::RunOptions run;
  std::chrono::milliseconds attempt_timeout{5'000};  // Bound of one attempt. > 0.
  ConsumerObserver observer;
};

// Consumes an events stream (outbox_relay.h) exactly once per consumer group as far as
// the database can tell: for each entry, in ONE transaction of `pool`, it INSERTs
// (group, event_id) into the dedup table — a duplicate key means the event was applied
// before (a redelivery after a crash between commit and XACK, or the relay's at-least-once)
// and the entry is just acked — then runs the handler, and commits; the XACK follows the
// commit (redis::StreamConsumer). An entry that fails max_failures times (or cannot be
// decoded) is copied to the dead-letter stream and acked: later entries are not blocked
// (the per-aggregate order is then broken for that aggregate: the dead letter says which).
// Entries are applied one at a time in stream order by this consumer; with several
// consumers in a group, per-aggregate order holds only per consumer.
// Thread-safe (the loop runs on its own thread).
class Consumer {
 public:
  // `client` and `pool` must outlive the consumer. Creates the group (as StreamConsumer).
  static Result<std::unique_ptr<Consumer>> Start(redis::Client& client, sql::Pool& pool, ConsumerOptions options,
                                                 EventHandler handler);
  // The DDL of the dedup table (IF NOT EXISTS).
  static std::string SchemaStatement(const std::string& dedup_table);

  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Stops the loop (StreamConsumer::Stop); entries not yet acked stay pending. Idempotent.
  void Stop();
  redis::StreamConsumerStats stats() const;

 private:
  struct State;
  explicit Consumer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
  std::unique_ptr<redis::StreamConsumer> loop_;
};

}  // namespace lockstep::outbox
