#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client/client.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "targets.h"

namespace lockstep::bench {

// The idempotency checks of a load run of POSTs that carry a request_id (transfers,
// flashsale): request i with i % duplicate_every == 1 is sent twice at once (the twin on
// its own connection to the next endpoint), and request i with i % replay_every == 0 is
// sent again after its answer. Both copies must answer the same status and body, and the
// replay must carry "Idempotent-Replay: true"; answers >= 500 and transport errors are not
// compared. Counts the mismatches and keeps the first five as examples. Thread-safe.
class IdempotencyProbe {
 public:
  // `endpoints` must outlive the probe. 0 for `replay_every` / `duplicate_every` = never.
  IdempotencyProbe(const std::vector<Endpoint>& endpoints, std::string headers, int replay_every,
                   int duplicate_every);

  // POSTs `body` to `target` on `client` (thread `thread_index`'s connection), and its
  // concurrent twin when `index` is a duplicate index. Returns the answer on `client`.
  Result<http_client::Response> Send(int thread_index, int64_t index, http_client::Client& client, std::string_view target,
                            const std::string& rid, std::string_view body, const Deadline& deadline);

  // When `index` is a replay index and `first` (the answer Send returned) is below 500:
  // POSTs the same request again on `client` and compares.
  void Replay(int64_t index, http_client::Client& client, std::string_view target, const std::string& rid,
              std::string_view body, const Deadline& deadline, const http_client::Response& first);

  // Counts `what` as a replay mismatch (flashsale: a 201 without an order id).
  void NoteReplayMismatch(std::string what) LOCKSTEP_EXCLUDES(mu_);

  int64_t replay_mismatches() const { return replay_mismatches_.load(); }
  int64_t duplicate_mismatches() const { return duplicate_mismatches_.load(); }

  // Sets "replay_mismatches" and "duplicate_mismatches" of a run's summary `j`.
  void AddCounts(nlohmann::json& j) const;

  // Appends the examples, then "N replay mismatches" and "N duplicate mismatches" when
  // there were any. Call after the load run.
  void AddViolations(std::vector<std::string>& violations) const LOCKSTEP_EXCLUDES(mu_);

 private:
  void Note(std::atomic<int64_t>& counter, std::string what) LOCKSTEP_EXCLUDES(mu_);

  const std::vector<Endpoint>& endpoints_;
  const std::string headers_;
  const int replay_every_;
  const int duplicate_every_;
  // Counters apart from mu_: read for the summary without the examples.
  std::atomic<int64_t> replay_mismatches_{0};
  std::atomic<int64_t> duplicate_mismatches_{0};
  mutable Mutex mu_;
  std::vector<std::string> examples_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace lockstep::bench
