#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/cdc/binlog_reader.h"
#include "lockstep/cdc/gtid.h"
#include "lockstep/cdc/row_change.h"
#include "lockstep/cdc/stream_publisher.h"
#include "lockstep/redis/client.h"

namespace lockstep::cdc {

// What a Relay does when the stream's checkpoint was purged from the primary's binlogs.
enum class GapPolicy {
  // Stop with the kDataLoss status (status() tells); an operator decides.
  kStop,
  // Append a gap entry (StreamPublisher::RecordGap) and continue from the primary's
  // current position; consumers flush what the gap entry tells them to.
  kRecordAndContinue,
};

// Plain struct; validated by Relay::Start (kInvalidArgument).
struct RelayOptions {
  // The reader's settings. `reader.start` is used only when the stream has no checkpoint
  // yet (nullopt = the primary's position when the relay first connects); afterwards the
  // checkpoint decides.
  BinlogReaderOptions reader;
  StreamPublisherOptions publisher;
  GapPolicy gap_policy = GapPolicy::kStop;
  // Waits between reconnects after kUnavailable-type failures (MariaDB or Redis down or
  // stalled): exponential with full jitter between these bounds.
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{5'000};
  // Optional callbacks (empty = not called), run on the relay's thread; cheap, no calls
  // back into the relay.
  struct Observer {
    // After each transaction is in the stream (entries: its changes; appended now or, for
    // a transaction resumed after a crash, partly before).
    std::function<void(const CommittedTransaction& txn, size_t entries)> on_published;
    // A failure the relay recovers from by reconnecting (it keeps running).
    std::function<void(const Status& status)> on_retry;
    // A gap (kDataLoss), whatever the policy.
    std::function<void(const Status& status)> on_gap;
  };
  Observer observer;
};

// The checkpointed binlog -> Redis Stream pipeline: one thread that loads the stream's
// checkpoint, reads the binlog from it (BinlogReader) and appends each committed
// transaction (StreamPublisher), reconnecting from the checkpoint after any failure of
// MariaDB or Redis. Inherits StreamPublisher's guarantee: every committed change after the
// first checkpoint is appended exactly once, in commit order, across failures and restarts
// of the process — or a gap entry / kDataLoss says what is missing.
// Run ONE relay per stream (a second one fails with kFailedPrecondition
// "checkpoint_moved" on its first append and stops; electing one with a lease is the
// caller's job). Thread-safe.
class Relay {
 public:
  // Validates the options and starts the thread. `client` must outlive the relay.
  static Result<std::unique_ptr<Relay>> Start(redis::Client& client, RelayOptions options);
  // Stop().
  virtual ~Relay() = default;

  // Stops and joins the thread. Bounded by the publisher's append_timeout (an append in
  // flight), never by a stalled MariaDB (its read is cut with shutdown(2)). Idempotent.
  virtual void Stop() = 0;

  // OK while running; the terminal status once the relay stopped by itself: kDataLoss
  // (gap, GapPolicy::kStop), kFailedPrecondition (another publisher moved the checkpoint,
  // or the primary's settings cannot feed CDC), kUnimplemented / kResourceExhausted (see
  // BinlogReader). kCancelled after Stop().
  virtual Status status() const = 0;

  // The checkpoint after the last append (empty before the first).
  virtual StreamCheckpoint checkpoint() const = 0;

  // Waits until the checkpoint covers every GTID of `position` (e.g. the primary's
  // @@gtid_binlog_pos read after a commit): true, or false at the deadline or when the
  // relay stopped.
  virtual bool AwaitPosition(const GtidPosition& position, const Deadline& deadline) const = 0;
};

}  // namespace lockstep::cdc
