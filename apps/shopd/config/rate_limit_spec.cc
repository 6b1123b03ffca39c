#include "config/rate_limit_spec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace shopd::config {
namespace {

using lockstep::Status;

constexpr double kMaxRate = 1e6;
constexpr int64_t kMaxBurst = 1'000'000'000;

std::string KnownGroups() {
  std::string out;
  for (std::string_view g : kRateLimitGroups) out += (out.empty() ? "" : "|") + std::string(g);
  return out;
}

// A plain decimal: digits with at most one '.', no sign, exponent, hex, inf or nan.
bool PlainDecimal(std::string_view s) {
  if (s.empty() || s == ".") return false;
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots <= 1;
}

}  // namespace

std::string RateLimitSpec::ToString() const {
  std::ostringstream out;
  out << group << "=" << rate << ":" << burst;
  return out.str();
}

lockstep::Result<RateLimitSpec> ParseRateLimit(std::string_view text, std::string_view source) {
  const auto bad = [&](auto&&... why) {
    return Status::InvalidArgument(source, ": '", text, "': ", why..., " (expected GROUP=RATE[:BURST])");
  };
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) return bad("missing '='");
  RateLimitSpec spec;
  spec.group = std::string(text.substr(0, eq));
  if (std::find(kRateLimitGroups.begin(), kRateLimitGroups.end(), spec.group) == kRateLimitGroups.end()) {
    return bad("unknown group '", spec.group, "', one of ", KnownGroups());
  }
  std::string_view rest = text.substr(eq + 1);
  std::string_view rate_text = rest;
  std::string_view burst_text;
  bool has_burst = false;
  if (const size_t colon = rest.find(':'); colon != std::string_view::npos) {
    rate_text = rest.substr(0, colon);
    burst_text = rest.substr(colon + 1);
    has_burst = true;
  }
  if (!PlainDecimal(rate_text)) return bad("rate '", rate_text, "' is not a positive number");
  spec.rate = std::strtod(std::string(rate_text).c_str(), nullptr);
  if (!(spec.rate > 0)) return bad("rate must be > 0");
  if (spec.rate > kMaxRate) return bad("rate must be <= ", static_cast<int64_t>(kMaxRate));
  if (has_burst) {
    int64_t burst = 0;
    const auto [end, ec] = std::from_chars(burst_text.data(), burst_text.data() + burst_text.size(), burst);
    if (burst_text.empty() || ec != std::errc() || end != burst_text.data() + burst_text.size()) {
      return bad("burst '", burst_text, "' is not an integer");
    }
    if (burst < 1) return bad("burst must be >= 1");
    if (burst > kMaxBurst) return bad("burst must be <= ", kMaxBurst);
    spec.burst = burst;
  } else {
    spec.burst = std::max<int64_t>(1, static_cast<int64_t>(std::floor(spec.rate / 10)));
  }
  return spec;
}

lockstep::Result<std::vector<RateLimitSpec>> ParseRateLimits(const std::vector<std::string>& items,
                                                             std::string_view source) {
  std::vector<RateLimitSpec> out;
  for (const std::string& item : items) {
    LOCKSTEP_ASSIGN_OR_RETURN(RateLimitSpec spec, ParseRateLimit(item, source));
    for (const RateLimitSpec& seen : out) {
      if (seen.group == spec.group) {
        return Status::InvalidArgument(source, ": group '", spec.group, "' is limited twice");
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace shopd::config
