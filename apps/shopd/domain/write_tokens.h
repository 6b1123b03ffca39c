#pragma once

#include <string>

#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/thread_annotations.h"

namespace lockstep::sql {
class Pool;
}

namespace shopd::domain {

// Consistency tokens (API.md X-Consistency-Token) for writes whose own commit GTID is not
// at hand: transfers, accounts and orders take theirs from their commit (no extra round
// trip); product writes, and the rare answer that committed nothing binlogged, take the
// primary's current position, which covers every commit that completed before it was
// read. Thread-safe.
class WriteTokens {
 public:
  // `primary` must outlive this object.
  explicit WriteTokens(lockstep::sql::Pool& primary) : primary_(primary) {}

  // The primary's @@gtid_binlog_pos now (one round trip): a token at least as new as every
  // write that completed before the call. Remembered for Last(). Codes as Pool::Acquire /
  // Query; kUnavailable if the primary has no binlog position (binary log off).
  lockstep::Result<std::string> Current(const lockstep::Deadline& deadline) LOCKSTEP_EXCLUDES(mu_);
  // The last token Current() read or Remember() was given; "" before the first. Never
  // blocks (for answers on an I/O thread whose write left nothing in MariaDB yet: a
  // reserved-mode order, which reads find in Redis or on the primary whatever the token).
  std::string Last() const LOCKSTEP_EXCLUDES(mu_);
  void Remember(const std::string& token) LOCKSTEP_EXCLUDES(mu_);

 private:
  lockstep::sql::Pool& primary_;
  mutable lockstep::Mutex mu_;
  std::string last_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace shopd::domain
