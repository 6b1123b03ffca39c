#pragma once

#include <string>
#include <string_view>

#include "lockstep/base/result.h"

namespace shopd::config {

// A service URL as shopd accepts it: scheme://[user[:password]@]host[:port][/path].
// Value type, thread-compatible.
struct ServiceUrl {
  std::string scheme;
  std::string user;
  std::string password;
  bool has_password = false;
  std::string host;  // IPv6 literals keep their brackets: "[::1]".
  int port = 0;      // 0 = not given.
  std::string path;  // Without the leading '/', e.g. the database name "shop".
};

// Parses `url`, requiring `scheme` ("mysql", "redis"). The password may contain '@' (the
// last '@' before the host ends the user info). kInvalidArgument with a message that
// never contains the password.
lockstep::Result<ServiceUrl> ParseServiceUrl(std::string_view url, std::string_view scheme);

// Back to text. `redact` prints a present password as "***".
std::string FormatServiceUrl(const ServiceUrl& url, bool redact = false);

// `url` with its password replaced by "***"; "<invalid url>" if it does not parse.
std::string RedactUrl(std::string_view url);

}  // namespace shopd::config
