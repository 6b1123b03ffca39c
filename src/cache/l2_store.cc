#include "cache/l2_store.h"

#include <algorithm>
#include <utility>

#include "cache/bloom.h"
#include "cache/invalidation_bus.h"
#include "cache/l2_scripts.h"

namespace lockstep::cache::internal {

L2Store::L2Store(redis::Client& client, const CacheOptions& options, std::string bus_channel, const Clock& clock,
                 std::unique_ptr<resilience::CircuitBreaker> breaker)
    : client_(client),
      options_(options),
      clock_(clock),
      breaker_(std::move(breaker)),
      key_prefix_(options.key_prefix + options.name + ":"),
      bus_channel_(std::move(bus_channel)),
      bloom_key_(options.key_prefix + options.name + ":~bloom"),
      bloom_ready_key_(options.key_prefix + options.name + ":~bloom_ready") {}

Deadline L2Store::RedisDeadline(const Deadline& outer) const {
  return outer.CappedAt(options_.redis_timeout, clock_);
}

Result<redis::Reply> L2Store::RunScript(const redis::Script& script, const std::vector<std::string>& keys,
                                        const std::vector<std::string>& args, const Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(breaker_->Allow());
  Result<redis::Reply> r = script.Run(client_, keys, args, deadline);
  breaker_->Record(r.ok() ? Status::Ok() : r.status());
  return r;
}

std::vector<std::string> L2Store::BloomArgs(std::string_view key) const {
  std::vector<std::string> args;
  for (uint64_t p : BloomPositions(key, options_.bloom_bits, options_.bloom_hashes)) {
    args.push_back(std::to_string(p));
  }
  return args;
}

Result<L2Entry> L2Store::Read(std::string_view key) {
  std::vector<std::string> keys = {RedisKey(key)};
  std::vector<std::string> args;
  if (options_.bloom_bits > 0) {
    keys.push_back(bloom_key_);
    keys.push_back(bloom_ready_key_);
    args = BloomArgs(key);
  }
  LOCKSTEP_ASSIGN_OR_RETURN(redis::Reply r, RunScript(ReadScript(), keys, args, RedisDeadline()));
  const auto& a = r.array();
  if (a.size() != 5) return Status::Internal("cache read script: unexpected reply ", r.DebugString());
  L2Entry e;
  e.kind = a[0].str();
  const Result<int64_t> sec = a[3].AsInteger();
  const Result<int64_t> usec = a[4].AsInteger();
  if (!sec.ok() || !usec.ok()) return Status::Internal("cache read script: bad TIME ", r.DebugString());
  e.time_us = *sec * 1'000'000 + *usec;
  if (e.kind == "v" || e.kind == "n") {
    const Result<int64_t> version = a[1].AsInteger();
    if (!version.ok()) return Status::Internal("cache entry with bad version ", r.DebugString());
    e.entry.version = *version;
    if (e.kind == "v") e.entry.value = a[2].str();
  }
  return e;
}

Result<FillOutcome> L2Store::Fill(std::string_view key, const Versioned<std::string>& entry,
                                  std::chrono::milliseconds ttl, int64_t load_start_us) {
  const int64_t max_age_us = std::chrono::duration_cast<std::chrono::microseconds>(options_.tombstone_ttl).count();
  LOCKSTEP_ASSIGN_OR_RETURN(
      redis::Reply r,
      RunScript(FillScript(), {RedisKey(key)},
                {entry.found() ? "v" : "n", std::to_string(entry.version), entry.found() ? *entry.value : std::string(),
                 std::to_string(ttl.count()), std::to_string(load_start_us), std::to_string(max_age_us),
                 options_.versioned_fills ? "1" : "0"},
                RedisDeadline()));
  LOCKSTEP_ASSIGN_OR_RETURN(const int64_t code, r.AsInteger());
  // FillScript's codes: 1 stored, 0 same version, -1 newer version, -2 tombstone, -3 too old.
  switch (code) {
    case 1:
      return FillOutcome::kStored;
    case 0:
      return FillOutcome::kSame;
    case -3:
      return FillOutcome::kTooOld;
    default:
      return FillOutcome::kStale;
  }
}

std::vector<std::string> L2Store::InvalidateArgs(const std::vector<std::pair<std::string, int64_t>>& items,
                                                 size_t first, size_t last) const {
  std::vector<std::string> args = {std::to_string(options_.tombstone_ttl.count()), bus_channel_,
                                   options_.versioned_fills ? "1" : "0", options_.l2_enabled ? "1" : "0"};
  args.reserve(4 + 2 * (last - first));
  for (size_t i = first; i < last; ++i) {
    args.push_back(std::to_string(items[i].second));
    args.push_back(InvalidationBus::InvalidationMessage(items[i].first, items[i].second));
  }
  return args;
}

Status L2Store::Invalidate(std::string_view key, int64_t version, const Deadline& deadline) {
  if (!options_.l2_enabled && !options_.l1_enabled) return Status::Ok();
  const std::vector<std::pair<std::string, int64_t>> one = {{std::string(key), version}};
  return RunScript(InvalidateScript(), {RedisKey(key)}, InvalidateArgs(one, 0, 1), RedisDeadline(deadline)).status();
}

Status L2Store::InvalidateMany(const std::vector<std::pair<std::string, int64_t>>& items, const Deadline& deadline) {
  if (!options_.l2_enabled && !options_.l1_enabled) return Status::Ok();
  constexpr size_t kKeysPerScript = 100;
  constexpr size_t kScriptsPerPipeline = 10;
  for (size_t first = 0; first < items.size(); first += kKeysPerScript * kScriptsPerPipeline) {
    std::vector<redis::Script::Call> calls;
    const size_t end = std::min(items.size(), first + kKeysPerScript * kScriptsPerPipeline);
    for (size_t at = first; at < end; at += kKeysPerScript) {
      const size_t last = std::min(end, at + kKeysPerScript);
      redis::Script::Call call;
      call.keys.reserve(last - at);
      for (size_t i = at; i < last; ++i) call.keys.push_back(RedisKey(items[i].first));
      call.args = InvalidateArgs(items, at, last);
      calls.push_back(std::move(call));
    }
    LOCKSTEP_RETURN_IF_ERROR(breaker_->Allow());
    Result<std::vector<Result<redis::Reply>>> replies =
        InvalidateScript().RunPipelined(client_, calls, RedisDeadline(deadline));
    breaker_->Record(replies.ok() ? Status::Ok() : replies.status());
    if (!replies.ok()) return replies.status();
    for (const Result<redis::Reply>& r : *replies) {
      if (!r.ok()) return r.status();
    }
  }
  return Status::Ok();
}

Status L2Store::BloomAdd(std::string_view key, const Deadline& deadline) {
  if (options_.bloom_bits == 0) return Status::FailedPrecondition("cache has no Bloom filter (bloom_bits = 0)");
  return RunScript(BloomAddScript(), {bloom_key_}, BloomArgs(key), RedisDeadline(deadline)).status();
}

Status L2Store::BloomMarkReady(const Deadline& deadline) {
  if (options_.bloom_bits == 0) return Status::FailedPrecondition("cache has no Bloom filter (bloom_bits = 0)");
  LOCKSTEP_RETURN_IF_ERROR(breaker_->Allow());
  const Status s = client_.Set(bloom_ready_key_, "1", RedisDeadline(deadline));
  breaker_->Record(s);
  return s;
}

}  // namespace lockstep::cache::internal
