#pragma once

#include <string>
#include <string_view>

#include "lockstep/base/result.h"
#include "lockstep/sql/gtid.h"

namespace lockstep::routing {

// Longest text ConsistencyToken::Parse accepts (API.md: at most 256 printable ASCII).
inline constexpr size_t kMaxTokenLength = 256;

// What a read must reflect: the GTID position of a commit on the primary ("0-1-42", or
// one GTID per replication domain, "0-1-42,1-2-7"), as Transaction::CommitWithGtid returns
// it. A server whose applied position covers it (every domain at or past the token's
// sequence number) shows that commit and everything committed before it on the primary
// (gtid_strict_mode keeps sequence numbers increasing per domain). Value type,
// thread-compatible.
class ConsistencyToken {
 public:
  // kInvalidArgument unless `text` is a non-empty GTID position of at most
  // kMaxTokenLength printable ASCII characters ("D-S-N[,D-S-N...]", one entry per domain).
  static Result<ConsistencyToken> Parse(std::string_view text);
  // kInvalidArgument if `position` is empty.
  static Result<ConsistencyToken> FromPosition(sql::GtidPosition position);

  // Canonical text (entries sorted by domain); Parse(ToString()) gives the same token.
  std::string ToString() const { return position_.ToString(); }
  const sql::GtidPosition& position() const { return position_; }

  friend bool operator==(const ConsistencyToken&, const ConsistencyToken&) = default;

 private:
  explicit ConsistencyToken(sql::GtidPosition position) : position_(std::move(position)) {}
  sql::GtidPosition position_;
};

}  // namespace lockstep::routing
