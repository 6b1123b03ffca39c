#include "lockstep/sql/gtid.h"

#include <algorithm>
#include <charconv>

namespace lockstep::sql {
namespace {

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string Gtid::ToString() const {
  return std::to_string(domain_id) + "-" + std::to_string(server_id) + "-" + std::to_string(seq_no);
}

Result<Gtid> Gtid::Parse(std::string_view text) {
  const size_t a = text.find('-');
  const size_t b = a == std::string_view::npos ? a : text.find('-', a + 1);
  Gtid g;
  if (b == std::string_view::npos || !ParseNumber(text.substr(0, a), &g.domain_id) ||
      !ParseNumber(text.substr(a + 1, b - a - 1), &g.server_id) || !ParseNumber(text.substr(b + 1), &g.seq_no)) {
    return Status::InvalidArgument("not a GTID (domain-server-seq): '", text, "'");
  }
  return g;
}

Result<GtidPosition> GtidPosition::Parse(std::string_view text) {
  GtidPosition pos;
  text = Trim(text);
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = Trim(text.substr(0, comma));
    LOCKSTEP_ASSIGN_OR_RETURN(Gtid g, Gtid::Parse(item));
    if (pos.Find(g.domain_id)) return Status::InvalidArgument("GTID position lists domain ", g.domain_id, " twice");
    pos.Advance(g);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (Trim(text).empty()) return Status::InvalidArgument("GTID position ends with ','");
  }
  return pos;
}

std::string GtidPosition::ToString() const {
  std::string out;
  for (const Gtid& g : gtids_) {
    if (!out.empty()) out += ',';
    out += g.ToString();
  }
  return out;
}

std::optional<Gtid> GtidPosition::Find(uint32_t domain_id) const {
  for (const Gtid& g : gtids_) {
    if (g.domain_id == domain_id) return g;
  }
  return std::nullopt;
}

void GtidPosition::Advance(const Gtid& gtid) {
  auto it = std::lower_bound(gtids_.begin(), gtids_.end(), gtid.domain_id,
                             [](const Gtid& g, uint32_t d) { return g.domain_id < d; });
  if (it != gtids_.end() && it->domain_id == gtid.domain_id) {
    *it = gtid;
  } else {
    gtids_.insert(it, gtid);
  }
}

bool GtidPosition::Covers(const Gtid& gtid) const {
  const std::optional<Gtid> mine = Find(gtid.domain_id);
  return mine && gtid.seq_no <= mine->seq_no;
}

bool GtidPosition::Covers(const GtidPosition& other) const {
  for (const Gtid& g : other.gtids_) {
    if (!Covers(g)) return false;
  }
  return true;
}

uint64_t GtidPosition::SeqDistance(const GtidPosition& ahead) const {
  uint64_t distance = 0;
  for (const Gtid& g : ahead.gtids_) {
    const std::optional<Gtid> mine = Find(g.domain_id);
    const uint64_t have = mine ? mine->seq_no : 0;
    if (g.seq_no > have) distance += g.seq_no - have;
  }
  return distance;
}

}  // namespace lockstep::sql
