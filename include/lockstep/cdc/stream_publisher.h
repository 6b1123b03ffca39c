#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/cdc/gtid.h"
#include "lockstep/cdc/row_change.h"
#include "lockstep/redis/client.h"

namespace lockstep::cdc {

// Where a stream's publishing stands: every transaction up to `position` is in the stream,
// and, when `partial` is set, the first `rows_done` changes of that next transaction too
// (a transaction larger than one append is written in chunks). Value type.
struct StreamCheckpoint {
  GtidPosition position;
  std::optional<Gtid> partial;
  uint64_t rows_done = 0;

  // "<position>" or "<position>|<partial gtid>|<rows_done>": the checkpoint key's value.
  std::string ToString() const;
  static Result<StreamCheckpoint> Parse(std::string_view text);
  friend bool operator==(const StreamCheckpoint&, const StreamCheckpoint&) = default;
};

// Plain struct; validated by StreamPublisher::Create (kInvalidArgument).
struct StreamPublisherOptions {
  // The Redis Stream the row changes go to. Non-empty.
  std::string stream;
  // The key holding the StreamCheckpoint. Empty = stream + ":checkpoint". Must hash to the
  // same cluster slot as `stream` (use a {hash tag}) if Redis Cluster is ever used.
  std::string checkpoint_key;
  // Fencing (0 = off): the fencing token of the lease under which this publisher runs
  // (lock::LockGuard::fence(), see ElectedRelay). Every append first compares it with the
  // highest fence the stream has seen (kept in `fence_key`): a lower one is refused with
  // kFailedPrecondition reason "fenced" and appends nothing, so a publisher that was paused
  // past its lease cannot append after its successor started. >= 0.
  int64_t fence = 0;
  // The key holding the highest fence seen. Empty = stream + ":fence". Same slot rule as
  // checkpoint_key.
  std::string fence_key;
  // Row changes per append (one Lua script call); a larger transaction is appended in
  // chunks, each one atomic with its checkpoint. > 0.
  size_t max_rows_per_append = 5'000;
  // Consecutive row changes of one transaction on the same table and op share one stream
  // entry ("rows", see EncodeRowsEntry) up to this many; 1 = one "row" entry per change
  // (EncodeStreamEntry, the format before multi-row entries). Consumers decode either with
  // DecodeRowEntries. Redis's cost is per entry, so bulk changes need this to keep up with
  // the binlog (BENCHMARKS.md "Binlog CDC"). > 0.
  size_t max_rows_per_entry = 100;
  // Bound of one append when the caller's deadline is infinite. > 0.
  std::chrono::milliseconds append_timeout{5'000};
  // How a row change becomes a stream entry: the fields (alternating field, value) of
  // change `row` of `txn`, or an empty vector for a change that gets no entry (it still
  // counts as done in the checkpoint, so the guarantee below holds for the entries that
  // are written). Called on the publishing thread; must be deterministic (a resumed
  // transaction is encoded again). Set: one entry per change (max_rows_per_entry does not
  // apply). Empty function (default) = EncodeRowsEntry / EncodeStreamEntry as above.
  std::function<std::vector<std::string>(const CommittedTransaction& txn, size_t row)> encode_row;
  // Whether DDL entries (EncodeDdlEntry) are appended. Default true.
  bool ddl_entries = true;
  // Optional callbacks (empty = not called), run on the publishing thread without locks;
  // must be cheap and must not call back into the publisher.
  struct Observer {
    // After each append script that ran (not after one that found its work already
    // done): the checkpoint it stored and the entries it added.
    std::function<void(const StreamCheckpoint& checkpoint, size_t entries)> on_append;
  };
  Observer observer;
};

// Appends committed transactions' row changes to a Redis Stream, exactly once.
//
// Guarantee (what the tests prove): each append is ONE Lua script that compares the
// checkpoint key with the checkpoint this publisher last wrote (or loaded), XADDs the
// chunk's entries (EncodeRowsEntry / EncodeStreamEntry; ids chosen by Redis, increasing) and SETs the new
// checkpoint — atomically, so the stream and its checkpoint never disagree, whatever
// moment the publisher (or its process) dies at. A process that restarts, loads the
// checkpoint and reads the binlog from checkpoint.position appends every later committed
// change exactly once, in commit order: a transaction at or before the checkpoint is
// skipped, the first rows_done changes of a partially appended one too (Debezium's "GTID +
// events to skip"). An append whose reply was lost (kUnavailable / kDeadlineExceeded: it
// may have run) is simply retried with the same arguments: the script recognises its own
// checkpoint and reports success without appending again. A checkpoint moved by anyone
// else (a second publisher on the same stream) fails the append with kFailedPrecondition
// (reason "checkpoint_moved") and appends nothing — unless the stored checkpoint is the
// very one this append would write (the other publisher appended the same transactions):
// then it appends nothing and reports success. Either way no transaction is appended
// twice, also with two publishers on one stream.
// Durability is Redis's: with appendfsync always, an acknowledged append survives a Redis
// crash; with weaker settings a Redis crash can lose the tail of stream AND checkpoint
// together (the binlog is then re-read from the older checkpoint: still no gap).
//
// Not thread-safe (one publisher per stream and process; it remembers the checkpoint).
class StreamPublisher {
 public:
  // `client` must outlive the publisher. Does no I/O.
  static Result<std::unique_ptr<StreamPublisher>> Create(redis::Client& client, const StreamPublisherOptions& options);
  virtual ~StreamPublisher() = default;

  // Reads the stored checkpoint (nullopt when the key does not exist) and makes it the one
  // appends compare against. Call before the first Publish.
  virtual Result<std::optional<StreamCheckpoint>> Load(const Deadline& deadline) = 0;

  // Stores `position` as the checkpoint if none exists yet (SET NX) and adopts the stored
  // one either way; returns the stored one.
  virtual Result<StreamCheckpoint> Initialize(const GtidPosition& position, const Deadline& deadline) = 0;

  // Appends `txn`'s DDL entries and changes not yet in the stream and advances the
  // checkpoint past it (a transaction without either only advances the checkpoint).
  // Returns the number of row changes and DDL entries appended by this call (0 for a
  // transaction already covered; a multi-row entry counts its rows). On error nothing
  // of the failed chunk is appended (or, for kUnavailable/kDeadlineExceeded, maybe all of
  // it: call again with the same txn, which resolves it). REQUIRES: Load or Initialize
  // succeeded; transactions are passed in binlog order.
  virtual Result<size_t> Publish(const CommittedTransaction& txn, const Deadline& deadline) = 0;

  // Publish for several transactions (in binlog order) with as few scripts as possible:
  // consecutive transactions share an append until it holds max_rows_per_append changes,
  // a larger one is split as in Publish. Each append is atomic with its checkpoint, so a
  // failure leaves a prefix of the transactions in the stream, exactly like a sequence of
  // Publish calls. Returns the entries appended.
  virtual Result<size_t> PublishBatch(const std::vector<const CommittedTransaction*>& txns,
                                      const Deadline& deadline) = 0;

  // Appends a gap entry (EncodeGapEntry: from the checkpoint's position to `resume_at`)
  // and moves the checkpoint to `resume_at` (dropping any partial transaction), in one
  // script like Publish. For a reader whose start position was purged (kDataLoss): the
  // stream says loudly what is missing instead of skipping it. Same errors as Publish.
  virtual Status RecordGap(const GtidPosition& resume_at, std::string_view reason, const Deadline& deadline) = 0;

  // The checkpoint after the last successful call.
  virtual const StreamCheckpoint& checkpoint() const = 0;
  virtual const StreamPublisherOptions& options() const = 0;
};

}  // namespace lockstep::cdc
