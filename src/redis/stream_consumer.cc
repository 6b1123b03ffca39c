#include "lockstep/redis/stream_consumer.h"

#include <cstdlib>
#include <exception>
#include <utility>
#include "lockstep/base/thread_name.h"

namespace lockstep::redis {
namespace {

// "<ms>-<seq>" as a pair for ordering; malformed ids order first (never used for trimming).
std::pair<uint64_t, uint64_t> ParseId(const std::string& id) {
  const std::size_t dash = id.find('-');
  if (dash == std::string::npos) return {0, 0};
  return {std::strtoull(id.c_str(), nullptr, 10), std::strtoull(id.c_str() + dash + 1, nullptr, 10)};
}

}  // namespace

Status StreamConsumerOptions::Validate() const {
  if (stream.empty()) return Status::InvalidArgument("StreamConsumerOptions.stream is empty");
  if (group.empty()) return Status::InvalidArgument("StreamConsumerOptions.group is empty");
  if (consumer.empty()) return Status::InvalidArgument("StreamConsumerOptions.consumer is empty");
  if (group_start_id.empty()) return Status::InvalidArgument("StreamConsumerOptions.group_start_id is empty");
  if (batch_size <= 0) return Status::InvalidArgument("StreamConsumerOptions.batch_size must be > 0");
  if (block.count() <= 0) return Status::InvalidArgument("StreamConsumerOptions.block must be > 0");
  if (claim_idle.count() <= 0) return Status::InvalidArgument("StreamConsumerOptions.claim_idle must be > 0");
  if (claim_interval.count() <= 0) return Status::InvalidArgument("StreamConsumerOptions.claim_interval must be > 0");
  if (trim_interval.count() < 0) return Status::InvalidArgument("StreamConsumerOptions.trim_interval must be >= 0");
  if (command_timeout.count() <= 0) return Status::InvalidArgument("StreamConsumerOptions.command_timeout must be > 0");
  return Status::Ok();
}

Result<std::unique_ptr<StreamConsumer>> StreamConsumer::Start(redis::Client& client, StreamConsumerOptions options,
                                                              StreamHandler handler) {
  LOCKSTEP_RETURN_IF_ERROR(options.Validate());
  if (!handler) return Status::InvalidArgument("StreamConsumer: handler is empty");
  LOCKSTEP_RETURN_IF_ERROR(redis::XGroupCreate(client, options.stream, options.group, options.group_start_id,
                                               /*mkstream=*/true, Deadline::After(options.command_timeout)));
  return std::unique_ptr<StreamConsumer>(new StreamConsumer(client, std::move(options), std::move(handler)));
}

StreamConsumer::StreamConsumer(redis::Client& client, StreamConsumerOptions options, StreamHandler handler)
    : client_(client), options_(std::move(options)), handler_(std::move(handler)) {
  thread_ = std::thread([this] {
    SetCurrentThreadName("stream-consume");
    Loop();
  });
}

StreamConsumer::~StreamConsumer() { Stop(); }

void StreamConsumer::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    stop_cv_.SignalAll();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

StreamConsumerStats StreamConsumer::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

bool StreamConsumer::stopping() const {
  MutexLock lock(&mu_);
  return stop_;
}

bool StreamConsumer::SleepFor(Clock::duration d) {
  const Deadline until = Deadline::After(d);
  MutexLock lock(&mu_);
  while (!stop_ && !until.expired()) stop_cv_.WaitUntil(&mu_, until);
  return !stop_;
}

Deadline StreamConsumer::CallDeadline(std::chrono::milliseconds extra) const {
  return Deadline::After(options_.command_timeout + extra);
}

void StreamConsumer::Report(const Status& status, bool redis_error) {
  if (redis_error) {
    MutexLock lock(&mu_);
    ++stats_.redis_errors;
  }
  if (options_.on_error) options_.on_error(status);
}

void StreamConsumer::Loop() {
  Backoff backoff(options_.retry_backoff);
  const Clock& clock = Clock::Real();
  Clock::time_point next_claim = clock.Now();
  Clock::time_point next_trim = clock.Now() + options_.trim_interval;
  while (!stopping()) {
    bool ok = true;
    if (own_pending_) ok = ReadOwnPending();
    if (ok && clock.Now() >= next_claim) {
      ok = Claim();
      next_claim = clock.Now() + options_.claim_interval;
    }
    if (ok && !own_pending_) {
      Result<std::vector<redis::StreamEntry>> read =
          redis::XReadGroup(client_, options_.group, options_.consumer, options_.stream, options_.batch_size,
                            options_.block, CallDeadline(options_.block));
      if (!read.ok()) {
        Report(Status(read.status()).Annotate("stream consumer: XREADGROUP"), true);
        ok = false;
      } else {
        ok = Handle(*read);
      }
    }
    if (options_.trim_interval.count() > 0 && clock.Now() >= next_trim) {
      if (!Trim()) ok = false;
      next_trim = clock.Now() + options_.trim_interval;
    }
    if (ok) {
      backoff.Reset();
    } else if (!SleepFor(backoff.NextDelay())) {
      break;
    }
  }
}

bool StreamConsumer::ReadOwnPending() {
  // Id "0": this consumer's delivered-but-unacked entries, oldest first.
  Result<std::vector<redis::StreamEntry>> read =
      redis::XReadGroup(client_, options_.group, options_.consumer, options_.stream, options_.batch_size,
                        std::chrono::milliseconds(0), CallDeadline(), "0");
  if (!read.ok()) {
    Report(Status(read.status()).Annotate("stream consumer: XREADGROUP 0"), true);
    return false;
  }
  if (read->empty()) {
    own_pending_ = false;
    return true;
  }
  return Handle(*read);  // Success keeps own_pending_: the next round reads the rest.
}

bool StreamConsumer::Claim() {
  std::string cursor = "0-0";
  // Bounded per call so a huge PEL cannot starve new entries; the rest waits a round.
  for (int round = 0; round < 16 && !stopping(); ++round) {
    Result<redis::AutoClaimResult> claimed =
        redis::XAutoClaim(client_, options_.stream, options_.group, options_.consumer, options_.claim_idle, cursor,
                          options_.batch_size, CallDeadline());
    if (!claimed.ok()) {
      Report(Status(claimed.status()).Annotate("stream consumer: XAUTOCLAIM"), true);
      return false;
    }
    if (!claimed->entries.empty()) {
      {
        MutexLock lock(&mu_);
        stats_.entries_claimed += claimed->entries.size();
      }
      // Claimed entries are now in our PEL: on failure they are retried as our own.
      if (!Handle(claimed->entries)) return false;
    }
    cursor = claimed->next_cursor;
    if (cursor == "0-0") break;
  }
  return true;
}

bool StreamConsumer::Handle(std::vector<redis::StreamEntry>& entries) {
  if (entries.empty()) return true;
  // Entries deleted while pending come back with no fields: nothing to handle, just ack.
  std::vector<std::string> ack_ids;
  std::vector<redis::StreamEntry> live;
  live.reserve(entries.size());
  for (redis::StreamEntry& e : entries) {
    if (e.fields.empty()) ack_ids.push_back(e.id);
    else live.push_back(std::move(e));
  }
  uint64_t failures = 0;
  Status whole;
  if (!live.empty()) {
    std::vector<Status> per_entry(live.size());
    try {
      whole = handler_(live, per_entry);
    } catch (const std::exception& e) {
      whole = Status::Internal("stream handler threw: ", e.what());
    } catch (...) {
      whole = Status::Internal("stream handler threw");
    }
    if (per_entry.size() != live.size() && whole.ok()) {
      whole = Status::Internal("stream handler resized per_entry to ", per_entry.size(), " for ", live.size(),
                               " entries");
    }
    if (!whole.ok()) {
      failures = live.size();
      Report(Status(whole).Annotate("stream consumer: handler failed for the batch"), false);
    } else {
      for (std::size_t i = 0; i < live.size(); ++i) {
        if (per_entry[i].ok()) {
          ack_ids.push_back(live[i].id);
        } else {
          ++failures;
          Report(Status(per_entry[i]).Annotate("stream consumer: handler failed for " + live[i].id), false);
        }
      }
    }
    MutexLock lock(&mu_);
    ++stats_.batches;
    stats_.entries_delivered += live.size();
    stats_.handler_failures += failures;
  }
  if (!ack_ids.empty()) {
    Result<int64_t> acked = redis::XAck(client_, options_.stream, options_.group, ack_ids, CallDeadline());
    if (!acked.ok()) {
      // Still pending; redelivered to us (own PEL) or claimed by another consumer.
      Report(Status(acked.status()).Annotate("stream consumer: XACK"), true);
      own_pending_ = true;
      return false;
    }
    MutexLock lock(&mu_);
    stats_.entries_acked += static_cast<uint64_t>(*acked);
  }
  if (failures > 0) {
    own_pending_ = true;
    return false;
  }
  return true;
}

bool StreamConsumer::Trim() {
  // Every consumer group of the stream (XINFO GROUPS): an entry may go only when every
  // group is done with it. In a group, every entry below its oldest pending one was
  // delivered (">" delivers in id order) and is not pending, so it is acked; with nothing
  // pending, everything up to its last-delivered-id is.
  Result<redis::Reply> groups = client_.Command({"XINFO", "GROUPS", options_.stream}, CallDeadline());
  if (!groups.ok()) {
    Report(Status(groups.status()).Annotate("stream consumer: XINFO GROUPS"), true);
    return false;
  }
  std::string min_id;
  auto lower = [&min_id](const std::string& id) {
    if (min_id.empty() || ParseId(id) < ParseId(min_id)) min_id = id;
  };
  for (const redis::Reply& g : groups->array()) {
    std::string name, last_delivered;
    int64_t pending_count = 0;
    const std::vector<redis::Reply>& kv = g.array();
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      const std::string& key = kv[i].str();
      if (key == "name") name = kv[i + 1].str();
      if (key == "last-delivered-id") last_delivered = kv[i + 1].str();
      if (key == "pending" && kv[i + 1].is_integer()) pending_count = kv[i + 1].integer();
    }
    if (name.empty()) continue;
    if (pending_count > 0) {
      Result<redis::PendingSummary> pending = redis::XPendingSummary(client_, options_.stream, name, CallDeadline());
      if (!pending.ok()) {
        Report(Status(pending.status()).Annotate("stream consumer: XPENDING"), true);
        return false;
      }
      if (pending->count > 0) {
        lower(pending->min_id);
        continue;
      }
    }
    if (last_delivered.empty() || last_delivered == "0-0") return true;  // A group that read nothing yet.
    lower(last_delivered);
  }
  if (min_id.empty()) return true;
  Result<int64_t> trimmed = redis::XTrimMinId(client_, options_.stream, min_id, CallDeadline());
  if (!trimmed.ok()) {
    Report(Status(trimmed.status()).Annotate("stream consumer: XTRIM"), true);
    return false;
  }
  MutexLock lock(&mu_);
  ++stats_.trims;
  stats_.trimmed_entries += static_cast<uint64_t>(*trimmed);
  return true;
}

}  // namespace lockstep::redis
