#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lockstep/base/backoff.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/streams.h"

namespace lockstep::redis {

// Handles one batch. `per_entry` arrives sized like `entries`, all OK; set an element to an
// error to leave that entry pending (it is retried). A non-OK return leaves the whole batch
// pending. Only entries the handler reports durable (OK return and OK per_entry) are
// XACKed, so the handler must be idempotent per entry id: a crash between its commit and
// the XACK delivers the entry again. Runs on the consumer's thread.
using StreamHandler =
    std::function<Status(std::vector<redis::StreamEntry>& entries, std::vector<Status>& per_entry)>;

struct StreamConsumerOptions {
  // Stream key, consumer group and this consumer's name (unique per live process). Non-empty.
  std::string stream = "";
  std::string group = "";
  std::string consumer = "";
  // Where a newly created group starts ("0" = the whole stream, "$" = only new entries).
  // Default "0".
  std::string group_start_id = "0";
  // Entries per XREADGROUP / XAUTOCLAIM; > 0. Default 100.
  int64_t batch_size = 100;
  // XREADGROUP BLOCK; also bounds how long Stop() may wait for the loop. > 0. Default 200ms.
  std::chrono::milliseconds block{200};
  // Pending entries idle at least this long (their consumer is presumed dead) are claimed
  // with XAUTOCLAIM and handled here. > 0. Default 30s.
  std::chrono::milliseconds claim_idle{30'000};
  // How often XAUTOCLAIM runs; > 0. Default 1s.
  std::chrono::milliseconds claim_interval{1'000};
  // How often the stream is trimmed below what every consumer group of the stream still
  // needs (each group's oldest pending entry, or its last-delivered id); 0 = never. A group
  // created later starts from what is left. Default 1s.
  std::chrono::milliseconds trim_interval{1'000};
  // Deadline of each Redis call beyond its BLOCK time; > 0. Default 2s.
  std::chrono::milliseconds command_timeout{2'000};
  // Wait before retrying after a handler failure or a Redis error (reset on success).
  BackoffOptions retry_backoff{.initial = std::chrono::milliseconds(50), .max = std::chrono::seconds(2)};
  // Log hook: every handler failure and Redis error, with context. Called on the consumer's
  // thread. Default unset.
  std::function<void(const Status&)> on_error = nullptr;

  Status Validate() const;  // kInvalidArgument naming the bad field.
};

struct StreamConsumerStats {
  uint64_t batches = 0;           // Handler calls.
  uint64_t entries_delivered = 0; // Entries handed to the handler (redeliveries included).
  uint64_t entries_acked = 0;
  uint64_t entries_claimed = 0;   // Taken over from idle consumers with XAUTOCLAIM.
  uint64_t handler_failures = 0;  // Non-OK returns plus non-OK per-entry statuses.
  uint64_t redis_errors = 0;
  uint64_t trims = 0;             // Successful XTRIM calls.
  uint64_t trimmed_entries = 0;
};

// A Redis Streams consumer-group loop on its own thread. Thread-safe.
//
// Each round: (1) after a failure, this consumer's own pending entries are re-read (XREADGROUP
// id 0) and handed to the handler again, after a backoff; (2) every claim_interval,
// XAUTOCLAIM takes entries idle > claim_idle from other (dead) consumers; (3) XREADGROUP >
// reads new entries (BLOCK `block`); (4) every trim_interval, XTRIM MINID to the smallest
// id any consumer group of the stream still needs (XINFO GROUPS: per group its oldest
// pending id, XPENDING summary, or when nothing is pending its last-delivered id) — so
// entries still pending or unread by any group are never trimmed.
// Delivery is at least once; ACK follows the handler's durable report.
class StreamConsumer {
 public:
  // Creates the group (XGROUP CREATE ... MKSTREAM; an existing group is fine) and starts the
  // loop. `client` must outlive the consumer. kInvalidArgument for bad options; the
  // client's errors if the group cannot be created.
  static Result<std::unique_ptr<StreamConsumer>> Start(redis::Client& client, StreamConsumerOptions options,
                                                       StreamHandler handler);

  // Stop()s.
  ~StreamConsumer();
  StreamConsumer(const StreamConsumer&) = delete;
  StreamConsumer& operator=(const StreamConsumer&) = delete;

  // Stops the loop and joins its thread: returns within about `block` + command_timeout +
  // the running handler call. Entries read but not yet acked stay pending (for a restart
  // under the same consumer name, or for XAUTOCLAIM by another consumer). Idempotent.
  void Stop() LOCKSTEP_EXCLUDES(mu_);

  StreamConsumerStats stats() const LOCKSTEP_EXCLUDES(mu_);

 private:
  StreamConsumer(redis::Client& client, StreamConsumerOptions options, StreamHandler handler);
  void Loop();
  // Hands `entries` to the handler and acks the durable ones. False if anything failed.
  bool Handle(std::vector<redis::StreamEntry>& entries);
  bool ReadOwnPending();
  bool Claim();
  bool Trim();
  void Report(const Status& status, bool redis_error);
  bool stopping() const LOCKSTEP_EXCLUDES(mu_);
  // Waits `d` or until Stop(); false if stopping.
  bool SleepFor(Clock::duration d) LOCKSTEP_EXCLUDES(mu_);
  Deadline CallDeadline(std::chrono::milliseconds extra = std::chrono::milliseconds(0)) const;

  redis::Client& client_;
  const StreamConsumerOptions options_;
  const StreamHandler handler_;

  mutable Mutex mu_;
  CondVar stop_cv_;
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  StreamConsumerStats stats_ LOCKSTEP_GUARDED_BY(mu_);

  // Loop-thread state (only the loop thread touches these).
  bool own_pending_ = true;  // Re-read this consumer's PEL (start-up and after failures).
  std::thread thread_;
};

}  // namespace lockstep::redis
