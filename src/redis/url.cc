#include "lockstep/redis/url.h"

#include "lockstep/base/percent_decode.h"

#include <charconv>
#include <string>

namespace lockstep::redis {
namespace {

// `what` names the field in errors; the value itself is never echoed (it may be secret).
Result<std::string> Decode(std::string_view in, std::string_view what) {
  std::optional<std::string> out = lockstep::PercentDecode(in);
  if (!out) return Status::InvalidArgument("redis url: bad or truncated %-escape in ", what);
  return std::move(*out);
}

Result<int> ParseInt(std::string_view s, int min, int max, std::string_view what) {
  int value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value < min || value > max) {
    return Status::InvalidArgument("redis url: ", what, " must be an integer in [", min, ", ", max, "], got '",
                                   s, "'");
  }
  return value;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<RedisOptions> ParseRedisUrl(std::string_view url, const RedisOptions& defaults) {
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("redis url: must start with redis:// (rediss:// is unsupported: no TLS)");
  }
  std::string_view rest = url.substr(kScheme.size());
  RedisOptions options = defaults;
  options.port = 6379;
  options.db = 0;
  options.user.clear();
  options.password.clear();

  // The userinfo ends at the LAST '@' before the path: passwords may contain '@' unescaped.
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      // "redis://secret@host": a lone userinfo is the password (legacy AUTH form).
      LOCKSTEP_ASSIGN_OR_RETURN(options.password, Decode(userinfo, "password"));
    } else {
      LOCKSTEP_ASSIGN_OR_RETURN(options.user, Decode(userinfo.substr(0, colon), "user"));
      LOCKSTEP_ASSIGN_OR_RETURN(options.password, Decode(userinfo.substr(colon + 1), "password"));
    }
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("redis url: unterminated [ in IPv6 host");
    options.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument("redis url: junk after IPv6 host");
      port_text = after.substr(1);
      if (port_text.empty()) return Status::InvalidArgument("redis url: empty port");
    }
  } else {
    const size_t colon = authority.find(':');
    options.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Status::InvalidArgument("redis url: empty port");
    }
  }
  if (options.host.empty()) return Status::InvalidArgument("redis url: empty host");
  if (!port_text.empty()) {
    LOCKSTEP_ASSIGN_OR_RETURN(options.port, ParseInt(port_text, 1, 65535, "port"));
  }
  if (!path.empty()) {
    LOCKSTEP_ASSIGN_OR_RETURN(options.db, ParseInt(path, 0, 1 << 20, "db"));
  }
  return options;
}

Result<std::vector<RedisOptions>> ParseRedisUrlList(std::string_view urls, const RedisOptions& defaults) {
  std::vector<RedisOptions> out;
  if (Trim(urls).empty()) return Status::InvalidArgument("redis url list: empty");
  size_t index = 0;
  while (true) {
    const size_t comma = urls.find(',');
    const std::string_view one = Trim(urls.substr(0, comma));
    if (one.empty()) return Status::InvalidArgument("redis url list: element ", index, " is empty");
    Result<RedisOptions> parsed = ParseRedisUrl(one, defaults);
    if (!parsed.ok()) {
      return std::move(parsed).status().Annotate("redis url list element " + std::to_string(index));
    }
    out.push_back(std::move(parsed).value());
    if (comma == std::string_view::npos) break;
    urls.remove_prefix(comma + 1);
    ++index;
  }
  return out;
}

}  // namespace lockstep::redis
