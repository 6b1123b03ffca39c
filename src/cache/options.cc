#include "lockstep/cache/options.h"

namespace lockstep::cache {

Status CacheOptions::Validate() const {
  if (name.empty() || name.find(':') != std::string::npos) {
    return Status::InvalidArgument("cache name must be non-empty and contain no ':'");
  }
  if (l1_max_entries < 1) return Status::InvalidArgument("l1_max_entries must be >= 1");
  if (l1_max_bytes < 1) return Status::InvalidArgument("l1_max_bytes must be >= 1");
  if (l1_shards < 1 || l1_shards > 1024) return Status::InvalidArgument("l1_shards must be in 1..1024");
  if (!(ttl_jitter >= 0.0 && ttl_jitter <= 1.0)) return Status::InvalidArgument("ttl_jitter must be in [0, 1]");
  if (loader_budget <= std::chrono::milliseconds::zero()) return Status::InvalidArgument("loader_budget must be > 0");
  if (tombstone_ttl <= loader_budget) {
    return Status::InvalidArgument("tombstone_ttl (", tombstone_ttl.count(), "ms) must exceed loader_budget (",
                                   loader_budget.count(), "ms)");
  }
  // A value or not-found that replaced a tombstone must outlive it, or a stale fill that
  // started before the tombstone could land on an empty key after both expired.
  if (l1_ttl < tombstone_ttl || l2_ttl < tombstone_ttl || negative_ttl < tombstone_ttl) {
    return Status::InvalidArgument("l1_ttl, l2_ttl and negative_ttl must be >= tombstone_ttl");
  }
  if (redis_timeout <= std::chrono::milliseconds::zero()) return Status::InvalidArgument("redis_timeout must be > 0");
  if (staleness_bound <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("staleness_bound must be > 0");
  }
  if (heartbeat_interval <= std::chrono::milliseconds::zero() || heartbeat_interval >= staleness_bound) {
    return Status::InvalidArgument("heartbeat_interval must be > 0 and < staleness_bound");
  }
  if (second_delete_delay < std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("second_delete_delay must be >= 0");
  }
  if (bloom_bits > (uint64_t{1} << 32)) return Status::InvalidArgument("bloom_bits must be <= 2^32 (a Redis bitmap)");
  if (bloom_hashes < 1 || bloom_hashes > 32) return Status::InvalidArgument("bloom_hashes must be in 1..32");
  return Status::Ok();
}

}  // namespace lockstep::cache
