#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/redis/client.h"

// Typed helpers for Redis Streams over a Client. All are thread-safe (they only call the
// Client) and return the Client's error codes (see client.h) plus those listed.
namespace lockstep::redis {

using StreamFields = std::vector<std::pair<std::string, std::string>>;

struct StreamEntry {
  std::string id;       // "<ms>-<seq>".
  StreamFields fields;  // In insertion order; binary-safe.
};

struct XAddOptions {
  std::string id = "*";                // Explicit id or "*" (server-generated).
  std::optional<int64_t> max_len;      // MAXLEN trim after the add.
  std::optional<std::string> min_id;   // MINID trim after the add (exclusive with max_len).
  bool approximate_trim = true;        // "~": cheaper, may keep a few more entries.
  bool no_mkstream = false;            // NOMKSTREAM: do not create a missing stream.
};

// XADD: the new entry's id. kInvalidArgument for no fields, or both max_len and min_id.
// With no_mkstream and a missing stream: kNotFound.
Result<std::string> XAdd(Client& client, std::string_view stream, const StreamFields& fields,
                         const Deadline& deadline, const XAddOptions& options = {});

// XGROUP CREATE stream group start_id [MKSTREAM]. A group that already exists (BUSYGROUP)
// is OK, so this is idempotent; its position is left unchanged. Without mkstream a
// missing stream gives kNotFound (reason "no_such_key").
Status XGroupCreate(Client& client, std::string_view stream, std::string_view group,
                    std::string_view start_id, bool mkstream, const Deadline& deadline);

// XREADGROUP GROUP group consumer COUNT count [BLOCK ms] STREAMS stream id. `id` ">" reads
// new entries; "0" re-reads this consumer's pending ones (deleted entries come back with
// no fields). `block` > 0 waits for entries, bounded by the deadline (the block is cut so
// the reply arrives before the deadline; too little time left = no BLOCK). Returns an
// empty vector when nothing arrived. Missing group: kNotFound reason "nogroup".
// REQUIRES: count > 0.
Result<std::vector<StreamEntry>> XReadGroup(Client& client, std::string_view group,
                                            std::string_view consumer, std::string_view stream,
                                            int64_t count, std::chrono::milliseconds block,
                                            const Deadline& deadline, std::string_view id = ">");

// XACK: how many of `ids` were pending and are now acknowledged.
Result<int64_t> XAck(Client& client, std::string_view stream, std::string_view group,
                     const std::vector<std::string>& ids, const Deadline& deadline);

struct AutoClaimResult {
  std::string next_cursor;               // "0-0" when the scan is complete.
  std::vector<StreamEntry> entries;      // Now owned by the claiming consumer.
  std::vector<std::string> deleted_ids;  // Pending ids whose entries were deleted (Redis 7+;
                                         // removed from the PEL by the server).
};

// XAUTOCLAIM stream group consumer min_idle start COUNT count: claims pending entries idle
// for at least `min_idle` (e.g. from a dead consumer). Start with "0-0" and continue with
// next_cursor. REQUIRES: count > 0.
Result<AutoClaimResult> XAutoClaim(Client& client, std::string_view stream, std::string_view group,
                                   std::string_view consumer, std::chrono::milliseconds min_idle,
                                   std::string_view start, int64_t count, const Deadline& deadline);

struct PendingSummary {
  int64_t count = 0;                                   // Entries delivered, not acked.
  std::string min_id, max_id;                          // Empty when count == 0.
  std::vector<std::pair<std::string, int64_t>> consumers;  // Consumer -> pending count.
};

// XPENDING stream group (summary form).
Result<PendingSummary> XPendingSummary(Client& client, std::string_view stream, std::string_view group,
                                       const Deadline& deadline);

// XTRIM stream MINID [~] min_id: the number of entries removed.
Result<int64_t> XTrimMinId(Client& client, std::string_view stream, std::string_view min_id,
                           const Deadline& deadline, bool approximate = false);

// XLEN: entries in the stream (0 when missing).
Result<int64_t> XLen(Client& client, std::string_view stream, const Deadline& deadline);

}  // namespace lockstep::redis
