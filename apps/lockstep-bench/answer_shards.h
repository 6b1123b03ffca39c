#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"

namespace lockstep::bench {

// The answers of a load run by request_id, sharded by request index so 64 threads that
// record one per request rarely meet on a lock. Thread-safe.
template <typename Ack>
class AnswerShards {
 public:
  void Record(int64_t index, const std::string& rid, Ack ack) {
    Shard& shard = shards_[static_cast<size_t>(index) % shards_.size()];
    MutexLock lock(&shard.mu);
    shard.by_rid[rid] = std::move(ack);
  }
  // Moves every recorded answer into `out` (call once the run is over).
  void MergeInto(std::map<std::string, Ack>& out) {
    for (Shard& shard : shards_) {
      MutexLock lock(&shard.mu);
      out.merge(shard.by_rid);
    }
  }

 private:
  struct Shard {
    Mutex mu;
    std::map<std::string, Ack> by_rid LOCKSTEP_GUARDED_BY(mu);
  };
  std::array<Shard, 64> shards_;
};

}  // namespace lockstep::bench
