#include "lockstep/sql/url.h"

#include "lockstep/base/percent_decode.h"

#include <charconv>
#include <string>

namespace lockstep::sql {
namespace {

// Percent-decodes `in`; kInvalidArgument names `what` (never echoes the value: it may be
// the password).
Result<std::string> Decode(std::string_view in, const char* what) {
  std::optional<std::string> out = PercentDecode(in);
  if (!out) return Status::InvalidArgument("mysql url: bad or truncated percent escape in ", what);
  return std::move(*out);
}

}  // namespace

Result<ConnectionOptions> ParseMysqlUrl(std::string_view url) {
  std::string_view rest;
  if (url.rfind("mysql://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("mariadb://", 0) == 0) {
    rest = url.substr(10);
  } else {
    return Status::InvalidArgument("mysql url: must start with mysql:// or mariadb://");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Status::InvalidArgument("mysql url: query parameters and fragments are not supported");
  }
  ConnectionOptions options;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    LOCKSTEP_ASSIGN_OR_RETURN(options.database, Decode(rest.substr(slash + 1), "database"));
    if (options.database.find('/') != std::string::npos) {
      return Status::InvalidArgument("mysql url: database name contains '/'");
    }
  }
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return Status::InvalidArgument("mysql url: missing user (user@host)");
  std::string_view userinfo = authority.substr(0, at);
  std::string_view hostport = authority.substr(at + 1);
  const size_t colon = userinfo.find(':');
  LOCKSTEP_ASSIGN_OR_RETURN(options.user, Decode(userinfo.substr(0, colon), "user"));
  if (colon != std::string_view::npos) {
    LOCKSTEP_ASSIGN_OR_RETURN(options.password, Decode(userinfo.substr(colon + 1), "password"));
  }
  if (options.user.empty()) return Status::InvalidArgument("mysql url: empty user");
  std::string_view port_text;
  if (!hostport.empty() && hostport.front() == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("mysql url: unterminated [ in host");
    options.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument("mysql url: junk after ] in host");
      port_text = after.substr(1);
      if (port_text.empty()) return Status::InvalidArgument("mysql url: empty port");
    }
  } else {
    const size_t pc = hostport.rfind(':');
    options.host = std::string(hostport.substr(0, pc));
    if (pc != std::string_view::npos) port_text = hostport.substr(pc + 1);
  }
  if (options.host.empty()) return Status::InvalidArgument("mysql url: empty host");
  if (port_text.empty() && hostport.find(':') != std::string_view::npos && hostport.front() != '[') {
    return Status::InvalidArgument("mysql url: empty port");
  }
  if (!port_text.empty()) {
    int port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 1 || port > 65535) {
      return Status::InvalidArgument("mysql url: bad port '", port_text, "' (want 1..65535)");
    }
    options.port = port;
  }
  return options;
}

}  // namespace lockstep::sql
