#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/base/result.h"

namespace lockstep::sql {

// GTIDs live in sql (the lowest module that needs them): cdc positions its binlog reader
// with them, routing compares commit tokens with replica positions.

// A MariaDB global transaction id, domain-server-sequence ("0-1-42"). Value type,
// thread-compatible.
struct Gtid {
  uint32_t domain_id = 0;
  uint32_t server_id = 0;
  uint64_t seq_no = 0;

  // "0-1-42".
  std::string ToString() const;
  // Parses "D-S-N" (three decimal numbers); kInvalidArgument otherwise.
  static Result<Gtid> Parse(std::string_view text);

  friend bool operator==(const Gtid&, const Gtid&) = default;
};

// A replication position in MariaDB's GTID form: the last transaction applied per
// replication domain (what @@gtid_binlog_pos prints and @slave_connect_state takes, e.g.
// "0-1-42,1-2-7"). Starting a reader at a position delivers the transactions after it.
// The empty position means "from the oldest binlog the server still has". Value type,
// thread-compatible.
class GtidPosition {
 public:
  GtidPosition() = default;
  // Parses a comma-separated list of GTIDs, at most one per domain ("" is the empty
  // position; spaces around entries are ignored); kInvalidArgument otherwise.
  static Result<GtidPosition> Parse(std::string_view text);

  // Entries sorted by domain, joined by ',' ("" when empty). Parse(ToString()) == *this.
  std::string ToString() const;
  bool empty() const { return gtids_.empty(); }
  const std::vector<Gtid>& gtids() const { return gtids_; }
  // The entry of `domain_id`, if any.
  std::optional<Gtid> Find(uint32_t domain_id) const;
  // Records `gtid` as the last transaction of its domain.
  void Advance(const Gtid& gtid);
  // True when `gtid` is at or before this position's entry of its domain (same domain,
  // sequence number not greater): a transaction already covered by the position.
  bool Covers(const Gtid& gtid) const;
  // True when every entry of `other` is covered (see above): a server at this position has
  // applied everything `other` names. An empty `other` is covered; a domain this position
  // lacks is not.
  bool Covers(const GtidPosition& other) const;
  // How many transactions this position lacks to cover `ahead`: the sum over `ahead`'s
  // domains of max(0, its sequence number - ours), a missing domain counting from 0.
  uint64_t SeqDistance(const GtidPosition& ahead) const;

  friend bool operator==(const GtidPosition&, const GtidPosition&) = default;

 private:
  std::vector<Gtid> gtids_;  // Sorted by domain_id, one per domain.
};

}  // namespace lockstep::sql
