#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "lockstep/base/mutex.h"
#include "lockstep/redis/client.h"
#include "redis/hiredis_conn.h"

namespace lockstep::redis::internal {

// The Client implementation: a bounded LIFO pool of blocking hiredis contexts. Thread-safe.
// A context is used by one call at a time; it goes back to the pool only after a clean
// round trip, otherwise it is closed (hiredis cannot resume after an error or a timeout).
class HiredisClient final : public Client {
 public:
  // `breaker` may be null (no RedisOptions::breaker).
  HiredisClient(RedisOptions options, std::unique_ptr<CircuitBreaker> breaker);
  ~HiredisClient() override;

  Result<Reply> Execute(const std::vector<std::string_view>& argv, const Deadline& deadline) override;
  Result<std::vector<Result<Reply>>> ExecutePipeline(const std::vector<std::vector<std::string_view>>& commands,
                                                     const Deadline& deadline) override;
  ClientStats stats() const override;
  const RedisOptions& options() const override { return options_; }

 private:
  // Infinite -> now + command_timeout.
  Deadline Effective(const Deadline& deadline) const;
  // An idle live context, or a new one while open_ < pool_size, waiting until the deadline.
  // A failed connect is reported to the breaker as a failure.
  Result<ContextPtr> Acquire(const Deadline& deadline) LOCKSTEP_EXCLUDES(mu_);
  // Before waiting for a connection: an open breaker fails the call at once (no probe slot
  // taken). OK without a breaker.
  Status CheckBreaker();
  // The breaker's verdict for one network step (OK without a breaker), and its outcome.
  Status Admit();
  void Report(const Status& outcome);
  // Returns a healthy context to the pool, or closes a broken one (`cause` non-OK).
  void Release(ContextPtr context, const Status& cause) LOCKSTEP_EXCLUDES(mu_);
  void ReportCall(const Status& status, Clock::time_point start) const;

  const RedisOptions options_;
  const std::unique_ptr<CircuitBreaker> breaker_;  // Null without options_.breaker; thread-safe.
  mutable Mutex mu_;
  CondVar released_;  // Signalled when a context becomes idle or a slot frees up.
  std::vector<ContextPtr> idle_ LOCKSTEP_GUARDED_BY(mu_);
  int open_ LOCKSTEP_GUARDED_BY(mu_) = 0;  // Idle + in use + being connected.
  uint64_t connects_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  uint64_t discarded_ LOCKSTEP_GUARDED_BY(mu_) = 0;
};

}  // namespace lockstep::redis::internal
