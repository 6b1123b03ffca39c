#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/cache/versioned.h"

namespace lockstep::cache::internal {

// One load per key in flight (userver ExpirableLruCache-style single-flight). The first
// caller of Join leads and must call Finish; later callers Wait for its result. Detach
// forgets the key's flight (after an invalidation), so the next Join leads a fresh load
// while callers already waiting still get the old flight's result. Thread-safe.
class SingleFlight {
 public:
  using Value = Result<Versioned<std::string>>;

  class Flight {
   public:
    Flight() = default;

   private:
    friend class SingleFlight;
    Mutex mu_;
    CondVar cv_;
    std::optional<Value> result_ LOCKSTEP_GUARDED_BY(mu_);
  };

  // The key's flight and whether the caller leads it.
  std::pair<std::shared_ptr<Flight>, bool> Join(std::string_view key) LOCKSTEP_EXCLUDES(mu_);
  // Publishes the leader's result to every waiter and forgets the flight.
  void Finish(std::string_view key, const std::shared_ptr<Flight>& flight, const Value& result)
      LOCKSTEP_EXCLUDES(mu_);
  void Detach(std::string_view key) LOCKSTEP_EXCLUDES(mu_);
  // The flight's result, or kDeadlineExceeded.
  static Value Wait(Flight& flight, const Deadline& deadline);

 private:
  Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace lockstep::cache::internal
