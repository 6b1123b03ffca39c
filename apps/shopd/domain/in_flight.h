#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"

namespace shopd::domain {

// The request ids this process is executing right now. A duplicate that arrives while the
// original runs waits for it (within the duplicate's own deadline) and then replays its
// recorded outcome; across processes the database's row locks and unique keys serialize
// duplicates instead. Thread-safe.
class InFlight {
 public:
  // Marks (scope, request_id) as running until the returned ticket is destroyed (RAII).
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : owner_(other.owner_), key_(std::move(other.key_)) { other.owner_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket();

   private:
    friend class InFlight;
    Ticket(InFlight* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    InFlight* owner_;
    std::string key_;
  };

  // Waits while another call with the same key runs, then marks it running. Returns
  // kFailedPrecondition with reason "request_in_progress" if the deadline passes first.
  lockstep::Result<Ticket> Enter(std::string_view scope, std::string_view request_id,
                                 const lockstep::Deadline& deadline) LOCKSTEP_EXCLUDES(mu_);
  // The same without waiting: nullopt while another call with the key runs. Never blocks
  // (one short mutex section): usable on an I/O thread.
  std::optional<Ticket> TryEnter(std::string_view scope, std::string_view request_id) LOCKSTEP_EXCLUDES(mu_);

 private:
  void Leave(const std::string& key) LOCKSTEP_EXCLUDES(mu_);

  lockstep::Mutex mu_;
  lockstep::CondVar left_;
  std::map<std::string, int> running_ LOCKSTEP_GUARDED_BY(mu_);  // Value unused (a set with waiters).
};

}  // namespace shopd::domain
