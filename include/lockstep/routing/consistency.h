#pragma once

#include <chrono>
#include <optional>

#include "lockstep/routing/consistency_token.h"

namespace lockstep::routing {

// How fresh one read must be. Value type, thread-compatible.
//   Primary()          the primary answers.
//   MaxStaleness(N)    the answer reflects every commit that completed on the primary more
//                      than N before the read was routed (N = 0: the primary answers).
//   AtLeast(token)     the answer reflects the commit the token came from and everything
//                      committed before it on the primary (read-your-writes).
class Consistency {
 public:
  enum class Kind { kPrimary, kMaxStaleness, kAtLeast };

  static Consistency Primary() { return Consistency(Kind::kPrimary, std::chrono::milliseconds(0), std::nullopt); }
  // A negative bound counts as 0.
  static Consistency MaxStaleness(std::chrono::milliseconds bound) {
    return Consistency(Kind::kMaxStaleness, bound < std::chrono::milliseconds(0) ? std::chrono::milliseconds(0) : bound,
                       std::nullopt);
  }
  static Consistency AtLeast(ConsistencyToken token) {
    return Consistency(Kind::kAtLeast, std::chrono::milliseconds(0), std::move(token));
  }

  Kind kind() const { return kind_; }
  std::chrono::milliseconds max_staleness() const { return max_staleness_; }  // kMaxStaleness only.
  const ConsistencyToken& token() const { return *token_; }                   // REQUIRES: kAtLeast.

 private:
  Consistency(Kind kind, std::chrono::milliseconds bound, std::optional<ConsistencyToken> token)
      : kind_(kind), max_staleness_(bound), token_(std::move(token)) {}
  Kind kind_;
  std::chrono::milliseconds max_staleness_;
  std::optional<ConsistencyToken> token_;
};

}  // namespace lockstep::routing
